"""Test the dispatcher kind by kind: exactly once, retries, give-up, quiet hours, misfires, recovery."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from bot.scheduler.store import FollowUpQueue, LostClaim
from crm_store.model import (
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    FollowUp,
    FollowUpStatus,
    OutboundMessage,
)
from crm_store.recovery_policy import parse_policy
from crm_store.services import cases

from .conftest import ACK, AUTOCLOSE, DELAY


def _row(h, key):
    [row] = h.all(FollowUp, FollowUp.idempotency_key == key)
    return row


def _status(h, ref):
    [complaint] = h.all(Complaint, Complaint.reference == ref)
    return ComplaintStatus(complaint.status)


def _staff(h):
    return [(m.recipient, m.body["event"]) for m in h.all(OutboundMessage, OutboundMessage.channel == "staff")
            if m.body.get("type") == "case_alert"]


async def test_dispatcher_nothing_due_does_nothing(h):
    h.open()
    assert await h.dispatcher().run_due() == 0
    assert h.count(FollowUp, FollowUp.status != FollowUpStatus.PENDING) == 0


async def test_dispatcher_sla_ack_due_escalates_and_alerts_staff_once(h):
    ref = h.open()
    h.clock.advance(ACK)
    dispatcher = h.dispatcher()
    assert await dispatcher.run_due() == 2  # the sla_ack, then the staff alert it wrote
    assert _row(h, f"sla-ack:{ref}").status == FollowUpStatus.SENT
    assert _staff(h) == [("duty_manager", "escalated")]
    assert _row(h, f"sla-ack:{ref}:0:1").status == FollowUpStatus.PENDING
    assert await dispatcher.run_due() == 0
    assert _staff(h) == [("duty_manager", "escalated")]
    assert dispatcher.stats.lateness_s == [0.0, 0.0]


async def test_dispatcher_overdue_sla_ack_on_start_fires_now(h):
    ref = h.open()
    h.clock.advance(timedelta(days=2))
    assert await h.dispatcher().run_due() == 2
    assert [e.kind for e in h.all(ComplaintEvent)][-1] == "escalated"
    assert _row(h, f"sla-ack:{ref}:0:1").due_at == h.clock.now() + ACK


async def test_dispatcher_recovery_ask_triggers_rasa_and_stages_guest_messages(h):
    ref = h.resolved()
    h.clock.advance(DELAY)
    await h.dispatcher().run_due()
    assert h.rasa.calls == [("tg:1001", "EXTERNAL_recovery_check", {"recovery_reference": ref})]
    [message] = h.all(OutboundMessage, OutboundMessage.channel == "tg")
    assert (message.recipient, message.status.value) == ("1001", "pending")
    assert message.body["text"] == f"Is {ref} fixed?" and message.body["source"] == f"recovery-ask:{ref}:0"
    assert "recipient_id" not in message.body
    assert _row(h, f"recovery-ask:{ref}:0").status == FollowUpStatus.SENT
    assert _row(h, f"recovery-autoclose:{ref}:0").due_at == h.clock.now() + AUTOCLOSE


async def test_dispatcher_autoclose_closes_case_not_confirmed(h):
    ref = h.resolved()
    h.clock.advance(DELAY)
    dispatcher = h.dispatcher()
    await dispatcher.run_due()
    h.clock.advance(AUTOCLOSE)
    await dispatcher.run_due()
    assert _status(h, ref) == ComplaintStatus.CLOSED_UNCONFIRMED
    assert _row(h, f"recovery-autoclose:{ref}:0").status == FollowUpStatus.SENT
    assert _staff(h)[-1] == ("front_desk", "closed_unconfirmed")


async def test_dispatcher_confirmed_case_cancels_in_flight_ask_without_asking(h):
    ref = h.resolved()
    cases.confirm_fixed(h.uow(), h.clock, h.policy, ref)
    with h.sessions() as session:  # a row that escaped cancellation (e.g. claimed at that moment)
        session.execute(update(FollowUp).where(FollowUp.idempotency_key == f"recovery-ask:{ref}:0")
                        .values(status=FollowUpStatus.PENDING))
        session.commit()
    h.clock.advance(DELAY)
    await h.dispatcher().run_due()
    assert h.rasa.calls == []
    assert _row(h, f"recovery-ask:{ref}:0").status == FollowUpStatus.CANCELLED


async def test_dispatcher_quiet_hours_postpone_guest_follow_up_unclaimed(h):
    quiet = parse_policy({"quiet_hours": "22:00-08:00", "defaults": {"follow_up_delay": "30m"}})
    ref = h.resolved()
    h.clock.set(datetime(2026, 6, 1, 23, 0, tzinfo=timezone.utc))
    dispatcher = h.dispatcher(policy=quiet)
    await dispatcher.run_due()
    row = _row(h, f"recovery-ask:{ref}:0")
    assert (row.status, row.attempts) == (FollowUpStatus.PENDING, 0)
    assert row.due_at == datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)
    assert h.rasa.calls == [] and dispatcher.stats.postponed == 1
    h.clock.set(datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc))
    await dispatcher.run_due()
    assert len(h.rasa.calls) == 1


async def test_dispatcher_rasa_failure_retries_with_backoff_then_fails_and_tells_staff(h):
    ref = h.resolved()
    h.rasa.failures = 99
    h.clock.advance(DELAY)
    dispatcher = h.dispatcher()
    await dispatcher.run_due()
    row = _row(h, f"recovery-ask:{ref}:0")
    assert (row.status, row.attempts) == (FollowUpStatus.PENDING, 1)
    assert row.due_at == h.clock.now() + timedelta(seconds=10)
    assert "RetryableError" in row.last_error
    h.clock.advance(timedelta(seconds=10))
    await dispatcher.run_due()
    assert _row(h, f"recovery-ask:{ref}:0").due_at == h.clock.now() + timedelta(seconds=20)
    h.clock.advance(timedelta(seconds=20))
    await dispatcher.run_due()
    row = _row(h, f"recovery-ask:{ref}:0")
    assert (row.status, row.attempts) == (FollowUpStatus.FAILED, 3)
    [notice] = [m for m in h.all(OutboundMessage, OutboundMessage.channel == "staff")
                if m.body["type"] == "followup_failed"]
    assert notice.recipient == "duty_manager"
    assert (notice.body["kind"], notice.body["subject"], notice.body["attempts"]) == ("recovery_ask", ref, 3)
    assert h.count(OutboundMessage, OutboundMessage.channel == "tg") == 0
    assert (dispatcher.stats.retried, dispatcher.stats.failed) == (2, 1)


async def test_dispatcher_empty_rasa_reply_is_retried(h):
    ref = h.resolved()
    h.rasa.silent = True
    h.clock.advance(DELAY)
    await h.dispatcher().run_due()
    row = _row(h, f"recovery-ask:{ref}:0")
    assert row.status == FollowUpStatus.PENDING and "no message" in row.last_error
    h.rasa.silent = False
    h.clock.advance(timedelta(seconds=10))
    await h.dispatcher().run_due()
    assert _row(h, f"recovery-ask:{ref}:0").status == FollowUpStatus.SENT
    assert h.count(OutboundMessage, OutboundMessage.channel == "tg") == 1


async def test_dispatcher_misfired_recovery_ask_closes_unconfirmed_without_asking(h):
    ref = h.resolved()
    h.clock.advance(DELAY + timedelta(days=2))
    await h.dispatcher().run_due()
    assert h.rasa.calls == []
    assert _row(h, f"recovery-ask:{ref}:0").status == FollowUpStatus.CANCELLED
    assert _status(h, ref) == ComplaintStatus.CLOSED_UNCONFIRMED
    [event] = [e for e in h.all(ComplaintEvent) if e.kind == "closed_unconfirmed"]
    assert event.detail["reason"] == "follow_up_missed"


async def test_dispatcher_stale_claim_is_recovered_and_sent_once(h):
    ref = h.open()
    h.clock.advance(ACK)
    queue = FollowUpQueue(h.sessions, "dead-worker")
    [job] = queue.due(h.clock.now(), ["sla_ack"], 10)
    assert queue.claim(job, h.clock.now()) is not None  # ... and the process dies here
    dispatcher = h.dispatcher()
    assert await dispatcher.run_due() == 0  # the claim is fresh: not ours to take
    h.clock.advance(timedelta(minutes=3))
    dispatcher._last_recover = None
    await dispatcher.run_due()
    row = _row(h, f"sla-ack:{ref}")
    assert (row.status, row.attempts) == (FollowUpStatus.SENT, 2)
    assert dispatcher.stats.recovered == 1
    assert len([e for e in h.all(ComplaintEvent) if e.kind == "escalated"]) == 1


async def test_dispatcher_lost_claim_rolls_back_its_effects(h):
    ref = h.resolved()
    h.clock.advance(DELAY)
    slow, fast = FollowUpQueue(h.sessions, "slow"), FollowUpQueue(h.sessions, "fast")
    [job] = slow.due(h.clock.now(), ["recovery_ask"], 10)
    slow_job = slow.claim(job, h.clock.now())
    fast.recover(h.clock.now(), None)  # a new leader takes every claim back
    fast_job = fast.claim(job, h.clock.now())
    assert fast_job is not None and fast_job.attempts == 2

    def effects(tx):
        h.messenger.deliver(tx, "tg:1001", [{"text": "x"}], source=job.idempotency_key)
        return "sent", None, None

    try:
        slow.settle(slow_job, h.clock.now(), effects)
        raise AssertionError("settle of a lost claim must fail")
    except LostClaim:
        pass
    assert h.count(OutboundMessage) == 0
    fast.settle(fast_job, h.clock.now(), effects)
    assert h.count(OutboundMessage) == 1
    assert _row(h, f"recovery-ask:{ref}:0").status == FollowUpStatus.SENT


async def test_dispatcher_failure_inside_apply_rolls_back_and_retries(h, monkeypatch):
    ref = h.resolved()
    h.clock.advance(DELAY)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cases, "on_guest_asked", broken)
    await h.dispatcher().run_due()
    assert h.count(OutboundMessage, OutboundMessage.channel == "tg") == 0
    row = _row(h, f"recovery-ask:{ref}:0")
    assert row.status == FollowUpStatus.PENDING and row.last_error.startswith("RuntimeError")


async def test_dispatcher_leaves_unknown_kinds_alone(h):
    with h.uow() as uow:
        uow.followups.schedule(kind="survey", subject="S-1", due_at=h.clock.now(), idempotency_key="survey:1",
                               now=h.clock.now(), payload={})
        uow.commit()
    assert await h.dispatcher().run_due() == 0
    assert _row(h, "survey:1").status == FollowUpStatus.PENDING


async def test_dispatcher_two_dispatchers_at_once_send_each_row_once(h):
    refs = [h.resolved(str(2000 + n)) for n in range(30)]
    h.clock.advance(DELAY)
    first, second = h.dispatcher("w1"), h.dispatcher("w2")
    await asyncio.gather(first.run_due(), second.run_due())
    assert h.count(OutboundMessage, OutboundMessage.channel == "tg") == 30
    assert len(h.rasa.calls) == 30
    sources = [m.body["source"] for m in h.all(OutboundMessage, OutboundMessage.channel == "tg")]
    assert sorted(sources) == sorted(f"recovery-ask:{ref}:0" for ref in refs)
    assert first.stats.sent + second.stats.sent == 30


async def test_dispatcher_batches_until_nothing_is_due(h):
    for n in range(20):  # batch_size is 7
        h.open(str(3000 + n))
    h.clock.advance(ACK)
    dispatcher = h.dispatcher()
    assert await dispatcher.run_due() == 40
    assert h.count(FollowUp, FollowUp.kind == "sla_ack", FollowUp.status == FollowUpStatus.SENT) == 20
    assert h.count(OutboundMessage, OutboundMessage.channel == "staff") == 20
