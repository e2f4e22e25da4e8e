"""Provide a migrated SQLite database, a fixed clock and a unit of work to crm_store unit tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.model import Guest, Stay, StayStatus
from crm_store.policy import SlaPolicy
from crm_store.services.guests import identify
from crm_store.unit_of_work import SqlUnitOfWork

START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per test session; each test gets a copy."""
    path = tmp_path_factory.mktemp("crm_template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    """Return the URL of a fresh, migrated SQLite database."""
    path = tmp_path / "var" / "hotel.db"
    path.parent.mkdir()
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Return an engine on the test database."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker:
    """Return a session factory on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def uow(session_factory: sessionmaker) -> SqlUnitOfWork:
    """Return a unit of work on the test database."""
    return SqlUnitOfWork(session_factory)


@pytest.fixture
def clock() -> FixedClock:
    """Return a clock frozen at 2026-06-01 12:00 UTC."""
    return FixedClock(START)


@pytest.fixture
def policy() -> SlaPolicy:
    """Return the default SLA policy."""
    return SlaPolicy()


class Db:
    """Peek at and seed the test database outside the services under test."""

    def __init__(self, session_factory: sessionmaker, clock: FixedClock) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def count(self, model: Any, *criteria: Any) -> int:
        """Count rows of ``model`` matching ``criteria``."""
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one())

    def all(self, model: Any, *criteria: Any) -> list[Any]:
        """Return rows of ``model`` matching ``criteria``, by id."""
        with self.session_factory() as session:
            return list(session.execute(select(model).where(*criteria).order_by(model.id)).scalars())

    def add_stay(
        self,
        guest_id: int,
        *,
        ref: str,
        room: str | None = "412",
        arrival: datetime | None = None,
        nights: int = 3,
        status: StayStatus = StayStatus.IN_HOUSE,
    ) -> int:
        """Insert a stay and return its id (default: in house since yesterday)."""
        arrival = arrival or self.clock.now() - timedelta(days=1)
        with self.session_factory() as session:
            stay = Stay(
                reservation_ref=ref,
                guest_id=guest_id,
                room=room,
                arrival=arrival,
                departure=arrival + timedelta(days=nights),
                status=status,
            )
            session.add(stay)
            session.commit()
            return stay.id

    def verify(self, guest_id: int) -> None:
        """Mark a guest verified."""
        with self.session_factory() as session:
            guest = session.get(Guest, guest_id)
            guest.verified = True
            session.commit()


@pytest.fixture
def db(session_factory: sessionmaker, clock: FixedClock) -> Db:
    """Return the database helper."""
    return Db(session_factory, clock)


@pytest.fixture
def guest_id(uow: SqlUnitOfWork, clock: FixedClock) -> int:
    """Create the guest behind ``tg:1001`` and return their id."""
    return identify(uow, clock, "tg", "1001").guest_id
