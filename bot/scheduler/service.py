"""Run the scheduler process: lead (or stand by), let APScheduler wake the dispatcher, stop cleanly.

APScheduler holds only two in-memory jobs: a one-shot wake-up at the next due time and a periodic
safety tick (which also picks up rows written by other processes). Nothing is stored in APScheduler;
after a restart the dispatcher catches up from the FollowUp rows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from bot.notify import OutboxStaffNotifier, StaffNotifier
from bot.rasa_client import RasaClient
from bot.scheduler.dispatcher import Dispatcher
from bot.scheduler.handlers import Handler, TriggerIntent, default_handlers
from bot.scheduler.leader import Leadership, leadership_for
from bot.scheduler.messenger import GuestMessenger, OutboxGuestMessenger
from bot.scheduler.store import FollowUpQueue
from crm_store.clock import Clock, SystemClock
from crm_store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, make_session_factory
from crm_store.db import _sqlite_on_connect as sqlite_pragmas
from crm_store.recovery_policy import RecoveryPolicy, load_policy_for
from crm_store.settings import Settings
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

WAKE_JOB = "wake"
TICK_JOB = "tick"
LOCK_CHECK_S = 1.0  # how often the active scheduler checks it still holds the lock


def worker_name() -> str:
    """Return this process's claim name: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


