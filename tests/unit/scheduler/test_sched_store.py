"""Test the follow-up queue: conditional claims, settling only one's own claim, deferral, recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.scheduler.store import FollowUpQueue, LostClaim
from crm_store.model import FollowUp, FollowUpStatus


def _seed(h, key="k:1", kind="sla_ack", due_in=timedelta(0)):
    with h.uow() as uow:
        uow.followups.schedule(kind=kind, subject="C-AAAAAA", due_at=h.clock.now() + due_in, idempotency_key=key,
                               now=h.clock.now(), payload={"reference": "C-AAAAAA"})
        uow.commit()


def _row(h, key="k:1"):
    [row] = h.all(FollowUp, FollowUp.idempotency_key == key)
    return row


def _sent(tx):
    return "sent", None, "ok"


def test_queue_due_returns_only_due_pending_rows_of_the_kinds(h):
    _seed(h, "k:1")
    _seed(h, "k:2", due_in=timedelta(minutes=5))
    _seed(h, "k:3", kind="survey")
    queue = FollowUpQueue(h.sessions, "w1")
    assert [j.idempotency_key for j in queue.due(h.clock.now(), ["sla_ack"], 10)] == ["k:1"]
    assert queue.next_due_at(["sla_ack"]) == h.clock.now()
    assert queue.next_due_at(["survey"]) == h.clock.now()
    assert queue.next_due_at(["nothing"]) is None


def test_queue_claim_twice_only_first_wins(h):
    _seed(h)
    first, second = FollowUpQueue(h.sessions, "w1"), FollowUpQueue(h.sessions, "w2")
    [job] = first.due(h.clock.now(), ["sla_ack"], 10)
    claimed = first.claim(job, h.clock.now())
    assert claimed is not None and (claimed.attempts, claimed.claimed_by) == (1, "w1")
    assert second.claim(job, h.clock.now()) is None
    row = _row(h)
    assert (row.status, row.claimed_by, row.attempts) == (FollowUpStatus.CLAIMED, "w1", 1)


def test_queue_settle_marks_sent_and_releases_claim(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    job = queue.claim(queue.due(h.clock.now(), ["sla_ack"], 10)[0], h.clock.now())
    assert queue.settle(job, h.clock.now(), _sent) == "ok"
    row = _row(h)
    assert (row.status, row.sent_at, row.claimed_by) == (FollowUpStatus.SENT, h.clock.now(), None)
    with pytest.raises(LostClaim):
        queue.settle(job, h.clock.now(), _sent)


def test_queue_settle_deferred_goes_back_to_pending_without_counting_the_attempt(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    job = queue.claim(queue.due(h.clock.now(), ["sla_ack"], 10)[0], h.clock.now())
    later = h.clock.now() + timedelta(hours=1)
    queue.settle(job, h.clock.now(), lambda tx: ("deferred", later, None))
    row = _row(h)
    assert (row.status, row.due_at, row.attempts) == (FollowUpStatus.PENDING, later, 0)


def test_queue_run_once_skips_a_row_changed_since_it_was_read(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    [job] = queue.due(h.clock.now(), ["sla_ack"], 10)
    other = FollowUpQueue(h.sessions, "w2")
    other.retry_or_fail(other.claim(job, h.clock.now()), h.clock.now(), "x", h.clock.now(), lambda tx: None)
    assert queue.run_once(job, h.clock.now(), lambda tx, mine: ("sent", None, 1)) is None
    assert _row(h).status == FollowUpStatus.PENDING


def test_queue_run_once_failure_leaves_the_row_untouched(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    [job] = queue.due(h.clock.now(), ["sla_ack"], 10)

    def boom(tx, mine):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        queue.run_once(job, h.clock.now(), boom)
    row = _row(h)
    assert (row.status, row.attempts) == (FollowUpStatus.PENDING, 0)


def test_queue_recover_only_stale_claims_unless_told_all(h):
    _seed(h, "k:1")
    _seed(h, "k:2")
    queue = FollowUpQueue(h.sessions, "w1")
    jobs = queue.due(h.clock.now(), ["sla_ack"], 10)
    queue.claim(jobs[0], h.clock.now() - timedelta(minutes=5))
    queue.claim(jobs[1], h.clock.now())
    assert queue.recover(h.clock.now(), h.clock.now() - timedelta(minutes=2)) == 1
    assert _row(h, "k:1").status == FollowUpStatus.PENDING
    assert _row(h, "k:2").status == FollowUpStatus.CLAIMED
    assert queue.recover(h.clock.now(), None) == 1
    assert _row(h, "k:2").status == FollowUpStatus.PENDING


def test_queue_retry_or_fail_runs_hook_only_on_failure(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    job = queue.claim(queue.due(h.clock.now(), ["sla_ack"], 10)[0], h.clock.now())
    calls = []
    assert queue.retry_or_fail(job, h.clock.now(), "E: x", None, calls.append) == "failed"
    assert len(calls) == 1 and _row(h).status == FollowUpStatus.FAILED
    assert queue.retry_or_fail(job, h.clock.now(), "E: x", None, calls.append) == "lost"


def test_queue_postpone_moves_only_pending_rows(h):
    _seed(h)
    queue = FollowUpQueue(h.sessions, "w1")
    [job] = queue.due(h.clock.now(), ["sla_ack"], 10)
    later = h.clock.now() + timedelta(hours=8)
    assert queue.postpone(job, later, h.clock.now()) is True
    assert _row(h).due_at == later
    queue.claim(job, h.clock.now())
    assert queue.postpone(job, later + timedelta(hours=1), h.clock.now()) is False
