"""Check that every part the assistant needs is answering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.rasa_client import RasaClient

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CheckResult:
    """Say whether one dependency answered, and why not if it did not."""

    name: str
    ok: bool
    detail: str = ""


async def check_database(name: str, engine: Engine) -> CheckResult:
    """Run SELECT 1 against a database in a worker thread."""

    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(probe), CHECK_TIMEOUT_S)
        return CheckResult(name, True)
    except Exception as exc:  # noqa: BLE001 - any failure means not healthy
        return CheckResult(name, False, type(exc).__name__)


async def check_action_server(url: str) -> CheckResult:
    """Call the action server's /health endpoint."""
    try:
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{url.rstrip('/')}/health") as resp:
                return CheckResult("action_server", resp.status == 200, f"HTTP {resp.status}")
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        return CheckResult("action_server", False, type(exc).__name__)


async def check_rasa(client: RasaClient) -> CheckResult:
    """Ask Rasa whether it is up with a model loaded."""
    ok = await client.is_ready()
    return CheckResult("rasa", ok, "" if ok else "not ready")


async def run_checks(checks: list[Callable[[], Awaitable[CheckResult]]]) -> list[CheckResult]:
    """Run all checks concurrently."""
    return list(await asyncio.gather(*(check() for check in checks)))
