"""Drive the staff desk over HTTP: fake Bot API (guest chat + staff group), fake Rasa, SQLite underneath."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot.notify import CaseAlert, OutboxStaffNotifier
from bot.telegram import texts as t
from bot.telegram.texts import load_texts
from crm_store.clock import SystemClock
from crm_store.model import (
    ComplaintAttachment,
    Guest,
    HandoffStatus,
    HumanHandoff,
    OutboundMessage,
    OutboundStatus,
    StaffCard,
    StaffMember,
    Stay,
    StayStatus,
)
from crm_store.services import cases
from crm_store.unit_of_work import SqlUnitOfWork
from tests.fakes.bot_api import FakeBotApi
from tests.integration.bot.conftest import STAFF_CHAT, STAFF_POLICY, STAFF_TIMEZONE, STAFF_USER

GUEST = 4242
TEXTS = load_texts()
MARCO = FakeBotApi.user(STAFF_USER, "Marco")
STRANGER = FakeBotApi.user(666, "Mallory")
TZ = ZoneInfo(STAFF_TIMEZONE)


def seed_stay(h, ref: str = "RES12345") -> None:
    now = datetime.now(timezone.utc)
    with h.session_factory() as session:
        guest = Guest(first_name="Anna", last_name="Rossi", verified=False)
        session.add(guest)
        session.flush()
        session.add(Stay(reservation_ref=ref, guest_id=guest.id, room="412", arrival=now - timedelta(days=1),
                         departure=now + timedelta(days=2), status=StayStatus.IN_HOUSE))
        session.commit()


def open_case(h, description: str = "The shower is broken and the bathroom floor is flooded") -> str:
    info = cases.open_case(
        SqlUnitOfWork(h.session_factory), SystemClock(), STAFF_POLICY, "tg", str(GUEST),
        category="maintenance", severity="medium", room=None, description=description,
    )
    return info.reference


def stage_alert(h, reference: str, event: str = "complaint_opened", **extra: Any) -> None:
    """Stage the staff outbox row the scheduler's StaffAlertHandler would, through the OutboxStaffNotifier."""
    uow = SqlUnitOfWork(h.session_factory)
    info = cases.get_case(uow, STAFF_POLICY, reference)
    alert = CaseAlert(
        event=event, reference=info.reference, rung=info.rung, level=info.escalation_level, category=info.category,
        severity=info.severity, room=info.room, status=info.status, ack_due_at=info.ack_due_at,
        resolve_due_at=info.resolve_due_at, suggested_gestures=info.suggested_gestures, **extra,
    )
    with uow:
        getattr(OutboxStaffNotifier(SystemClock()), event)(uow, alert)
        uow.commit()


def events(h, reference: str) -> list[tuple[str, str]]:
    return [(kind, actor) for kind, actor, _, _ in cases.case_events(SqlUnitOfWork(h.session_factory), reference)]


def status(h, reference: str) -> str:
    return cases.get_case(SqlUnitOfWork(h.session_factory), STAFF_POLICY, reference).status


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def card_of(h, reference: str) -> dict[str, Any]:
    row = h.rows(StaffCard, StaffCard.reference == reference)[0]
    return h.bot_api.message(STAFF_CHAT, row.message_id)


async def post_card(h) -> tuple[str, dict[str, Any]]:
    """Link the guest, open a complaint with a photo, stage its alert; return (reference, card message)."""
    seed_stay(h)
    h.bot_api.send_text(GUEST, "/start RES12345")
    await h.bot_api.wait_for_sent(GUEST, 1)
    reference = open_case(h)
    h.bot_api.send_photo(GUEST, caption="the shower")
    await h.bot_api.wait_for_sent(GUEST, 2)
    stage_alert(h, reference)
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 2)
    return reference, staff[0]


