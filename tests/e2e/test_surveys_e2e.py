"""Run the post-stay survey and the in-stay pulse check end to end on the real stack (seconds-scale policy).

Survey: a signed PMS check-out of a guest with a linked chat → the scheduler process invites the guest
through Rasa (EXTERNAL_survey_invite; the messages land in the outbox) → the guest answers over REST with
a detractor score (each answer kept as it is given) → staff receive the case card and the feedback alert,
and a recovery case with its SLA clock exists. Pulse: a signed check-in of a three-night stay → "How is
everything so far?" → a score of 1 → staff are alerted while the guest is in the hotel.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.pms_webhook import sign
from bot.rasa_client import RasaClient
from bot.supervisor import start_all, wait_ready
from crm_store import model
from crm_store.clock import SystemClock
from crm_store.db import make_session_factory
from crm_store.services.identity import link_by_reservation
from crm_store.unit_of_work import SqlUnitOfWork

from .domain_text import names_of, response_name

pytestmark = pytest.mark.e2e

WAIT_S = 60


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
    """Poll ``fetch`` until it returns something truthy; fail with the scheduler and bot logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        await asyncio.sleep(0.3)
    logs = []
    for name in ("scheduler", "actions", "bot"):
        path = stack.log_dir / f"{name}.log"
        logs.append(f"--- {name}\n" + (path.read_text(errors="replace")[-2500:] if path.exists() else "(no log)"))
    pytest.fail(f"timed out waiting for {what}\n" + "\n".join(logs))


async def post_pms(stack, event_type: str, reference: str, arrival: str, departure: str, name: str) -> dict:
    """POST one signed PMS event to the stack's ops port; return the JSON answer (asserting 200)."""
    body = json.dumps({
        "event_id": f"{reference}-{event_type}-{time.time_ns()}",
        "sent_at": datetime.now(timezone.utc).isoformat(),
        "type": event_type,
        "reservation": {"reference": reference, "guest": {"name": name, "language": "en"}, "room": "512",
                        "arrival": arrival, "departure": departure},
    }).encode()
    headers = {"Content-Type": "application/json", "X-PMS-Signature": sign(stack.settings.pms_webhook_secret, body)}
    url = f"http://127.0.0.1:{stack.settings.ops_port}/pms/events"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        answer = await response.json()
        assert response.status == 200, answer
        return answer


def link(stack, external_id: str, reference: str) -> None:
    """Link the chat cli:<external_id> to the reservation's guest, as /start <reference> does."""
    result = link_by_reservation(SqlUnitOfWork(make_session_factory(stack.crm)), SystemClock(), "cli",
                                 external_id, reference)
    assert result.linked, result


def guest_outbox(stack, external_id: str, source: str) -> list[Any]:
    """Return the guest outbox rows for cli:<external_id> written by follow-up ``source``."""
    return [m for m in rows(stack, select(model.OutboundMessage).where(
        model.OutboundMessage.channel == "cli", model.OutboundMessage.recipient == external_id)
        .order_by(model.OutboundMessage.id)) if m.body.get("source") == source]


def staff_rows(stack) -> list[Any]:
    """Return the staff outbox rows, oldest first."""
    return rows(stack, select(model.OutboundMessage).where(model.OutboundMessage.channel == "staff")
                .order_by(model.OutboundMessage.id))


def followup(stack, key: str) -> Any:
    """Return the follow-up with ``key`` (or None)."""
    found = rows(stack, select(model.FollowUp).where(model.FollowUp.idempotency_key == key))
    return found[0] if found else None


