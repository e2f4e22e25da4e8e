"""Run the recovery actions against a real SQLite CRM: slot from the trigger, confirm, reopen, refuse."""

from __future__ import annotations

from sqlalchemy import select

from actions import names
from actions.recovery import ActionConfirmFixed, ActionRecoveryCheck, ActionReopenCase
from crm_store import model
from crm_store.services import cases
from crm_store.services.complaints import open_complaint
from rasa_sdk.executor import CollectingDispatcher

from .conftest import DOMAIN, make_tracker, message, responses


async def run(action, tracker):
    """Run an action and return (dispatcher, events)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


def resolved_case(deps, sender=("cli", "anna")) -> str:
    """Open and resolve a complaint for the guest behind ``sender``; return its reference."""
    ref = open_complaint(deps.uow(), deps.clock, deps.policy, *sender, category="maintenance", severity="medium",
                         room="412", description="the shower is broken").reference
    cases.resolve(deps.uow(), deps.clock, deps.policy, ref, actor="staff:bo")
    return ref


def status(engine, ref):
    with engine.connect() as conn:
        return conn.execute(select(model.Complaint.status).where(model.Complaint.reference == ref)).scalar_one()


async def test_recovery_check_sets_reference_slot_from_trigger_entity():
    tracker = make_tracker(intent="EXTERNAL_recovery_check",
                           entities=[{"entity": "recovery_reference", "value": "c-7kq4zp"}])
    dispatcher, events = await run(ActionRecoveryCheck(), tracker)
    assert responses(dispatcher) == []
    assert [(e["name"], e["value"]) for e in events] == [("complaint_reference", "C-7KQ4ZP")]


async def test_recovery_check_without_entity_sets_nothing():
    _, events = await run(ActionRecoveryCheck(), make_tracker(intent="EXTERNAL_recovery_check"))
    assert events == []


async def test_confirm_fixed_closes_the_case_and_thanks(crm):
    deps, engine = crm
    ref = resolved_case(deps)
    tracker = make_tracker(intent="affirm", slots={"complaint_reference": ref})
    dispatcher, _ = await run(ActionConfirmFixed(), tracker)
    assert message(dispatcher, names.UTTER_RECOVERY_CONFIRMED)["complaint_reference"] == ref
    assert status(engine, ref) == "confirmed"


async def test_reopen_case_escalates_and_clears_the_description(crm):
    deps, engine = crm
    ref = resolved_case(deps)
    tracker = make_tracker(intent="complain", text="still broken",
                           slots={"complaint_reference": ref, "complaint_description": "still broken"})
    dispatcher, events = await run(ActionReopenCase(), tracker)
    assert message(dispatcher, names.UTTER_RECOVERY_REOPENED)["complaint_reference"] == ref
    assert status(engine, ref) == "reopened"
    assert ("complaint_description", None) in [(e["name"], e["value"]) for e in events]
    assert cases.get_case(deps.uow(), deps.policy, ref).rung == "duty_manager"


async def test_confirm_someone_elses_case_is_refused_gracefully(crm):
    deps, engine = crm
    ref = resolved_case(deps, sender=("cli", "bob"))
    tracker = make_tracker(sender_id="cli:anna", intent="affirm", slots={"complaint_reference": ref})
    dispatcher, _ = await run(ActionConfirmFixed(), tracker)
    assert responses(dispatcher) == [names.UTTER_RECOVERY_UNKNOWN]
    assert status(engine, ref) == "resolved"


async def test_reopen_without_reference_is_refused_gracefully(crm):
    dispatcher, _ = await run(ActionReopenCase(), make_tracker(intent="deny"))
    assert responses(dispatcher) == [names.UTTER_RECOVERY_UNKNOWN]


async def test_confirm_open_case_is_refused_gracefully(crm):
    deps, engine = crm
    ref = open_complaint(deps.uow(), deps.clock, deps.policy, "cli", "anna", category="noise", severity="low",
                         room="101", description="loud music").reference
    dispatcher, _ = await run(ActionConfirmFixed(), make_tracker(intent="affirm", slots={"complaint_reference": ref}))
    assert responses(dispatcher) == [names.UTTER_RECOVERY_UNKNOWN]
    assert status(engine, ref) == "open"