async def test_staff_desk_full_path_card_stranger_refused_ack_relay_resolve_handback(staff_harness) -> None:
    h = staff_harness
    reference, card = await post_card(h)

    # The card: every field, the photo under it, the buttons; the outbox row is settled.
    text = card["text"]
    assert reference in text and "Anna Rossi" in text and "Room: 412" in text
    assert "maintenance" in text and "medium" in text
    assert "The shower is broken and the bathroom floor is flooded" in text
    info = cases.get_case(SqlUnitOfWork(h.session_factory), STAFF_POLICY, reference)
    due_local = info.ack_due_at.astimezone(TZ).strftime("%H:%M")
    assert TEXTS.text(t.STAFF_CARD_ACK_DUE, left="15 min", due=due_local) in text
    assert "complimentary drink" in text
    assert buttons(card) == [("Acknowledge", f"case:ack:{reference}"), ("Resolved", f"case:res:{reference}"),
                             ("Reassign", f"case:up:{reference}")]
    photo = h.bot_api.sent_to(STAFF_CHAT)[1]
    assert photo["_source"] == h.rows(ComplaintAttachment)[0].file_ref
    assert photo["reply_to_message"]["message_id"] == card["message_id"]
    await h.bot_api.wait_for(lambda: h.count(OutboundMessage, OutboundMessage.channel == "staff",
                                             OutboundMessage.status == OutboundStatus.SENT) == 1)

    # A stranger presses Acknowledge: refused, nothing changes.
    trail = events(h, reference)
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:ack:{reference}", user=STRANGER)
    await h.bot_api.wait_for(lambda: len(h.bot_api.callback_answers) == 1)
    assert h.bot_api.callback_answers[0]["text"] == TEXTS.text(t.STAFF_REFUSED)
    assert h.bot_api.callback_answers[0]["show_alert"] is True
    assert status(h, reference) == "open" and events(h, reference) == trail
    assert h.bot_api.calls_of("editMessageText") == []

    # Marco (allow-listed) presses Acknowledge: acknowledged, recorded with his actor, the card edits itself.
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:ack:{reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: "Acknowledged by Marco" in card_of(h, reference)["text"])
    assert status(h, reference) == "acknowledged"
    assert events(h, reference)[-1] == ("acknowledged", f"tg:{STAFF_USER}")
    edited = card_of(h, reference)
    acked_at = cases.get_case(SqlUnitOfWork(h.session_factory), STAFF_POLICY, reference).acknowledged_at
    assert TEXTS.text(t.STAFF_EVENT_ACKNOWLEDGED, who="Marco", time=acked_at.astimezone(TZ).strftime("%H:%M")) in edited["text"]
    assert [title for title, _ in buttons(edited)] == ["Resolved", "Reassign"]
    assert h.bot_api.callback_answers[1]["text"] == TEXTS.text(t.STAFF_DONE_ACKNOWLEDGED)

    # Marco replies to the card: relayed to the guest, who is told once who is answering.
    h.bot_api.send_text(STAFF_CHAT, "Hi Anna, a technician is on his way.", user=MARCO, reply_to=card["message_id"])
    guest = await h.bot_api.wait_for_sent(GUEST, 4)
    assert [m["text"] for m in guest[2:]] == [
        TEXTS.text(t.STAFF_ANSWERING_GENERIC, name="Marco"), "Hi Anna, a technician is on his way."
    ]
    handoff = h.rows(HumanHandoff)[0]
    assert (handoff.status, handoff.owner) == (HandoffStatus.CLAIMED, f"tg:{STAFF_USER}")
    h.bot_api.send_text(STAFF_CHAT, "He'll be there in 5 minutes.", user=MARCO, reply_to=card["message_id"])
    guest = await h.bot_api.wait_for_sent(GUEST, 5)
    assert guest[4]["text"] == "He'll be there in 5 minutes."  # no second introduction

    # The guest's next message goes to the staff chat, under the card, not to Rasa.
    h.bot_api.send_text(GUEST, "Thank you! Should I wait in the room?")
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 3)
    assert staff[2]["text"] == TEXTS.text(t.STAFF_GUEST_SAYS, reference=reference, text="Thank you! Should I wait in the room?")
    assert staff[2]["reply_to_message"]["message_id"] == card["message_id"]
    assert h.rasa.texts_from(f"tg:{GUEST}") == []

    # Resolved: the card edits itself (no buttons), the guest is handed back to the assistant.
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:res:{reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: h.rows(HumanHandoff)[0].status == HandoffStatus.CLOSED)
    await h.bot_api.wait_for(lambda: "Resolved by Marco" in card_of(h, reference)["text"])
    assert status(h, reference) == "resolved"
    assert ("resolved", f"tg:{STAFF_USER}") in events(h, reference)
    assert buttons(card_of(h, reference)) == []
    guest = await h.bot_api.wait_for_sent(GUEST, 6)
    assert guest[5]["text"] == TEXTS.text(t.STAFF_HANDED_BACK)
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 4)
    assert staff[3]["text"] == TEXTS.text(
        t.STAFF_HANDBACK_NOTICE, reference=reference, reason=TEXTS.text(t.STAFF_HANDBACK_RESOLVED)
    )
    kinds = [kind for kind, _ in events(h, reference)]
    assert kinds.count("staff_replied") == 2 and "handed_back" in kinds

    h.bot_api.send_text(GUEST, "all good now")
    guest = await h.bot_api.wait_for_sent(GUEST, 7)
    assert guest[6]["text"] == "echo: all good now"
    assert h.rasa.texts_from(f"tg:{GUEST}") == ["all good now"]
    assert h.count(StaffCard) == 1  # one card per case, edited all along


