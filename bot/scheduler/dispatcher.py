"""Dispatch due follow-ups exactly once: claim, prepare, settle with effects; retry, give up, recover.

For each due row: a guest-facing row in quiet hours is moved to the next allowed time (unclaimed);
otherwise the row is claimed by a conditional update, a row later than its kind's misfire grace is
handed to the handler's ``misfired``, and any other row is prepared (outside work) and settled together
with its effects in one transaction. A failure puts the row back to pending with exponential backoff;
after ``max_attempts`` it is marked failed and staff are told, in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.notify import FollowUpFailure, StaffNotifier
from bot.scheduler.handlers import Handler, Outcome
from bot.scheduler.store import FollowUpQueue, Job, LostClaim
from crm_store.clock import Clock
from crm_store.recovery_policy import RecoveryPolicy
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

RECOVER_EVERY = timedelta(seconds=5)


@dataclass
class DispatchStats:
    """Count what the dispatcher did since it started (for logs, tests and the benchmark)."""

    sent: int = 0
    cancelled: int = 0
    deferred: int = 0
    postponed: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    recovered: int = 0
    lateness_s: list[float] = field(default_factory=list)


class Dispatcher:
    """Run every due follow-up through its handler; one pass at a time."""

    def __init__(
        self,
        queue: FollowUpQueue,
        handlers: Mapping[str, Handler],
        policy: RecoveryPolicy,
        clock: Clock,
        notifier: StaffNotifier,
        *,
        keep_lateness: bool = False,
        serialize_writes: bool = False,
    ) -> None:
        """Wire the queue, the handlers by kind, the policy, the clock and the staff notifier.

        ``serialize_writes``: run one database write at a time (SQLite has one writer; threads racing
        for it only sleep in its busy handler), while outside calls (Rasa) still overlap.
        """
        self.queue = queue
        self.handlers = dict(handlers)
        self.policy = policy
        self.clock = clock
        self.notifier = notifier
        self.stats = DispatchStats()
        self._keep_lateness = keep_lateness
        self._pass_lock = asyncio.Lock()
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if serialize_writes else None
        self._stopping = False
        self._last_recover: datetime | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """Return the follow-up kinds this dispatcher handles (other kinds are left alone)."""
        return tuple(self.handlers)

    def stop(self) -> None:
        """Finish the job in hand and start no new one."""
        self._stopping = True

    def resume(self) -> None:
        """Accept work again after a stop (a stand-by that becomes active again)."""
        self._stopping = False

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one blocking database call in a worker thread (one at a time if writes are serialized)."""
        if self._write_lock is None:
            return await asyncio.to_thread(fn, *args)
        async with self._write_lock:
            return await asyncio.to_thread(fn, *args)

    @property
    def busy(self) -> bool:
        """Tell whether a pass is running (a pass re-reads due rows until none is left)."""
        return self._pass_lock.locked()

    async def idle(self) -> None:
        """Wait until the current pass (if any) has finished."""
        async with self._pass_lock:
            return

    async def recover_claims(self, *, all_claims: bool = False) -> int:
        """Put claims of dead (or, with ``all_claims``, of any other) dispatchers back to pending."""
        now = self.clock.now()
        cutoff = None if all_claims else now - self.policy.dispatch.stale_claim_after
        count = await self._db(self.queue.recover, now, cutoff)
        self._last_recover = now
        if count:
            self.stats.recovered += count
            log.warning("recovered %d claimed follow-up(s) left by a stopped dispatcher", count)
        return count

    async def next_due_at(self) -> datetime | None:
        """Return when the next handled follow-up is due."""
        return await asyncio.to_thread(self.queue.next_due_at, self.kinds)

    async def run_due(self) -> int:
        """Dispatch everything due now, batch after batch; return how many rows were handled."""
        async with self._pass_lock:
            now = self.clock.now()
            if self._last_recover is None or now - self._last_recover >= RECOVER_EVERY:
                await self.recover_claims()
            handled = 0
            rules = self.policy.dispatch
            gate = asyncio.Semaphore(rules.concurrency)

            async def one(job: Job) -> bool:
                async with gate:
                    if self._stopping:
                        return False
                    return await self._dispatch(job)

            while not self._stopping:
                jobs = await asyncio.to_thread(self.queue.due, self.clock.now(), self.kinds, rules.batch_size)
                if not jobs:
                    break
                progress = await asyncio.gather(*(one(job) for job in jobs))
                handled += sum(progress)
                if not any(progress):
                    break
            return handled

    async def _dispatch(self, job: Job) -> bool:
        """Handle one due row; return whether it made progress (False when the database refused)."""
        handler = self.handlers[job.kind]
        now = self.clock.now()
        grace = handler.misfire_grace()
        misfired = grace is not None and now - job.due_at > grace
        try:
            if handler.guest_facing and not misfired:
                allowed = self.policy.next_guest_time(now)
                if allowed > now:
                    if await self._db(self.queue.postpone, job, allowed, now):
                        self.stats.postponed += 1
                        log.info("%s %s postponed to the end of quiet hours", job.kind, job.subject)
                    return True
            if misfired:
                log.warning("%s %s is %s late (grace %s): misfire rule applies",
                            job.kind, job.subject, now - job.due_at, grace)
            if not handler.external:
                return await self._run_once(handler, job, now, misfired)
            claimed = await self._db(self.queue.claim, job, now)
        except Exception as exc:  # noqa: BLE001 - a busy database must not stop the pass
            log.warning("could not claim %s %s: %s", job.kind, job.subject, type(exc).__name__)
            return False
        if claimed is None:
            self.stats.lost += 1
            return True
        try:
            if misfired:
                outcome = await self._db(self._settle, claimed, now, handler, None, True)
            else:
                prepared = await handler.prepare(claimed)
                outcome = await self._db(self._settle, claimed, self.clock.now(), handler, prepared, False)
        except LostClaim:
            self.stats.lost += 1
            log.warning("%s %s: claim was recovered by another dispatcher; effects rolled back", job.kind, job.subject)
            return True
        except Exception as exc:  # noqa: BLE001 - every failure is retried, then reported
            await self._retry_or_fail(claimed, exc)
            return True
        self._count(outcome, claimed, now)
        return True

    async def _run_once(self, handler: Handler, job: Job, now: datetime, misfired: bool) -> bool:
        """Claim, apply and settle a database-only row in one transaction; record a failure apart."""

        def work(tx: SqlUnitOfWork, mine: Job) -> tuple[str, datetime | None, Outcome]:
            outcome = handler.misfired(tx, mine, now) if misfired else handler.apply(tx, mine, None, now)
            return outcome.status, outcome.until, outcome

        try:
            outcome = await self._db(self.queue.run_once, job, now, work)
        except Exception as exc:  # noqa: BLE001 - nothing was committed; count the attempt and back off
            claimed = await self._db(self.queue.claim, job, now)
            if claimed is not None:
                await self._retry_or_fail(claimed, exc)
            return True
        if outcome is None:
            self.stats.lost += 1
            return True
        self._count(outcome, job, now)
        return True

    def _settle(self, job: Job, now: datetime, handler: Handler, prepared: Any, misfired: bool) -> Outcome:
        def work(tx: SqlUnitOfWork) -> tuple[str, datetime | None, Outcome]:
            outcome = handler.misfired(tx, job, now) if misfired else handler.apply(tx, job, prepared, now)
            return outcome.status, outcome.until, outcome

        return self.queue.settle(job, now, work)

    def _count(self, outcome: Outcome, job: Job, now: datetime) -> None:
        if outcome.status == "sent":
            self.stats.sent += 1
            if self._keep_lateness:
                self.stats.lateness_s.append((now - job.due_at).total_seconds())
        elif outcome.status == "cancelled":
            self.stats.cancelled += 1
        else:
            self.stats.deferred += 1
        log.debug("%s %s -> %s (%s)", job.kind, job.subject, outcome.status, outcome.note or "")

    async def _retry_or_fail(self, job: Job, exc: Exception) -> None:
        now = self.clock.now()
        rules = self.policy.dispatch
        error = f"{type(exc).__name__}: {exc}"
        retry_at: datetime | None = None
        if job.attempts < rules.max_attempts:
            retry_at = now + rules.backoff(job.attempts)
            if self.handlers[job.kind].guest_facing:
                retry_at = self.policy.next_guest_time(retry_at)
        failure = FollowUpFailure(kind=job.kind, subject=job.subject, attempts=job.attempts, error=type(exc).__name__)

        def on_failed(tx: SqlUnitOfWork) -> None:
            self.notifier.followup_failed(tx, failure)

        try:
            result = await self._db(self.queue.retry_or_fail, job, now, error, retry_at, on_failed)
        except Exception as db_exc:  # noqa: BLE001 - the stale-claim recovery will pick the row up again
            log.error("could not record the failure of %s %s: %s", job.kind, job.subject, type(db_exc).__name__)
            return
        if result == "retry":
            self.stats.retried += 1
            log.warning("%s %s failed (attempt %d, %s); retrying at %s",
                        job.kind, job.subject, job.attempts, type(exc).__name__, retry_at)
        elif result == "failed":
            self.stats.failed += 1
            log.error("%s %s failed %d times (%s); given up and staff told",
                      job.kind, job.subject, job.attempts, type(exc).__name__)
        else:
            self.stats.lost += 1
