"""Test opening and reading complaints."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crm_store.errors import NotFound, ValidationError
from crm_store.model import Complaint, ComplaintEvent, FollowUp, FollowUpStatus, Guest
from crm_store.services import complaints as complaints_module
from crm_store.services.complaints import get_complaint, open_complaint


def _open(uow, clock, policy, **overrides):
    arguments = {"category": "noise", "severity": "medium", "room": "412", "description": "Loud party next door"}
    arguments.update(overrides)
    return open_complaint(uow, clock, policy, "tg", "1001", **arguments)


def test_open_complaint_valid_writes_complaint_event_and_followup(uow, clock, policy, db) -> None:
    info = _open(uow, clock, policy)
    assert re.fullmatch(r"C-[2-9A-HJ-NP-Z]{6}", info.reference)
    assert (info.category, info.severity, info.room, info.status) == ("noise", "medium", "412", "open")
    assert info.ack_due_at == clock.now() + timedelta(minutes=15)
    assert info.guest_verified is False
    assert db.count(Complaint) == 1
    events = db.all(ComplaintEvent)
    assert [(e.kind, e.actor, e.at) for e in events] == [("opened", "guest", clock.now())]
    follow_ups = db.all(FollowUp)
    assert len(follow_ups) == 1
    follow_up = follow_ups[0]
    assert follow_up.kind == "sla_ack"
    assert follow_up.subject == info.reference
    assert follow_up.idempotency_key == f"sla-ack:{info.reference}"
    assert follow_up.due_at == info.ack_due_at
    assert follow_up.status == FollowUpStatus.PENDING
    assert follow_up.attempts == 0


def test_open_complaint_no_room_uses_current_stay_room(uow, clock, policy, db, guest_id) -> None:
    stay_id = db.add_stay(guest_id, ref="R-1", room="1203")
    info = _open(uow, clock, policy, room=None)
    assert info.room == "1203"
    assert db.all(Complaint)[0].stay_id == stay_id


def test_open_complaint_explicit_room_beats_stay_room(uow, clock, policy, db, guest_id) -> None:
    db.add_stay(guest_id, ref="R-1", room="1203")
    assert _open(uow, clock, policy, room="12b").room == "12B"


def test_open_complaint_no_stay_no_room_keeps_room_none(uow, clock, policy, db) -> None:
    info = _open(uow, clock, policy, room=None)
    assert info.room is None
    assert db.all(Complaint)[0].stay_id is None


def test_open_complaint_safety_forces_high_severity(uow, clock, policy) -> None:
    info = _open(uow, clock, policy, category="safety", severity="low")
    assert info.severity == "high"
    assert info.ack_due_at == clock.now() + timedelta(minutes=5)


def test_open_complaint_verified_guest_snapshots_flag(uow, clock, policy, db, guest_id) -> None:
    db.verify(guest_id)
    assert _open(uow, clock, policy).guest_verified is True


@pytest.mark.parametrize(
    "overrides",
    [
        {"category": "weather"},
        {"severity": "critical"},
        {"description": "   "},
        {"description": "x" * 4001},
        {"room": "room 12 please"},
    ],
)
def test_open_complaint_invalid_input_raises_and_writes_nothing(uow, clock, policy, db, overrides) -> None:
    with pytest.raises(ValidationError):
        _open(uow, clock, policy, **overrides)
    assert db.count(Complaint) == 0
    assert db.count(ComplaintEvent) == 0
    assert db.count(FollowUp) == 0
    assert db.count(Guest) == 0


@pytest.mark.parametrize(
    "category",
    ["cleanliness", "noise", "maintenance", "staff", "billing", "food_beverage", "amenities", "check_in", "safety", "other"],
)
def test_open_complaint_each_category_accepted(uow, clock, policy, category) -> None:
    assert _open(uow, clock, policy, category=category).category == category


def test_open_complaint_reference_collision_retries(uow, clock, policy, db, monkeypatch) -> None:
    candidates = iter(["C-AAAAAA", "C-AAAAAA", "C-BBBBBB"])
    monkeypatch.setattr(complaints_module, "new_reference", lambda: next(candidates))
    assert _open(uow, clock, policy).reference == "C-AAAAAA"
    assert _open(uow, clock, policy).reference == "C-BBBBBB"
    assert db.count(FollowUp) == 2


def test_new_reference_uses_unambiguous_alphabet() -> None:
    references = {complaints_module.new_reference() for _ in range(500)}
    assert len(references) == 500
    assert not any(set(r[2:]) & set("01OI") for r in references)


def test_get_complaint_lower_case_reference_returns_info(uow, clock, policy) -> None:
    opened = _open(uow, clock, policy)
    found = get_complaint(uow, f" {opened.reference.lower()} ")
    assert found == opened
    assert found.ack_due_at.utcoffset() == timedelta(0)


def test_get_complaint_unknown_reference_raises_not_found(uow) -> None:
    with pytest.raises(NotFound):
        get_complaint(uow, "C-ZZZZZZ")