async def test_staff_desk_reassign_and_escalation_alert_edit_same_card_and_notice_under_it(staff_harness) -> None:
    h = staff_harness
    reference, card = await post_card(h)
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:up:{reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: "Assigned to: duty manager" in card_of(h, reference)["text"])
    assert events(h, reference)[-1] == ("escalated", f"tg:{STAFF_USER}")
    assert h.bot_api.callback_answers[-1]["text"] == TEXTS.text(t.STAFF_DONE_REASSIGNED, rung="duty manager")

    stage_alert(h, reference, "escalated", reason="manual", from_rung="front_desk")  # what the scheduler stages next
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 3)
    assert staff[2]["text"] == TEXTS.text(
        t.STAFF_NOTICE_ESCALATED, reference=reference, rung="duty manager", reason=TEXTS.text(t.STAFF_REASON_MANUAL)
    )
    assert staff[2]["reply_to_message"]["message_id"] == card["message_id"]
    assert h.count(StaffCard) == 1
    assert "Passed to the duty manager by Marco" in card_of(h, reference)["text"]

    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:up:{reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: "general manager" in card_of(h, reference)["text"])
    assert buttons(card_of(h, reference))[-1][0] != "Reassign"  # at the top: no Reassign button any more


async def test_staff_desk_cases_lists_open_cases_by_deadline_and_refuses_strangers(staff_harness) -> None:
    h = staff_harness
    first = open_case(h, "noisy neighbours")
    second = cases.open_case(
        SqlUnitOfWork(h.session_factory), SystemClock(), STAFF_POLICY, "tg", "999",
        category="safety", severity="low", room="101", description="smoke in the corridor",
    ).reference
    h.bot_api.send_text(STAFF_CHAT, "/cases", user=STRANGER)
    h.bot_api.send_text(STAFF_CHAT, "/cases", user=MARCO)
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 2)
    assert staff[0]["text"] == TEXTS.text(t.STAFF_REFUSED)
    lines = staff[1]["text"].splitlines()
    assert lines[0] == TEXTS.text(t.STAFF_CASES_TITLE, count=2)
    assert lines[1].startswith(f"{second} · room 101 · safety") and lines[2].startswith(first)


async def test_staff_desk_staff_member_row_allowed_inactive_refused(staff_harness) -> None:
    h = staff_harness
    with h.session_factory() as session:
        session.add_all([
            StaffMember(telegram_user_id=777, name="Giulia Verdi", role="duty_manager", on_duty=True, active=True),
            StaffMember(telegram_user_id=778, name="Paolo Neri", role="front_desk", on_duty=False, active=False),
        ])
        session.commit()
    reference, card = await post_card(h)
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:ack:{reference}", user=FakeBotApi.user(778, "Paolo"))
    await h.bot_api.wait_for(lambda: len(h.bot_api.callback_answers) == 1)
    assert status(h, reference) == "open"
    h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:ack:{reference}", user=FakeBotApi.user(777, "G"))
    await h.bot_api.wait_for(lambda: "Acknowledged by Giulia Verdi" in card_of(h, reference)["text"])
    # Giulia's StaffMember role names her team for the guest.
    h.bot_api.send_text(STAFF_CHAT, "I'm coming up myself.", user=FakeBotApi.user(777, "G"), reply_to=card["message_id"])
    guest = await h.bot_api.wait_for_sent(GUEST, 4)
    assert guest[2]["text"] == TEXTS.text(t.STAFF_ANSWERING, name="Giulia", team="duty manager")


