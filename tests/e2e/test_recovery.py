"""Run complaint recovery end to end on the real stack with the seconds-scale policy.

complaint → no acknowledgement → escalation → acknowledgement → resolution → guest asked (through Rasa's
trigger_intent, by the scheduler process) → "still broken" → reopened and escalated → resolved again →
"yes, thanks" → closed. Staff actions call crm_store directly, as the Telegram staff desk will.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.rasa_client import RasaClient
from bot.supervisor import REPO, start_all, wait_ready
from crm_store import model
from crm_store.clock import SystemClock
from crm_store.db import make_session_factory
from crm_store.recovery_policy import load_policy
from crm_store.services import cases
from crm_store.unit_of_work import SqlUnitOfWork

from .domain_text import names_of, response_name

pytestmark = pytest.mark.e2e

GUEST = "cli:e2e-rita"
WAIT_S = 45


@pytest.fixture()
async def rasa(stack):
    """Yield a REST client for the running Rasa server (restarting Rasa if an earlier test stopped it)."""
    child = next(c for c in stack.children if c.name == "rasa")
    if child.process is None or child.process.poll() is not None:
        start_all([child], stack.env, announce=False)
        assert wait_ready(stack.health_url, stack.children, 240), "Rasa did not come back"
    async with RasaClient(stack.settings.rasa_url, stack.settings.rasa_token) as client:
        yield client


def rows(stack, statement) -> list[Any]:
    """Run a select against the CRM database."""
    with stack.crm.connect() as conn:
        return list(conn.execute(statement).all())


async def eventually(fetch: Callable[[], Any], what: str, stack, timeout: float = WAIT_S) -> Any:
    """Poll ``fetch`` until it returns something truthy; fail with the scheduler log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        await asyncio.sleep(0.3)
    log = stack.log_dir / "scheduler.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no scheduler log)"
    pytest.fail(f"timed out waiting for {what}\n--- scheduler log\n{tail}")


def events(stack, complaint_id: int) -> list[Any]:
    """Return the complaint's audit trail."""
    return rows(stack, select(model.ComplaintEvent).where(model.ComplaintEvent.complaint_id == complaint_id)
                .order_by(model.ComplaintEvent.id))


def staff_alerts(stack, reference: str) -> list[tuple[str, str]]:
    """Return (event, recipient rung) of the staff outbox rows about ``reference``."""
    return [(m.body.get("event"), m.recipient) for m in rows(
        stack, select(model.OutboundMessage).where(model.OutboundMessage.channel == "staff")
        .order_by(model.OutboundMessage.id)) if m.body.get("reference") == reference]


def guest_outbox(stack, source: str) -> list[Any]:
    """Return the guest outbox rows written for follow-up ``source``."""
    return [m for m in rows(stack, select(model.OutboundMessage).where(model.OutboundMessage.channel == "cli"))
            if m.body.get("source") == source]


def complaint_row(stack, reference: str) -> Any:
    """Return the complaint row."""
    [row] = rows(stack, select(model.Complaint).where(model.Complaint.reference == reference))
    return row


async def test_recovery_escalates_reopens_and_closes_only_when_the_guest_confirms(stack, rasa):
    policy = load_policy(REPO / "examples" / "policy-fast.yml", timezone_name=stack.settings.hotel_timezone)
    sessions = make_session_factory(stack.crm)
    clock = SystemClock()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    # The guest complains.
    assert names_of(await rasa.send_message(GUEST, "the shower in my room is broken")) == ["utter_ask_room_number"]
    assert names_of(await rasa.send_message(GUEST, "412"))[0] == "utter_complaint_logged"
    [identity] = rows(stack, select(model.ChannelIdentity).where(model.ChannelIdentity.external_id == "e2e-rita"))
    [complaint] = rows(stack, select(model.Complaint).where(model.Complaint.guest_id == identity.guest_id))
    ref = complaint.reference
    assert policy.rung(complaint.category, complaint.severity, 0) == "front_desk"

    # Nobody acknowledges: the scheduler escalates one rung and tells the duty manager.
    await eventually(lambda: [e for e in events(stack, complaint.id) if e.kind == "escalated"],
                     "the SLA escalation", stack)
    escalation = next(e for e in events(stack, complaint.id) if e.kind == "escalated")
    assert (escalation.actor, escalation.detail["to_rung"]) == ("scheduler", "duty_manager")
    await eventually(lambda: ("escalated", "duty_manager") in staff_alerts(stack, ref), "the staff alert", stack)

    # Staff acknowledge and resolve; the scheduler asks the guest through Rasa.
    cases.acknowledge(uow(), clock, policy, ref, actor="staff:e2e")
    cases.resolve(uow(), clock, policy, ref, actor="staff:e2e", gesture="complimentary_drink")
    [ask] = await eventually(lambda: guest_outbox(stack, f"recovery-ask:{ref}:0"), "the first guest follow-up", stack)
    assert ask.recipient == "e2e-rita" and ask.status == model.OutboundStatus.PENDING
    assert response_name(ask.body["text"]) == "utter_recovery_ask" and ref in ask.body["text"]
    assert [b["payload"] for b in ask.body["buttons"]] == ["/affirm", "/deny"]

    # "Still broken": reopened, one rung up, staff told.
    replies = await rasa.send_message(GUEST, "no, it's still broken")
    assert names_of(replies) == ["utter_recovery_reopened"]
    row = complaint_row(stack, ref)
    assert (row.status, row.escalation_level) == (model.ComplaintStatus.REOPENED, 2)
    assert policy.rung(row.category, row.severity, row.escalation_level) == "general_manager"
    kinds = [e.kind for e in events(stack, complaint.id)]
    assert kinds[kinds.index("reopened"):][:2] == ["reopened", "escalated"]
    await eventually(lambda: ("reopened", "general_manager") in staff_alerts(stack, ref), "the reopen alert", stack)

    # Resolved again; the guest is asked again and confirms.
    cases.acknowledge(uow(), clock, policy, ref, actor="staff:gm")
    cases.resolve(uow(), clock, policy, ref, actor="staff:gm")
    await eventually(lambda: guest_outbox(stack, f"recovery-ask:{ref}:1"), "the second guest follow-up", stack)
    replies = await rasa.send_message(GUEST, "yes, thanks")
    assert names_of(replies) == ["utter_recovery_confirmed"]
    assert complaint_row(stack, ref).status == model.ComplaintStatus.CONFIRMED
    await eventually(lambda: ("resolved_confirmed", "general_manager") in staff_alerts(stack, ref),
                     "the confirmation notice", stack)
    trail = [e.kind for e in events(stack, complaint.id)]
    assert trail[0] == "opened" and trail[-1] == "confirmed"
    assert trail.count("guest_asked") == 2 and "gesture_chosen" in trail
