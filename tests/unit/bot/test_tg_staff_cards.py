"""Render staff cards, notices and the case list from domain texts; build and parse card buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.telegram import texts as t
from bot.telegram.cards import (
    CardAction,
    CardRenderer,
    callback_data,
    find_reference,
    parse_callback,
)
from bot.telegram.texts import load_texts
from crm_store.services.cases import CaseInfo
from crm_store.services.staff_cards import CardInfo, CaseCard

TEXTS = load_texts()
ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)  # 12:00 in Rome
REF = "C-7KQ4ZP"


def case(**changes) -> CaseInfo:
    base = CaseInfo(
        reference=REF, category="food_beverage", severity="medium", room="412", status="open",
        escalation_level=0, rung="front_desk", at_top=False, cycle=0, opened_at=NOW - timedelta(minutes=3),
        ack_due_at=NOW + timedelta(minutes=12), resolve_due_at=NOW + timedelta(hours=4), acknowledged_at=None,
        resolved_at=None, suggested_gestures=("complimentary_drink", "late_checkout"), chosen_gesture=None,
    )
    return replace(base, **changes)


def card(info: CaseInfo | None = None, **changes) -> CaseCard:
    base = CaseCard(
        case=info or case(), description="Cold soup, twice.", guest_name="Anna Rossi", guest_verified=True,
        photos=(), events=(), card=None, contact=("tg", "4242"), handoff_owner=None,
    )
    return replace(base, **changes)


@pytest.fixture
def render() -> CardRenderer:
    return CardRenderer(TEXTS, ROME)


# -- callback data -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["ack", "res", "up"])
def test_callback_data_round_trips_and_fits_64_bytes(action: str) -> None:
    data = callback_data(action, REF)
    assert data == f"case:{action}:{REF}" and len(data.encode()) <= 64
    assert parse_callback(data) == CardAction(action, REF)


@pytest.mark.parametrize(
    "data",
    [None, "", "/affirm", "case:ack", "case:ack:", "case:del:C-7KQ4ZP", "case:ack:C-7KQ4Z", "case:ack:C-7KQ4ZPX",
     "case:ack:c-7kq4zp", "case:ack:C-0O1I00", "case:ack:C-7KQ4ZP:x", "xcase:ack:C-7KQ4ZP", "~abc"],
)
def test_parse_callback_anything_else_is_not_a_card_button(data) -> None:
    assert parse_callback(data) is None


def test_callback_data_unknown_action_refused() -> None:
    with pytest.raises(ValueError):
        callback_data("delete", REF)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(f"Complaint {REF} · OPEN", REF), ("💬 Guest (C-ABC234): hi", "C-ABC234"), ("no reference here", None),
     (None, None), ("C-ABC23", None)],
)
def test_find_reference(text, expected) -> None:
    assert find_reference(text) == expected


# -- pieces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(timedelta(0), "0 min"), (timedelta(seconds=30), "1 min"), (timedelta(minutes=15), "15 min"),
     (timedelta(hours=2, minutes=5), "2 h 5 min"), (timedelta(days=1, hours=3), "1 d 3 h"),
     (-timedelta(minutes=7), "7 min")],
)
def test_duration_words(render, delta, expected) -> None:
    assert render.duration(delta) == expected


def test_clock_hotel_local_today_and_other_day(render) -> None:
    assert render.clock(NOW + timedelta(minutes=12), NOW) == "12:12"
    assert render.clock(NOW + timedelta(days=1), NOW) == "02 Jun 12:00"


def test_rung_status_reason_labels_fall_back_to_words(render) -> None:
    assert render.rung("duty_manager") == "duty manager"
    assert render.rung("night_porter") == "night porter"
    assert render.status("acknowledged") == TEXTS.text(t.STAFF_STATUS_ACKNOWLEDGED)
    assert render.reason("ack_overdue") == TEXTS.text(t.STAFF_REASON_ACK_OVERDUE)
    assert render.reason("weird_code") == "weird code"


def test_guest_name_or_unverified(render) -> None:
    assert render.guest("Anna Rossi", True) == "Anna Rossi"
    assert render.guest("Anna", False) == TEXTS.text(t.STAFF_GUEST_NAMED_UNVERIFIED, name="Anna")
    assert render.guest(None, False) == TEXTS.text(t.STAFF_GUEST_UNVERIFIED) == "unverified"


# -- the card -------------------------------------------------------------------------------------


def test_card_open_shows_every_field_time_left_gesture_and_three_buttons(render) -> None:
    out = render.card(card(photos=("AgACphoto",)), NOW)
    lines = out.text.splitlines()
    assert lines[0] == TEXTS.text(t.STAFF_CARD_TITLE, reference=REF, status=TEXTS.text(t.STAFF_STATUS_OPEN))
    assert TEXTS.text(t.STAFF_CARD_GUEST, guest="Anna Rossi") in lines
    assert TEXTS.text(t.STAFF_CARD_ROOM, room="412") in lines
    assert TEXTS.text(t.STAFF_CARD_CATEGORY, category="food beverage", severity="medium") in lines
    assert TEXTS.text(t.STAFF_CARD_RUNG, rung="front desk") in lines
    assert TEXTS.text(t.STAFF_CARD_WORDS, description="Cold soup, twice.") in lines
    assert TEXTS.text(t.STAFF_CARD_PHOTOS, count=1) in lines
    assert TEXTS.text(t.STAFF_CARD_ACK_DUE, left="12 min", due="12:12") in lines
    assert TEXTS.text(t.STAFF_CARD_GESTURE, gestures="complimentary drink, late checkout") in lines
    assert [(b.title, b.data) for row in out.keyboard for b in row] == [
        ("Acknowledge", f"case:ack:{REF}"), ("Resolved", f"case:res:{REF}"), ("Reassign", f"case:up:{REF}")
    ]
    assert out.photo is None


def test_card_unverified_guest_without_room_overdue(render) -> None:
    info = case(room=None, ack_due_at=NOW - timedelta(minutes=5))
    out = render.card(card(info, guest_name=None, guest_verified=False), NOW)
    assert TEXTS.text(t.STAFF_CARD_GUEST, guest="unverified") in out.text
    assert TEXTS.text(t.STAFF_CARD_ROOM, room=TEXTS.text(t.STAFF_ROOM_UNKNOWN)) in out.text
    assert TEXTS.text(t.STAFF_CARD_ACK_OVERDUE, left="5 min", due="11:55") in out.text


def test_card_acknowledged_history_with_names_owner_and_resolve_deadline(render) -> None:
    info = case(status="acknowledged", acknowledged_at=NOW - timedelta(minutes=1))
    events = (
        ("opened", "guest", NOW - timedelta(minutes=3), {}),
        ("acknowledged", "tg:501", NOW - timedelta(minutes=1), {}),
        ("escalated", "scheduler", NOW, {"to_rung": "duty_manager"}),
    )
    stored = CardInfo(REF, -100, 7, 0, 3, {"tg:501": "Marco"})
    out = render.card(card(info, events=events, card=stored, handoff_owner="tg:501"), NOW)
    assert TEXTS.text(t.STAFF_EVENT_ACKNOWLEDGED, who="Marco", time="11:59") in out.text
    assert TEXTS.text(t.STAFF_EVENT_ESCALATED, who=TEXTS.text(t.STAFF_ACTOR_SCHEDULER), time="12:00",
                      rung="duty manager") in out.text
    assert TEXTS.text(t.STAFF_CARD_OWNER, name="Marco") in out.text
    assert TEXTS.text(t.STAFF_CARD_RESOLVE_DUE, left="4 h 0 min", due="16:00") in out.text
    assert [b.title for row in out.keyboard for b in row] == ["Resolved", "Reassign"]


def test_card_at_top_has_no_reassign_and_resolved_has_no_buttons(render) -> None:
    top = render.card(card(case(at_top=True)), NOW)
    assert [b.title for row in top.keyboard for b in row] == ["Acknowledge", "Resolved"]
    done = render.card(card(case(status="resolved", chosen_gesture="late_checkout")), NOW)
    assert done.keyboard == ()
    assert TEXTS.text(t.STAFF_CARD_GESTURE_CHOSEN, gesture="late checkout") in done.text
    assert "⏱" not in done.text


def test_card_long_description_fits_telegram(render) -> None:
    out = render.card(card(description="x" * 5000), NOW)
    assert len(out.text) <= 4096 and "…" in out.text


# -- notices and lists ----------------------------------------------------------------------------


def test_alert_notice_per_event_none_for_new_complaint(render) -> None:
    assert render.alert_notice({"event": "complaint_opened", "reference": REF}) is None
    assert render.alert_notice({"event": "escalated", "reference": REF, "rung": "duty_manager",
                                "reason": "ack_overdue"}) == TEXTS.text(
        t.STAFF_NOTICE_ESCALATED, reference=REF, rung="duty manager", reason=TEXTS.text(t.STAFF_REASON_ACK_OVERDUE))
    for event in ("sla_breached", "reopened", "resolved_confirmed", "closed_unconfirmed"):
        assert REF in (render.alert_notice({"event": event, "reference": REF, "rung": "general_manager"}) or "")


def test_failure_and_feedback_notices(render) -> None:
    failure = render.failure_notice({"kind": "recovery_ask", "subject": REF, "attempts": 5, "error": "boom"})
    assert failure == TEXTS.text(t.STAFF_NOTICE_FOLLOWUP_FAILED, kind="recovery ask", subject=REF, attempts=5)
    feedback = render.feedback_notice({"source": "survey", "nps": 2, "guest": "Anna Rossi", "room": "412",
                                       "comment": "Never again"})
    assert feedback.splitlines() == [
        TEXTS.text(t.STAFF_NOTICE_FEEDBACK, source="survey", guest="Anna Rossi", room="412", score=2),
        TEXTS.text(t.STAFF_NOTICE_FEEDBACK_COMMENT, comment="Never again"),
    ]


def test_cases_list_empty_and_by_deadline_with_time_left(render) -> None:
    assert render.cases_list([], NOW) == TEXTS.text(t.STAFF_CASES_NONE)
    late = case(reference="C-ABC234", ack_due_at=NOW - timedelta(minutes=2), room=None, category="noise")
    text = render.cases_list([late, case(status="acknowledged")], NOW)
    assert text.splitlines() == [
        TEXTS.text(t.STAFF_CASES_TITLE, count=2),
        TEXTS.text(t.STAFF_CASES_LINE, reference="C-ABC234", room=TEXTS.text(t.STAFF_ROOM_UNKNOWN), category="noise",
                   status=TEXTS.text(t.STAFF_STATUS_OPEN), left=TEXTS.text(t.STAFF_CASES_OVERDUE, left="2 min")),
        TEXTS.text(t.STAFF_CASES_LINE, reference=REF, room="412", category="food beverage",
                   status=TEXTS.text(t.STAFF_STATUS_ACKNOWLEDGED), left=TEXTS.text(t.STAFF_CASES_LEFT, left="4 h 0 min")),
    ]


def test_every_staff_text_is_in_the_domain() -> None:
    for name in t.STAFF_REQUIRED:
        assert TEXTS.text(name)
    assert [name for name, _ in TEXTS.commands(t.STAFF_COMMANDS)] == ["cases", "handback"]
