"""Run the ops HTTP app with the PMS webhook for the fuzz test, in its own process (both CPU cores get used).

``python -m tests.fuzz.pms_server --db URL --port P`` prints ``READY`` once it listens and stops on SIGTERM or
when its standard input closes. It captures its logs and prints them to standard output when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiohttp import web

from bot.ops_http import build_app
from bot.pms_webhook import PmsWebhook
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.settings import load_settings
from tests.fuzz.harness import LogCapture

SECRET = "fuzz-pms-secret"
TIMEZONE = "Europe/Berlin"


async def serve(url: str, port: int) -> str:
    """Serve until standard input closes; return the captured log text."""
    capture = LogCapture()
    capture.__enter__()
    settings = load_settings({"DATABASE_URL": url, "PMS_WEBHOOK_SECRET": SECRET, "HOTEL_TIMEZONE": TIMEZONE})
    engine = make_engine(url)
    runner = web.AppRunner(build_app([], pms=PmsWebhook(make_session_factory(engine), SystemClock(), settings)),
                           access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the test closes our stdin to stop us
    await runner.cleanup()
    engine.dispose()
    capture.__exit__()
    return capture.text()


def main() -> None:
    """Parse the arguments, serve, then print the captured logs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.INFO)
    logs = asyncio.run(serve(args.db, args.port))
    sys.stdout.write(logs)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
