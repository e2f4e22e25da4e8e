"""Run the real Telegram gateway against the fake Bot API and a fake Rasa, over loopback HTTP."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.rasa_client import RasaClient
from bot.telegram.bootstrap import GatewayRuntime, bootstrap
from bot.telegram.gateway import GatewayConfig
from bot.telegram.staff_desk import StaffDeskConfig
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.recovery_policy import RecoveryPolicy, parse_policy
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.rasa_server import FakeRasa

FAST = GatewayConfig(retry_interval_s=0.2, poll_timeout_s=1.0, send_backoff_s=0.05, send_attempts=3)
STAFF_CHAT = -1001234567890
STAFF_USER = 501  # allowed by STAFF_USER_IDS
STAFF_TIMEZONE = "Europe/Rome"
STAFF_POLICY: RecoveryPolicy = parse_policy(
    {
        "version": 1,
        "ladder": ["front_desk", "duty_manager", "general_manager"],
        "defaults": {"ack": "15m", "resolve": "4h"},
        "severities": {"high": {"ack": "5m", "resolve": "1h"}},
        "categories": {"maintenance": {"gestures": ["complimentary_drink"]}},
    },
    source="test-policy",
    timezone_name=STAFF_TIMEZONE,
)


@pytest.fixture(scope="session")
def tg_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; each test copies it."""
    path = tmp_path_factory.mktemp("tg_template") / "hotel.db"
    migrate(f"sqlite:///{path}")
    return path


@dataclass
class Harness:
    """Give a test the running gateway, the fakes around it and a way to peek at the database."""

    bot_api: FakeBotApi
    rasa: FakeRasa
    runtime: GatewayRuntime
    session_factory: sessionmaker

    def count(self, model: Any, *criteria: Any) -> int:
        """Count rows of ``model`` matching ``criteria``."""
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one())

    def rows(self, model: Any, *criteria: Any) -> list[Any]:
        """Return rows of ``model`` matching ``criteria``, by id."""
        with self.session_factory() as session:
            return list(session.execute(select(model).where(*criteria).order_by(model.id)).scalars())


@contextlib.asynccontextmanager
async def running_gateway(
    db_path: Path, template: Path, env: dict[str, str] | None = None, **bootstrap_kwargs: Any
) -> AsyncIterator[Harness]:
    """Start the fake Bot API, the fake Rasa and the gateway (long polling) on a copy of ``template``."""
    shutil.copy(template, db_path)
    bot_api = FakeBotApi()
    await bot_api.start()
    rasa = FakeRasa()
    await rasa.start()
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": bot_api.token,
            "TELEGRAM_API_URL": bot_api.url,
            "RASA_URL": rasa.url,
            "DATABASE_URL": f"sqlite:///{db_path}",
            **(env or {}),
        }
    )
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    client = RasaClient(settings.rasa_url, timeout_s=5)
    runtime = bootstrap(
        settings, session_factory=session_factory, clock=SystemClock(), rasa=client, config=FAST, **bootstrap_kwargs
    )
    await runtime.start()
    try:
        yield Harness(bot_api, rasa, runtime, session_factory)
    finally:
        await runtime.stop()
        await client.close()
        await rasa.stop()
        await bot_api.stop()
        engine.dispose()


@pytest.fixture
async def harness(tmp_path: Path, tg_template_db: Path) -> AsyncIterator[Harness]:
    """Start the fake Bot API, the fake Rasa and the gateway (long polling); stop them afterwards."""
    async with running_gateway(tmp_path / "hotel.db", tg_template_db) as started:
        yield started


@pytest.fixture
async def staff_harness(tmp_path: Path, tg_template_db: Path) -> AsyncIterator[Harness]:
    """Like ``harness``, with the staff desk on: staff chat STAFF_CHAT, STAFF_USER allow-listed, fast rounds."""
    env = {
        "STAFF_CHAT_ID": str(STAFF_CHAT),
        "STAFF_USER_IDS": str(STAFF_USER),
        "HOTEL_TIMEZONE": STAFF_TIMEZONE,
    }
    desk = StaffDeskConfig(
        chat_id=STAFF_CHAT, user_ids=frozenset({STAFF_USER}), timezone=STAFF_TIMEZONE,
        handoff_idle=timedelta(minutes=30), interval_s=0.2,
    )
    async with running_gateway(tmp_path / "hotel.db", tg_template_db, env, policy=STAFF_POLICY, desk_config=desk) as started:
        yield started