async def test_survey_check_out_invites_and_detractor_reaches_staff_with_a_recovery_case(stack, rasa):
    today = datetime.now(timezone.utc).date()
    ref, external_id = "E2E-SURVEY-1", "e2e-sam"
    guest = f"cli:{external_id}"
    await post_pms(stack, "reservation", ref, str(today - timedelta(days=2)), str(today), "Sam Ortiz")
    link(stack, external_id, ref)
    answer = await post_pms(stack, "check_out", ref, str(today - timedelta(days=2)), str(today), "Sam Ortiz")
    assert answer["stay_status"] == "checked_out"
    due = datetime.fromisoformat(answer["survey_due_at"])
    assert due - datetime.now(timezone.utc) < timedelta(seconds=5)  # policy-fast: within seconds

    # The scheduler process invites the guest through Rasa; the messages wait in the outbox.
    invitation = await eventually(lambda: guest_outbox(stack, external_id, f"survey:{ref}"), "the invitation", stack)
    assert [response_name(m.body["text"]) for m in invitation] == ["utter_survey_intro", "utter_ask_survey_nps"]
    assert len(invitation[-1].body["buttons"]) == 11
    assert followup(stack, f"survey:{ref}").payload["result"] == "sent"
    assert followup(stack, f"survey-reminder:{ref}").status == model.FollowUpStatus.PENDING

    # The guest answers a detractor score: it is kept at once, and the reminder is called off.
    assert names_of(await rasa.send_message(guest, '/inform{"score":"3"}')) == ["utter_ask_survey_service"]
    [draft] = rows(stack, select(model.SurveyResponse).join(
        model.ChannelIdentity, model.ChannelIdentity.guest_id == model.SurveyResponse.guest_id)
        .where(model.ChannelIdentity.external_id == external_id))
    assert (draft.nps, draft.completed) == (3, False)
    assert followup(stack, f"survey-reminder:{ref}").status == model.FollowUpStatus.CANCELLED
    for score, next_question in (("2", "utter_ask_survey_facilities"), ("3", "utter_ask_survey_cleanliness"),
                                 ("2", "utter_ask_survey_value"), ("3", "utter_ask_survey_comment")):
        assert names_of(await rasa.send_message(guest, f'/inform{{"score":"{score}"}}')) == [next_question]
    replies = await rasa.send_message(guest, "The bathroom was dirty and the desk staff were rude")
    assert names_of(replies) == ["utter_survey_thanks", "utter_survey_recovery", "utter_survey_review_link"]

    [response] = rows(stack, select(model.SurveyResponse).where(model.SurveyResponse.id == draft.id))
    assert (response.completed, response.nps, response.service, response.cleanliness) == (True, 3, 2, 2)
    assert "cleanliness" in (response.topics or []) and response.sentiment == "negative"
    reference = response.recovery_reference
    assert reference and reference in replies[1]["text"]
    [complaint] = rows(stack, select(model.Complaint).where(model.Complaint.reference == reference))
    assert complaint.status == model.ComplaintStatus.OPEN and complaint.room == "512"
    assert followup(stack, f"sla-ack:{reference}") is not None

    # Staff receive the case card and the survey alert (answers and stay), through the scheduler.
    def alerts() -> tuple[Any, Any] | None:
        staff = staff_rows(stack)
        card = next((m for m in staff if m.body.get("type") == "case_alert" and m.body.get("reference") == reference
                     and m.body.get("event") == "complaint_opened"), None)
        feedback = next((m for m in staff if m.body.get("type") == "feedback_alert"
                         and m.body.get("reference") == reference), None)
        return (card, feedback) if card and feedback else None

    card, feedback = await eventually(alerts, "the staff alerts", stack)
    assert card.recipient == feedback.recipient
    assert (feedback.body["nps"], feedback.body["aspects"]["cleanliness"], feedback.body["room"]) == (3, 2, "512")
    assert feedback.body["reservation_ref"] == ref and "dirty" in feedback.body["comment"]
    assert feedback.body["topics"] == ["cleanliness", "staff"] and feedback.body["sentiment"] == "negative"
    [invited] = rows(stack, select(model.SurveyInvitation).join(model.Stay).where(model.Stay.reservation_ref == ref))
    assert invited.status == model.InvitationStatus.ANSWERED


async def test_pulse_check_in_stay_low_score_alerts_staff(stack, rasa):
    today = datetime.now(timezone.utc).date()
    ref, external_id = "E2E-PULSE-1", "e2e-pia"
    # Booked for two nights (no pulse check), linked, then checked in for three: the check-in schedules it.
    await post_pms(stack, "reservation", ref, str(today), str(today + timedelta(days=2)), "Pia Lund")
    link(stack, external_id, ref)
    assert followup(stack, f"pulse:{ref}") is None
    await post_pms(stack, "check_in", ref, str(today), str(today + timedelta(days=3)), "Pia Lund")

    [question] = await eventually(lambda: guest_outbox(stack, external_id, f"pulse:{ref}"), "the pulse check", stack)
    assert response_name(question.body["text"]) == "utter_pulse_ask"
    assert [b["payload"] for b in question.body["buttons"]][0] == '/inform{"score":"1"}'

    assert names_of(await rasa.send_message(f"cli:{external_id}", '/inform{"score":"1"}')) == ["utter_pulse_low"]
    alert = await eventually(lambda: next((m for m in staff_rows(stack) if m.body.get("type") == "feedback_alert"
                                           and m.body.get("reservation_ref") == ref), None), "the pulse alert", stack)
    assert (alert.body["source"], alert.body["score"], alert.body["in_house"]) == ("pulse", 1, True)
    assert followup(stack, f"pulse:{ref}").payload["answer"] == 1