class SchedulerService:
    """Lead or stand by; while leading, wake the dispatcher at due times and on a safety tick."""

    def __init__(self, dispatcher: Dispatcher, leadership: Leadership, policy: RecoveryPolicy) -> None:
        """Wire the dispatcher, the leadership lock and the policy (tick and stand-by intervals)."""
        self.dispatcher = dispatcher
        self.leadership = leadership
        self.policy = policy
        self._aps: AsyncIOScheduler | None = None
        self.leading = asyncio.Event()
        self._lost = False

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: stand by until we hold the lock, then lead until stopped or lost.

        A database failure while leading (PostgreSQL restarted, connection cut) makes this scheduler
        step down and compete for the lock again; it never ends the process.
        """
        standby_logged = False
        poll = self.policy.dispatch.standby_poll.total_seconds()
        # A lock that can wait in the database (PostgreSQL) is handed the whole poll interval: the
        # stand-by then takes over as soon as the active scheduler's session ends.
        wait_for_lock = getattr(self.leadership, "acquire_within", None)
        try:
            while not stop.is_set():
                waited = False
                started = time.monotonic()
                try:
                    if wait_for_lock is not None:
                        acquired = await asyncio.to_thread(wait_for_lock, poll)
                        # Only a full wait replaces the poll's sleep (never spin on a quick refusal).
                        waited = time.monotonic() - started >= poll / 2
                    else:
                        acquired = await asyncio.to_thread(self.leadership.try_acquire)
                except Exception as exc:  # noqa: BLE001 - the database may be briefly unreachable
                    log.warning("could not try the scheduler lock: %s", type(exc).__name__)
                    acquired = False
                    waited = False
                if not acquired:
                    if not standby_logged:
                        log.info("another scheduler is active; standing by")
                        standby_logged = True
                    if not waited:
                        await _sleep_or_stop(stop, poll)
                    continue
                standby_logged = False
                try:
                    await self._lead(stop)
                except Exception as exc:  # noqa: BLE001 - step down, then compete again
                    log.error("the active scheduler failed (%s); stepping down", type(exc).__name__)
                    await self._step_down()
                    await _sleep_or_stop(stop, poll)
                    continue
                if not stop.is_set():
                    await self._step_down()
        finally:
            await self._step_down()

    async def _step_down(self) -> None:
        """Release the lock (or drop its dead connection) so that the next attempt starts afresh."""
        try:
            await asyncio.to_thread(self.leadership.release)
        except Exception as exc:  # noqa: BLE001 - a dead session has released the lock already
            log.warning("could not release the scheduler lock cleanly: %s", type(exc).__name__)

    async def _lead(self, stop: asyncio.Event) -> None:
        """Catch up, then keep dispatching until stopped or the lock is lost."""
        log.info("this scheduler is now the active dispatcher (worker %s)", self.dispatcher.queue.worker)
        self._lost = False
        self.dispatcher.resume()
        tick = self.policy.dispatch.safety_tick.total_seconds()
        check_every = min(tick, LOCK_CHECK_S)
        aps: AsyncIOScheduler | None = None
        try:
            await self.dispatcher.recover_claims(all_claims=self.leadership.exclusive)
            aps = AsyncIOScheduler(timezone=timezone.utc)
            self._aps = aps
            aps.add_job(
                self.wake, IntervalTrigger(seconds=tick, timezone=timezone.utc), id=TICK_JOB,
                max_instances=3, coalesce=True, misfire_grace_time=None,
            )
            aps.start()
            self.leading.set()
            await self.wake()
            while not stop.is_set() and not self._lost:
                await _sleep_or_stop(stop, check_every)
                if stop.is_set():
                    break
                if not await asyncio.to_thread(self.leadership.still_held):
                    self._lost = True
            if self._lost:
                log.error("lost the scheduler lock (database session ended); stepping down")
        finally:
            self.leading.clear()
            self.dispatcher.stop()
            if aps is not None:
                aps.shutdown(wait=False)
            self._aps = None
            await self.dispatcher.idle()

    async def wake(self) -> None:
        """Dispatch what is due, then book a wake-up at the next due time (no-op while a pass runs)."""
        if self.dispatcher.busy or self._lost:
            return
        try:
            # Never dispatch on a lock we may have lost (e.g. PostgreSQL restarted since the last check).
            if not await asyncio.to_thread(self.leadership.still_held):
                self._lost = True
                self.dispatcher.stop()
                return
            await self.dispatcher.run_due()
            next_due = await self.dispatcher.next_due_at()
        except Exception as exc:  # noqa: BLE001 - the safety tick tries again
            log.error("dispatch pass failed: %s", type(exc).__name__)
            return
        if next_due is not None:
            self.schedule_wake(next_due)

    def schedule_wake(self, at: datetime) -> None:
        """Book (or move) the one-shot wake-up job to ``at``."""
        aps = self._aps
        if aps is None or not aps.running:
            return
        aps.add_job(
            self.wake, DateTrigger(run_date=at, timezone=timezone.utc), id=WAKE_JOB,
            replace_existing=True, max_instances=3, misfire_grace_time=None,
        )


def scheduler_engine(url: str, pool_size: int) -> Engine:
    """Return an engine like make_engine's, except that SQLite keeps its connections open (QueuePool).

    make_engine gives SQLite files a NullPool, which reconnects and re-runs the PRAGMAs for every
    transaction; the dispatcher runs two short transactions per follow-up, so it pools them.
    """
    engine = make_engine(url)
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    pooled = create_engine(
        engine.url,
        future=True,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    engine.dispose()
    event.listen(pooled, "connect", sqlite_pragmas)
    return pooled


def build_service(
    settings: Settings,
    policy: RecoveryPolicy,
    *,
    clock: Clock | None = None,
    rasa: TriggerIntent | None = None,
    notifier: StaffNotifier | None = None,
    messenger: GuestMessenger | None = None,
    lock_mode: str = "auto",
    extra_handlers: Mapping[str, Handler] | None = None,
    keep_lateness: bool = False,
) -> tuple[SchedulerService, list[object]]:
    """Build the scheduler from settings; return it and the resources to close (engine, Rasa client)."""
    clock = clock or SystemClock()
    engine = scheduler_engine(settings.database_url, policy.dispatch.concurrency + 2)
    sessions = make_session_factory(engine)
    own: list[object] = [engine]
    if rasa is None:
        client = RasaClient(settings.rasa_client_urls, settings.rasa_token)
        own.append(client)
        rasa = client
    failure_rung = policy.ladder[1] if len(policy.ladder) > 1 else policy.ladder[0]
    notifier = notifier or OutboxStaffNotifier(clock, failure_recipient=failure_rung)
    messenger = messenger or OutboxGuestMessenger(clock)
    handlers = default_handlers(
        policy, rasa=rasa, messenger=messenger, notifier=notifier,
        uow_factory=lambda: SqlUnitOfWork(sessions), clock=clock,
    )
    handlers.update(extra_handlers or {})
    queue = FollowUpQueue(sessions, worker_name())
    dispatcher = Dispatcher(
        queue, handlers, policy, clock, notifier,
        keep_lateness=keep_lateness, serialize_writes=engine.dialect.name == "sqlite",
    )
    leadership = leadership_for(settings.database_url, engine, lock_mode)
    return SchedulerService(dispatcher, leadership, policy), own


async def close_resources(resources: list[object]) -> None:
    """Close what build_service opened."""
    for resource in resources:
        if isinstance(resource, RasaClient):
            await resource.close()
        else:
            dispose = getattr(resource, "dispose", None)
            if dispose is not None:
                dispose()


async def serve_scheduler(settings: Settings, *, lock_mode: str | None = None) -> int:
    """Run the scheduler process until SIGINT or SIGTERM; exit code 2 on a bad policy."""
    policy = load_policy_for(settings)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every wake-up at INFO
    mode = lock_mode or os.environ.get("SCHEDULER_LOCK", "auto")
    service, resources = build_service(settings, policy, lock_mode=mode)
    log.info(
        "scheduler starting: policy %s, tick %ss, lock %s",
        policy.source, policy.dispatch.safety_tick.total_seconds(), type(service.leadership).__name__,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.run(stop)
    finally:
        await close_resources(resources)
    log.info("scheduler stopped")
    return 0
