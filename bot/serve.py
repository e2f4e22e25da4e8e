"""Run the bot process: ops HTTP, plus the Telegram gateway when TELEGRAM_BOT_TOKEN is set (scheduler later)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from sqlalchemy.engine import Engine

from bot.health import action_servers_up, build_checks
from bot.ops_http import build_app
from bot.pms_webhook import PmsWebhook
from bot.rasa_client import RasaClient
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.recovery_policy import load_policy_for
from crm_store.services.stays import SurveyTiming
from crm_store.settings import Settings

logger = logging.getLogger(__name__)

TELEGRAM_START_RETRY_S = 15.0


async def run_telegram(settings: Settings, crm_engine: Engine, rasa: RasaClient, stop: asyncio.Event) -> None:
    """Run the Telegram gateway until ``stop`` is set; retry its start while Telegram is unreachable."""
    from telegram.error import InvalidToken, TelegramError

    from bot.telegram.bootstrap import bootstrap

    while not stop.is_set():
        runtime = bootstrap(
            settings,
            session_factory=make_session_factory(crm_engine),
            clock=SystemClock(),
            rasa=rasa,
            action_server_up=lambda: action_servers_up(settings.known_action_server_urls),
        )
        try:
            await runtime.start()
        except InvalidToken:
            logger.error("Telegram refused TELEGRAM_BOT_TOKEN; the gateway is not running")
            await runtime.stop()
            return
        except TelegramError as exc:
            logger.warning("Telegram unreachable (%s); retrying in %.0f s", type(exc).__name__, TELEGRAM_START_RETRY_S)
            await runtime.stop()
            try:
                await asyncio.wait_for(stop.wait(), TELEGRAM_START_RETRY_S)
            except asyncio.TimeoutError:
                pass
            continue
        try:
            await stop.wait()
        finally:
            await runtime.stop()
        return


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM."""
    crm_engine = make_engine(settings.database_url)
    tracker_engine = make_engine(settings.tracker_store_url)
    rasa = RasaClient(settings.rasa_client_urls, settings.rasa_token)
    checks = build_checks(settings, rasa, crm_engine, tracker_engine)
    timing = SurveyTiming.from_rules(load_policy_for(settings).surveys, settings.tz)
    pms = PmsWebhook(make_session_factory(crm_engine), SystemClock(), settings, timing=timing)
    runner = web.AppRunner(build_app(checks, pms=pms), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=settings.ops_host, port=settings.ops_port)
    await site.start()
    logger.info("ops HTTP listening on port %d", settings.ops_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    telegram_task: asyncio.Task[None] | None = None
    if settings.telegram_bot_token:
        telegram_task = asyncio.create_task(run_telegram(settings, crm_engine, rasa, stop), name="telegram")
    else:
        logger.info("TELEGRAM_BOT_TOKEN not set; the Telegram gateway is off")
    try:
        await stop.wait()
    finally:
        if telegram_task is not None:
            try:
                await telegram_task
            except Exception:  # noqa: BLE001 - shutting down anyway
                logger.exception("Telegram gateway stopped with an error")
        await runner.cleanup()
        await rasa.close()
        crm_engine.dispose()
        tracker_engine.dispose()
