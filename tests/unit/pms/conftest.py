"""Provide a migrated SQLite database, a fixed clock and row counters to the PMS feed unit tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.unit_of_work import SqlUnitOfWork

START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def pms_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per test session; each test gets a copy."""
    path = tmp_path_factory.mktemp("pms_template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def session_factory(tmp_path: Path, pms_template_db: Path) -> Iterator[sessionmaker]:
    """Return a session factory on a fresh copy of the migrated database."""
    path = tmp_path / "hotel.db"
    shutil.copy(pms_template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def uow(session_factory: sessionmaker) -> SqlUnitOfWork:
    """Return a unit of work on the test database."""
    return SqlUnitOfWork(session_factory)


@pytest.fixture
def clock() -> FixedClock:
    """Return a clock frozen at 2026-06-01 12:00 UTC."""
    return FixedClock(START)


class Rows:
    """Count and read rows outside the code under test."""

    def __init__(self, session_factory: sessionmaker) -> None:
        self.session_factory = session_factory

    def count(self, model: Any, *criteria: Any) -> int:
        """Count rows of ``model`` matching ``criteria``."""
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one())

    def all(self, model: Any, *criteria: Any) -> list[Any]:
        """Return rows of ``model`` matching ``criteria``, by id."""
        with self.session_factory() as session:
            return list(session.execute(select(model).where(*criteria).order_by(model.id)).scalars())


@pytest.fixture
def rows(session_factory: sessionmaker) -> Rows:
    """Return the row helper."""
    return Rows(session_factory)
