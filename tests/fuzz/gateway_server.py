"""Run the real Telegram gateway (webhook mode) with the Bot API fake and a Rasa stand-in, for the fuzz test.

The gateway, the fakes and hypothesis (in the test process) each run in their own process, so they share the
CPU cores instead of one interpreter lock. ``--role fakes --control C`` prints ``READY <bot api url> <rasa
url>``; its control port answers ``GET /state`` (what Rasa received, what the bot sent). ``--role gateway --db
FILE --port P --control C --bot-api URL --rasa URL`` prints ``READY`` once the gateway listens on P; its control
port answers ``GET /logs`` (the captured log text). Both stop on ``POST /stop``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import hashlib
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

import bot.telegram.bootstrap as bootstrap_module
from bot.rasa_client import RasaClient
from bot.telegram.bootstrap import bootstrap
from bot.telegram.delivery import PerChatRateLimiter
from bot.telegram.gateway import GatewayConfig
from bot.telegram.staff_desk import StaffDeskConfig
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.recovery_policy import parse_policy
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.rasa_server import FakeRasa
from tests.fuzz.harness import LogCapture

SECRET = "fuzz-secret_token-42"
HOOK_PATH = "/tg-hook"
STAFF_CHAT = -1009990001
STAFF_USER = 880001
FAST = GatewayConfig(retry_interval_s=0.5, poll_timeout_s=1.0, send_backoff_s=0.01, send_attempts=2)
POLICY = parse_policy(
    {"version": 1, "ladder": ["front_desk", "duty_manager"], "defaults": {"ack": "15m", "resolve": "4h"}},
    source="fuzz-policy",
    timezone_name="UTC",
)


def answer_key(text: str) -> str:
    """Return the Rasa stand-in's answer to ``text``: short, and different for every text."""
    return "echo: " + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def reply_by_hash(sender: str, text: str) -> list[dict[str, Any]]:
    """Answer every message with one short text derived from it."""
    return [{"text": answer_key(text)}]


async def _control(port: int, routes: dict[str, Any], stop: asyncio.Event) -> web.AppRunner:
    """Serve ``GET /<name>`` for each route (a function returning JSON) and ``POST /stop`` on ``port``."""

    def getter(fn: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            return web.json_response(fn())

        return handle

    async def do_stop(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    control = web.Application()
    for name, fn in routes.items():
        control.router.add_get(f"/{name}", getter(fn))
    control.router.add_post("/stop", do_stop)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def serve_fakes(control_port: int) -> None:
    """Run the Bot API fake and the Rasa stand-in; print READY with their URLs; run until POST /stop."""
    bot_api, rasa = FakeBotApi(), FakeRasa(default=reply_by_hash)
    await bot_api.start()
    await rasa.start()
    stop = asyncio.Event()
    runner = await _control(control_port, {
        "state": lambda: {"rasa": [[sender, text] for sender, text in rasa.received],
                          "sent": [[m["chat"]["id"], m.get("text")] for m in bot_api.sent],
                          "token": bot_api.token},
    }, stop)
    print(f"READY {bot_api.url} {rasa.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await rasa.stop()
        await bot_api.stop()
        await runner.cleanup()


async def serve_gateway(db_path: Path, port: int, control_port: int, bot_api_url: str, rasa_url: str) -> None:
    """Run the gateway in webhook mode against the fakes; print READY; run until POST /stop."""
    capture = LogCapture()
    capture.__enter__()
    # The flood limits (30/s overall, about 1/s per chat) have their own tests; lifted here so 10,000 updates fit.
    bootstrap_module.PerChatRateLimiter = functools.partial(  # type: ignore[misc]
        PerChatRateLimiter, overall_max_rate=0, group_max_rate=0, chat_burst=1_000_000, chat_period_s=1.0
    )
    settings = dataclasses.replace(
        load_settings({"TELEGRAM_BOT_TOKEN": FakeBotApi.token, "TELEGRAM_API_URL": bot_api_url, "RASA_URL": rasa_url,
                       "DATABASE_URL": f"sqlite:///{db_path}", "STAFF_CHAT_ID": str(STAFF_CHAT),
                       "STAFF_USER_IDS": str(STAFF_USER)}),
        telegram_webhook_url=f"http://127.0.0.1:{port}{HOOK_PATH}",  # plain http on loopback for the test only
        telegram_webhook_secret=SECRET,
        telegram_webhook_port=port,
    )
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url, timeout_s=30)
    desk = StaffDeskConfig(chat_id=STAFF_CHAT, user_ids=frozenset({STAFF_USER}), timezone="UTC",
                           handoff_idle=timedelta(minutes=30), interval_s=0.5)
    runtime = bootstrap(settings, session_factory=make_session_factory(engine), clock=SystemClock(), rasa=client,
                        config=FAST, policy=POLICY, desk_config=desk)
    await runtime.start()
    stop = asyncio.Event()
    runner = await _control(control_port, {"logs": lambda: {"logs": capture.text()}}, stop)
    print("READY", flush=True)
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        await client.close()
        await runner.cleanup()
        engine.dispose()
        capture.__exit__()


def main() -> None:
    """Run the fakes (``--role fakes``) or the gateway (``--role gateway``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("fakes", "gateway"), required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--bot-api")
    parser.add_argument("--rasa")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.INFO)
    if args.role == "fakes":
        asyncio.run(serve_fakes(args.control))
    else:
        asyncio.run(serve_gateway(args.db, args.port, args.control, args.bot_api, args.rasa))


if __name__ == "__main__":
    main()
