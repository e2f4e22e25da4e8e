"""Provide the Telegram gateway with in-memory fakes (sender, Rasa) over a migrated SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from bot.telegram.gateway import Gateway, GatewayConfig
from bot.telegram.texts import Texts, load_texts
from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from tests.fakes.gateway_fakes import START, FakeRasaClient, FakeSender, Updates


@pytest.fixture(scope="session")
def tg_unit_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session."""
    path = tmp_path_factory.mktemp("tg_unit") / "hotel.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def session_factory(tmp_path: Path, tg_unit_template: Path) -> Iterator[sessionmaker]:
    """Return a session factory on a fresh copy of the migrated database."""
    path = tmp_path / "hotel.db"
    shutil.copy(tg_unit_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """Return a clock frozen at 2026-06-01 12:00 UTC."""
    return FixedClock(START)


@pytest.fixture(scope="session")
def texts() -> Texts:
    """Return the gateway texts from the domain."""
    return load_texts()


@pytest.fixture
def rasa() -> FakeRasaClient:
    """Return the in-memory Rasa."""
    return FakeRasaClient()


@pytest.fixture
def sender() -> FakeSender:
    """Return the collecting sender."""
    return FakeSender()


@pytest.fixture
def gateway(session_factory, clock, rasa, texts, sender) -> Gateway:
    """Return a gateway wired to the fakes."""
    gw = Gateway(session_factory=session_factory, clock=clock, rasa=rasa, texts=texts, config=GatewayConfig())
    gw.sender = sender
    return gw


@pytest.fixture
def updates() -> Updates:
    """Return the update builder."""
    return Updates()
