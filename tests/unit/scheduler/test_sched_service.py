"""Test the scheduler service with the real APScheduler: wake-ups at due times, stand-by, take-over.

These run on the wall clock for about a second each; nothing waits for minutes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.__main__ import main as bot_main
from bot.scheduler.dispatcher import Dispatcher
from bot.scheduler.handlers import BaseHandler, Outcome
from bot.scheduler.service import SchedulerService
from bot.scheduler.store import FollowUpQueue
from crm_store.clock import SystemClock
from crm_store.model import FollowUp, FollowUpStatus, OutboundMessage, OutboundStatus
from crm_store.recovery_policy import parse_policy

POLICY = parse_policy({"scheduler": {"safety_tick": "1s", "standby_poll": "1s", "stale_claim_after": "1m"}})
SLOW_TICK = parse_policy({"scheduler": {"safety_tick": "30s", "standby_poll": "1s"}})


class Ping(BaseHandler):
    """Write one sink row per follow-up."""

    kind = "ping"

    def apply(self, tx: Any, job: Any, prepared: Any, now: datetime) -> Outcome:
        """Record the effect and its lateness."""
        tx.session.add(OutboundMessage(channel="sink", recipient=job.idempotency_key, status=OutboundStatus.SENT,
                                       body={"late": (now - job.due_at).total_seconds()}))
        return Outcome.sent()


class Gate:
    """A leadership that is free or taken on demand."""

    exclusive = True

    def __init__(self, free: bool) -> None:
        self.free = free
        self.held = False

    def try_acquire(self) -> bool:
        self.held = self.free
        return self.held

    def still_held(self) -> bool:
        return self.held and self.free

    def release(self) -> None:
        self.held = False


def _service(h, leadership, policy=POLICY, worker="w1"):
    dispatcher = Dispatcher(FollowUpQueue(h.sessions, worker), {"ping": Ping(policy)}, policy, SystemClock(),
                            h.notifier)
    return SchedulerService(dispatcher, leadership, policy)


def _seed(h, key, due_at):
    with h.uow() as uow:
        uow.followups.schedule(kind="ping", subject="s", due_at=due_at, idempotency_key=key,
                               now=datetime.now(timezone.utc), payload={})
        uow.commit()


async def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def _sinks(h):
    return h.all(OutboundMessage, OutboundMessage.channel == "sink")


async def test_service_wakes_at_the_next_due_time_not_the_tick(h):
    _seed(h, "p:1", datetime.now(timezone.utc) + timedelta(milliseconds=600))
    service, stop = _service(h, Gate(True), SLOW_TICK), asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        assert await _wait_for(lambda: len(_sinks(h)) == 1, 3)
    finally:
        stop.set()
        await task
    [sink] = _sinks(h)
    assert 0 <= sink.body["late"] < 0.5


async def test_service_safety_tick_finds_rows_written_by_other_processes(h):
    service, stop = _service(h, Gate(True)), asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        assert await _wait_for(service.leading.is_set, 2)
        await asyncio.sleep(0.1)
        _seed(h, "p:2", datetime.now(timezone.utc))
        assert await _wait_for(lambda: len(_sinks(h)) == 1, 3)
    finally:
        stop.set()
        await task


async def test_service_stands_by_until_the_lock_is_free(h):
    _seed(h, "p:3", datetime.now(timezone.utc))
    gate = Gate(False)
    service, stop = _service(h, gate), asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await asyncio.sleep(0.5)
        assert _sinks(h) == [] and not service.leading.is_set()
        gate.free = True
        assert await _wait_for(lambda: len(_sinks(h)) == 1, 3)
    finally:
        stop.set()
        await task


async def test_service_steps_down_when_the_lock_is_lost(h):
    gate = Gate(True)
    service, stop = _service(h, gate), asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        assert await _wait_for(service.leading.is_set, 2)
        gate.free = False
        assert await _wait_for(lambda: not service.leading.is_set(), 3)
        _seed(h, "p:4", datetime.now(timezone.utc))
        await asyncio.sleep(1.2)
        assert _sinks(h) == []
    finally:
        stop.set()
        await task


async def test_service_takes_over_claims_of_a_dead_leader_at_once(h):
    _seed(h, "p:5", datetime.now(timezone.utc))
    dead = FollowUpQueue(h.sessions, "dead")
    [job] = dead.due(datetime.now(timezone.utc), ["ping"], 10)
    dead.claim(job, datetime.now(timezone.utc))
    service, stop = _service(h, Gate(True)), asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        assert await _wait_for(lambda: len(_sinks(h)) == 1, 3)
    finally:
        stop.set()
        await task
    [row] = h.all(FollowUp)
    assert (row.status, row.attempts) == (FollowUpStatus.SENT, 2)


def test_bot_scheduler_command_bad_policy_exits_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("defaults:\n  ack: soon\n")
    monkeypatch.setenv("POLICY_FILE", str(bad))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/crm.db")
    assert bot_main(["scheduler"]) == 2
    assert "bad.yml: defaults.ack: expected a duration" in capsys.readouterr().err
