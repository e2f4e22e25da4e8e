"""/health in the production profile checks every Rasa replica, every action server, both databases and Redis,
against real HTTP servers and the real Redis."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.health import build_checks, run_checks
from bot.rasa_client import RasaClient
from crm_store.db import make_engine
from crm_store.settings import load_settings

from .conftest import REDIS_URL, free_port


async def _action_server(port: int) -> web.AppRunner:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_health_names_each_replica_and_turns_red_for_any_of_them(replicas, redis_prefix, tmp_path: Path):
    r1, r2 = replicas[0], replicas[1]
    action_ports = [free_port(), free_port()]
    runners = [await _action_server(p) for p in action_ports]
    env = {
        "PROFILE": "prod", "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
        "TRACKER_STORE_URL": "postgresql://postgres@127.0.0.1:5432/postgres", "REDIS_URL": REDIS_URL,
        "RASA_URL": r1.url, "RASA_URLS": f"{r1.url},{r2.url}", "OPS_PORT": str(free_port()),
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_ports[0]}",
        "ACTION_SERVER_URLS": ",".join(f"http://127.0.0.1:{p}" for p in action_ports),
    }
    settings = load_settings(env)
    engine = make_engine(f"sqlite:///{tmp_path}/crm.db")
    client = RasaClient(settings.rasa_client_urls)
    try:
        results = {r.name: r.ok for r in await run_checks(build_checks(settings, client, engine, engine))}
        assert results == {"rasa-1": True, "rasa-2": True, "action_server-1": True, "action_server-2": True,
                           "crm_database": True, "tracker_store": True, "redis": True}
        await r2.stop()
        await runners[1].cleanup()
        results = {r.name: r.ok for r in await run_checks(build_checks(settings, client, engine, engine))}
        assert [n for n, ok in results.items() if not ok] == ["rasa-2", "action_server-2"]
        no_redis = load_settings({**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
        results = {r.name: (r.ok, r.detail) for r in await run_checks(build_checks(no_redis, client, engine, engine))}
        assert results["redis"][0] is False and results["redis"][1] == "ConnectionError"
    finally:
        await client.close()
        await runners[0].cleanup()
        engine.dispose()
