"""Run the gateway the way `python -m bot serve` does (run_telegram) against the fakes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bot.rasa_client import RasaClient
from bot.serve import run_telegram
from crm_store.db import make_engine
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.rasa_server import FakeRasa


async def test_run_telegram_serves_guests_until_stopped(tmp_path: Path, tg_template_db: Path) -> None:
    shutil.copy(tg_template_db, tmp_path / "hotel.db")
    bot_api, rasa = FakeBotApi(), FakeRasa()
    await bot_api.start()
    await rasa.start()
    settings = load_settings({"TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_API_URL": bot_api.url,
                              "RASA_URL": rasa.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'hotel.db'}"})
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url)
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram(settings, engine, client, stop))
    try:
        await bot_api.wait_for(lambda: bool(bot_api.commands))  # post_init ran
        bot_api.send_text(31, "hello")
        assert (await bot_api.wait_for_sent(31, 1))[0]["text"] == "echo: hello"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await client.close()
        await rasa.stop()
        await bot_api.stop()
        engine.dispose()


async def test_run_telegram_invalid_token_gives_up_without_crashing(tmp_path: Path, tg_template_db: Path) -> None:
    shutil.copy(tg_template_db, tmp_path / "hotel.db")
    bot_api = FakeBotApi()
    await bot_api.start()
    settings = load_settings({"TELEGRAM_BOT_TOKEN": "999:wrong", "TELEGRAM_API_URL": bot_api.url,
                              "DATABASE_URL": f"sqlite:///{tmp_path / 'hotel.db'}"})
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url)
    try:
        await asyncio.wait_for(run_telegram(settings, engine, client, asyncio.Event()), 10)
        assert [c.status for c in bot_api.calls] == []  # refused before any method ran
    finally:
        await client.close()
        await bot_api.stop()
        engine.dispose()
