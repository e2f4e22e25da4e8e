"""Check that every part the assistant needs is answering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Awaitable, Callable

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.rasa_client import RasaClient
from crm_store.settings import Settings

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CheckResult:
    """Say whether one dependency answered, and why not if it did not."""

    name: str
    ok: bool
    detail: str = ""


Check = Callable[[], Awaitable[CheckResult]]


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


async def check_action_server(url: str, name: str = "action_server") -> CheckResult:
    """Call the action server's /health endpoint."""
    try:
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{url.rstrip('/')}/health") as resp:
                return CheckResult(name, resp.status == 200, f"HTTP {resp.status}")
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        return CheckResult(name, False, type(exc).__name__)


async def action_servers_up(urls: Sequence[str]) -> bool:
    """Tell whether every action server answers its health check."""
    results = await asyncio.gather(*(check_action_server(url) for url in urls))
    return all(result.ok for result in results)


async def check_rasa(client: RasaClient) -> CheckResult:
    """Ask Rasa whether it is up with a model loaded (every replica, when there are several)."""
    ok = await client.is_ready()
    return CheckResult("rasa", ok, "" if ok else "not ready")


async def check_rasa_replica(client: RasaClient, replica: str, name: str) -> CheckResult:
    """Ask one Rasa replica whether it is up with a model loaded."""
    ok = await client.replica_ready(replica)
    return CheckResult(name, ok, "" if ok else "not ready")


async def check_redis(url: str, name: str = "redis") -> CheckResult:
    """PING Redis (the Rasa replicas' shared lock store)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S)
    try:
        ok = bool(await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_S))
        return CheckResult(name, ok, "" if ok else "no PONG")
    except Exception as exc:  # noqa: BLE001 - any failure means not healthy
        return CheckResult(name, False, type(exc).__name__)
    finally:
        try:
            await client.close(close_connection_pool=True)
        except Exception:  # noqa: BLE001
            pass


def build_checks(settings: Settings, rasa: RasaClient, crm_engine: Engine, tracker_engine: Engine) -> list[Check]:
    """Return the checks /health runs: every Rasa replica, every action server, both databases, Redis in prod.

    With a single replica and a single action server the names stay ``rasa`` and ``action_server``; with
    several they are ``rasa-1``, ``rasa-2``, ... and ``action_server-1``, ... (in URL order).
    """
    checks: list[Check] = []
    replicas = rasa.replicas
    if len(replicas) == 1:
        checks.append(lambda: check_rasa(rasa))
    else:
        for i, replica in enumerate(replicas, start=1):
            checks.append(lambda replica=replica, i=i: check_rasa_replica(rasa, replica, f"rasa-{i}"))
    action_urls = settings.known_action_server_urls
    if len(action_urls) == 1:
        checks.append(lambda: check_action_server(action_urls[0]))
    else:
        for i, url in enumerate(action_urls, start=1):
            checks.append(lambda url=url, i=i: check_action_server(url, f"action_server-{i}"))
    checks.append(lambda: check_database("crm_database", crm_engine))
    checks.append(lambda: check_database("tracker_store", tracker_engine))
    if settings.profile == "prod":
        redis_url = settings.redis_url
        checks.append(lambda: check_redis(redis_url))
    return checks


async def run_checks(checks: list[Callable[[], Awaitable[CheckResult]]]) -> list[CheckResult]:
    """Run all checks concurrently."""
    return list(await asyncio.gather(*(check() for check in checks)))
