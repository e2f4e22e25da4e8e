"""Run the bot process: ops HTTP now; the Telegram gateway and the scheduler join it later."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.health import check_action_server, check_database, check_rasa
from bot.ops_http import build_app
from bot.rasa_client import RasaClient
from crm_store.db import make_engine
from crm_store.settings import Settings

logger = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM."""
    crm_engine = make_engine(settings.database_url)
    tracker_engine = make_engine(settings.tracker_store_url)
    rasa = RasaClient(settings.rasa_url, settings.rasa_token)
    checks = [
        lambda: check_rasa(rasa),
        lambda: check_action_server(settings.action_server_url),
        lambda: check_database("crm_database", crm_engine),
        lambda: check_database("tracker_store", tracker_engine),
    ]
    runner = web.AppRunner(build_app(checks), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=settings.ops_host, port=settings.ops_port)
    await site.start()
    logger.info("ops HTTP listening on port %d", settings.ops_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await rasa.close()
        crm_engine.dispose()
        tracker_engine.dispose()
