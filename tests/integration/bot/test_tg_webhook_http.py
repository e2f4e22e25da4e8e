"""Run the gateway in webhook mode: the fake Bot API pushes updates with the secret token header."""

from __future__ import annotations

import dataclasses
import shutil
import socket
from pathlib import Path

import aiohttp

from bot.rasa_client import RasaClient
from bot.telegram.bootstrap import bootstrap
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.rasa_server import FakeRasa
from bot.telegram.gateway import GatewayConfig

GUEST = 5151
SECRET = "s3cret-token_for-tests"
FAST = GatewayConfig(retry_interval_s=0.2, poll_timeout_s=1.0, send_backoff_s=0.05, send_attempts=3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_gateway_webhook_mode_secret_token_checked_and_updates_answered(
    tmp_path: Path, tg_template_db: Path
) -> None:
    db_path = tmp_path / "hotel.db"
    shutil.copy(tg_template_db, db_path)
    bot_api, rasa = FakeBotApi(), FakeRasa()
    await bot_api.start()
    await rasa.start()
    port = free_port()
    settings = dataclasses.replace(
        load_settings({"TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_API_URL": bot_api.url,
                       "RASA_URL": rasa.url, "DATABASE_URL": f"sqlite:///{db_path}"}),
        telegram_webhook_url=f"http://127.0.0.1:{port}/tg-hook",  # plain http on loopback for the test only
        telegram_webhook_secret=SECRET,
        telegram_webhook_port=port,
    )
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url, timeout_s=5)
    runtime = bootstrap(settings, session_factory=make_session_factory(engine), clock=SystemClock(),
                        rasa=client, config=FAST)
    await runtime.start()
    try:
        assert bot_api.webhook == {"url": f"http://127.0.0.1:{port}/tg-hook", "secret_token": SECRET}
        async with aiohttp.ClientSession() as session:
            forged = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": GUEST, "type": "private"},
                                                  "text": "forged"}}
            async with session.post(f"http://127.0.0.1:{port}/tg-hook", json=forged,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                assert resp.status == 403
        bot_api.send_text(GUEST, "hello by webhook")
        sent = await bot_api.wait_for_sent(GUEST, 1)
        assert sent[0]["text"] == "echo: hello by webhook"
        assert rasa.received == [(f"tg:{GUEST}", "hello by webhook")]
    finally:
        await runtime.stop()
        await client.close()
        await rasa.stop()
        await bot_api.stop()
        engine.dispose()