async def test_staff_desk_handback_command_and_idle_timeout_return_guest_to_rasa(staff_harness) -> None:
    h = staff_harness
    reference, card = await post_card(h)
    h.bot_api.send_text(STAFF_CHAT, "We're on it.", user=MARCO, reply_to=card["message_id"])
    await h.bot_api.wait_for_sent(GUEST, 4)
    h.bot_api.send_text(STAFF_CHAT, f"/handback {reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: h.rows(HumanHandoff)[0].status == HandoffStatus.CLOSED)
    guest = await h.bot_api.wait_for_sent(GUEST, 5)
    assert guest[4]["text"] == TEXTS.text(t.STAFF_HANDED_BACK)
    h.bot_api.send_text(GUEST, "hello bot")
    assert (await h.bot_api.wait_for_sent(GUEST, 6))[5]["text"] == "echo: hello bot"

    # Take over again, then let the conversation go idle for longer than HANDOFF_IDLE_MINUTES.
    h.bot_api.send_text(STAFF_CHAT, "Me again.", user=MARCO, reply_to=card["message_id"])
    await h.bot_api.wait_for_sent(GUEST, 8)  # re-introduced after the hand-back, then the text
    with h.session_factory() as session:
        session.execute(update(HumanHandoff).values(updated_at=datetime.now(timezone.utc) - timedelta(minutes=31)))
        session.commit()
    await h.bot_api.wait_for(lambda: all(r.status == HandoffStatus.CLOSED for r in h.rows(HumanHandoff)))
    guest = await h.bot_api.wait_for_sent(GUEST, 9)
    assert guest[8]["text"] == TEXTS.text(t.STAFF_HANDED_BACK)
    notice = TEXTS.text(t.STAFF_HANDBACK_NOTICE, reference=reference, reason=TEXTS.text(t.STAFF_HANDBACK_IDLE, minutes=30))
    await h.bot_api.wait_for(lambda: any(m.get("text") == notice for m in h.bot_api.sent_to(STAFF_CHAT)))


async def test_staff_desk_same_button_press_delivered_twice_acts_once(staff_harness) -> None:
    h = staff_harness
    reference, card = await post_card(h)
    press = h.bot_api.press_button(STAFF_CHAT, card["message_id"], f"case:ack:{reference}", user=MARCO)
    await h.bot_api.wait_for(lambda: "Acknowledged by Marco" in card_of(h, reference)["text"])
    h.bot_api.redeliver(press)
    h.bot_api.send_text(STAFF_CHAT, "/cases", user=MARCO)  # handled after the duplicate (same chat)
    await h.bot_api.wait_for_sent(STAFF_CHAT, 3)
    assert [kind for kind, _ in events(h, reference)].count("acknowledged") == 1
    assert len(h.bot_api.callback_answers) == 1


async def test_staff_desk_photo_after_card_goes_under_it_and_during_handoff_is_forwarded(staff_harness) -> None:
    h = staff_harness
    reference, card = await post_card(h)  # card + first photo
    h.bot_api.send_photo(GUEST, caption="another angle")
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 3)
    assert staff[2]["photo"] and staff[2]["reply_to_message"]["message_id"] == card["message_id"]
    await h.bot_api.wait_for(lambda: TEXTS.text(t.STAFF_CARD_PHOTOS, count=2) in card_of(h, reference)["text"])

    h.bot_api.send_text(STAFF_CHAT, "Could you show us the drain?", user=MARCO, reply_to=card["message_id"])
    await h.bot_api.wait_for_sent(GUEST, 5)
    h.bot_api.send_photo(GUEST, caption="the drain")
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 4)
    assert staff[3]["caption"] == TEXTS.text(t.STAFF_GUEST_PHOTO, reference=reference, caption="the drain")
    assert staff[3]["reply_to_message"]["message_id"] == card["message_id"]
    await h.bot_api.wait_for(lambda: h.rows(StaffCard)[0].photos_posted == 3)  # counted as shown: not posted again
    assert h.count(ComplaintAttachment) == 3
    assert len(h.bot_api.sent_to(GUEST)) == 5  # the assistant said nothing about the photo


async def test_staff_desk_card_send_keeps_failing_outbox_row_failed_then_next_alert_posts(staff_harness) -> None:
    h = staff_harness
    seed_stay(h)
    reference = open_case(h)
    h.bot_api.fail_next(3, 502, methods=("sendMessage",))
    stage_alert(h, reference)
    await h.bot_api.wait_for(lambda: h.count(OutboundMessage, OutboundMessage.status == OutboundStatus.FAILED) == 1)
    row = h.rows(OutboundMessage, OutboundMessage.channel == "staff")[0]
    assert row.attempts == 1 and row.last_error == "card not delivered"
    assert h.count(StaffCard) == 0
    stage_alert(h, reference, "sla_breached", reason="ack_overdue")
    staff = await h.bot_api.wait_for_sent(STAFF_CHAT, 2)
    assert reference in staff[0]["text"] and staff[1]["reply_to_message"]["message_id"] == staff[0]["message_id"]
