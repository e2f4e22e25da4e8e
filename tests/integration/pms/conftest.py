"""Run the ops HTTP app with the PMS webhook on a real aiohttp test server over a migrated SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import sessionmaker

from bot.ops_http import build_app
from bot.pms_webhook import PmsWebhook
from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.settings import Settings, load_settings
from pms_harness import NOW, SECRET, Pms  # type: ignore[import-not-found]


@pytest.fixture(scope="session")
def pms_migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per test session; each test copies it."""
    path = tmp_path_factory.mktemp("pms_it_template") / "hotel.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path, pms_migrated_db: Path) -> str:
    """Return the URL of a fresh migrated database."""
    path = tmp_path / "hotel.db"
    shutil.copy(pms_migrated_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def session_factory(db_url: str) -> Iterator[sessionmaker]:
    """Return a session factory on the test database."""
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """Return the server's clock, frozen at 2026-06-01 12:00 UTC."""
    return FixedClock(NOW)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Return settings with a webhook secret and a Berlin hotel."""
    return load_settings({"DATABASE_URL": db_url, "PMS_WEBHOOK_SECRET": SECRET, "HOTEL_TIMEZONE": "Europe/Berlin"})


@pytest.fixture
async def pms(settings: Settings, session_factory: sessionmaker, clock: FixedClock) -> AsyncIterator[Pms]:
    """Start the ops app with the PMS webhook on a loopback test server."""
    app = build_app([], pms=PmsWebhook(session_factory, clock, settings))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Pms(client, session_factory, clock)
    finally:
        await client.close()
