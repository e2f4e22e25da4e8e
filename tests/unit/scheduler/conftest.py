"""Give scheduler unit tests a migrated SQLite CRM, a fixed clock, a fake Rasa and a dispatcher factory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.notify import OutboxStaffNotifier
from bot.scheduler.dispatcher import Dispatcher
from bot.scheduler.handlers import default_handlers
from bot.scheduler.messenger import OutboxGuestMessenger
from bot.scheduler.store import FollowUpQueue
from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.recovery_policy import RecoveryPolicy, parse_policy
from crm_store.services import cases
from crm_store.services.complaints import open_complaint
from crm_store.unit_of_work import SqlUnitOfWork

START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
ACK = timedelta(minutes=10)
DELAY = timedelta(minutes=30)
AUTOCLOSE = timedelta(hours=12)


class FakeRasa:
    """Answer trigger_intent like Rasa's HTTP API, recording calls; can fail or stay silent on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.failures = 0
        self.silent = False

    async def trigger_intent(self, sender_id: str, intent: str, entities: dict[str, Any] | None = None):
        """Record the call and return one message with buttons (or fail / return nothing)."""
        self.calls.append((sender_id, intent, entities))
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("rasa down")
        if self.silent:
            return []
        reference = (entities or {}).get("recovery_reference")
        return [{"recipient_id": sender_id, "text": f"Is {reference} fixed?",
                 "buttons": [{"title": "Yes", "payload": "/affirm"}]}]


@pytest.fixture(scope="session")
def sched_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("sched_template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sessions(tmp_path: Path, sched_template: Path) -> Iterator[sessionmaker]:
    """Return a session factory on a fresh migrated database."""
    path = tmp_path / "crm.db"
    shutil.copy(sched_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """Return a clock frozen at 2026-06-01 12:00 UTC."""
    return FixedClock(START)


@pytest.fixture
def policy() -> RecoveryPolicy:
    """Return a small explicit policy with fast retries and a one-day misfire grace for guest asks."""
    return parse_policy(
        {
            "quiet_hours": None,
            "defaults": {"ack": "10m", "resolve": "2h", "follow_up_delay": "30m", "auto_close_after": "12h"},
            "scheduler": {
                "max_attempts": 3, "retry_backoff": "10s", "retry_backoff_max": "1m",
                "stale_claim_after": "2m", "batch_size": 7, "concurrency": 3,
                "misfire": {"recovery_ask": "1d"},
            },
        }
    )


@pytest.fixture
def rasa() -> FakeRasa:
    """Return the fake Rasa."""
    return FakeRasa()


class Harness:
    """Build dispatchers and seed and inspect the database."""

    def __init__(self, sessions: sessionmaker, clock: FixedClock, policy: RecoveryPolicy, rasa: FakeRasa) -> None:
        self.sessions = sessions
        self.clock = clock
        self.policy = policy
        self.rasa = rasa
        self.notifier = OutboxStaffNotifier(clock)
        self.messenger = OutboxGuestMessenger(clock)

    def uow(self) -> SqlUnitOfWork:
        """Return a unit of work."""
        return SqlUnitOfWork(self.sessions)

    def dispatcher(self, worker: str = "w1", policy: RecoveryPolicy | None = None) -> Dispatcher:
        """Return a dispatcher with the default handlers."""
        policy = policy or self.policy
        handlers = default_handlers(
            policy, rasa=self.rasa, messenger=self.messenger, notifier=self.notifier, uow_factory=self.uow
        )
        return Dispatcher(FollowUpQueue(self.sessions, worker), handlers, policy, self.clock, self.notifier,
                          keep_lateness=True)

    def open(self, external_id: str = "1001", category: str = "maintenance", severity: str = "medium") -> str:
        """Open a complaint for tg:<external_id> and return its reference."""
        return open_complaint(
            self.uow(), self.clock, self.policy, "tg", external_id, category=category, severity=severity,
            room="412", description="the shower is broken",
        ).reference

    def resolved(self, external_id: str = "1001") -> str:
        """Open and resolve a complaint; return its reference."""
        ref = self.open(external_id)
        cases.resolve(self.uow(), self.clock, self.policy, ref, actor="staff:bo")
        return ref

    def count(self, model: Any, *criteria: Any) -> int:
        """Count rows."""
        with self.sessions() as session:
            return int(session.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one())

    def all(self, model: Any, *criteria: Any) -> list[Any]:
        """Return rows by id."""
        with self.sessions() as session:
            return list(session.execute(select(model).where(*criteria).order_by(model.id)).scalars())


@pytest.fixture
def h(sessions: sessionmaker, clock: FixedClock, policy: RecoveryPolicy, rasa: FakeRasa) -> Harness:
    """Return the harness."""
    return Harness(sessions, clock, policy, rasa)
