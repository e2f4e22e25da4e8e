"""Test hand-offs to humans and the follow-up repository's idempotency and claims."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.errors import NotFound, ValidationError
from crm_store.model import FollowUp, FollowUpStatus, HumanHandoff
from crm_store.services.handoff import active_handoff, close_handoff, request_human


def test_request_human_first_request_opens_handoff(uow, clock, db) -> None:
    info = request_human(uow, clock, "tg", "5", reason="guest_asked")
    assert info.status == "open"
    assert db.count(HumanHandoff) == 1
    assert active_handoff(uow, "tg", "5") == info


def test_request_human_repeat_returns_open_handoff(uow, clock, db) -> None:
    first = request_human(uow, clock, "tg", "5", reason="guest_asked")
    second = request_human(uow, clock, "tg", "5", reason="fallback")
    assert first == second
    assert db.count(HumanHandoff) == 1


def test_close_handoff_open_handoff_closes(uow, clock, db) -> None:
    opened = request_human(uow, clock, "tg", "5", reason="guest_asked")
    assert close_handoff(uow, clock, opened.id, owner="duty manager").status == "closed"
    assert active_handoff(uow, "tg", "5") is None
    assert db.all(HumanHandoff)[0].closed_at == clock.now()


def test_close_handoff_unknown_id_raises_not_found(uow, clock) -> None:
    with pytest.raises(NotFound):
        close_handoff(uow, clock, 999)


def test_request_human_empty_reason_raises(uow, clock) -> None:
    with pytest.raises(ValidationError):
        request_human(uow, clock, "tg", "5", reason=" ")


def test_followup_schedule_same_key_twice_inserts_once(uow, clock, db) -> None:
    with uow:
        kwargs = {"kind": "survey", "subject": "R-1", "due_at": clock.now(), "idempotency_key": "survey:R-1", "now": clock.now()}
        assert uow.followups.schedule(**kwargs) is True
        assert uow.followups.schedule(**kwargs) is False
        uow.commit()
    assert db.count(FollowUp) == 1


def test_followup_claim_only_first_claim_wins(uow, clock, db) -> None:
    with uow:
        uow.followups.schedule(kind="k", subject="s", due_at=clock.now(), idempotency_key="k:1", now=clock.now())
        uow.commit()
    clock.advance(timedelta(seconds=1))
    with uow:
        due = uow.followups.due(clock.now())
        assert [f.idempotency_key for f in due] == ["k:1"]
        assert uow.followups.claim(due[0].id, "worker-a", clock.now()) is True
        assert uow.followups.claim(due[0].id, "worker-b", clock.now()) is False
        uow.commit()
    row = db.all(FollowUp)[0]
    assert (row.status, row.claimed_by, row.attempts) == (FollowUpStatus.CLAIMED, "worker-a", 1)
    assert row.claimed_at == clock.now()


def test_followup_due_future_row_not_returned(uow, clock) -> None:
    with uow:
        uow.followups.schedule(kind="k", subject="s", due_at=clock.now() + timedelta(minutes=5), idempotency_key="k:2", now=clock.now())
        assert uow.followups.due(clock.now()) == []
        assert uow.followups.next_due_at() == clock.now() + timedelta(minutes=5)
