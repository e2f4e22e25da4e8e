"""Serve the ops HTTP endpoints (health now; the PMS webhook and dashboard later)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web

from bot.health import CheckResult, run_checks

if TYPE_CHECKING:
    from bot.pms_webhook import PmsWebhook

logger = logging.getLogger(__name__)

HealthChecks = list[Callable[[], Awaitable[CheckResult]]]
CHECKS_KEY = web.AppKey("health_checks", list) if hasattr(web, "AppKey") else "health_checks"


async def health(request: web.Request) -> web.Response:
    """Answer 200 only when Rasa, the action server and the databases all answer."""
    results = await run_checks(request.app[CHECKS_KEY])
    healthy = all(r.ok for r in results)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {r.name: {"ok": r.ok, "detail": r.detail} for r in results},
    }
    return web.json_response(body, status=200 if healthy else 503)


async def liveness(request: web.Request) -> web.Response:
    """Answer 200 while this process is alive, whatever its dependencies do."""
    return web.json_response({"status": "alive"})


def build_app(checks: HealthChecks, pms: PmsWebhook | None = None) -> web.Application:
    """Build the ops web application with its routes (``POST /pms/events`` only when ``pms`` is given)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[CHECKS_KEY] = checks
    app.router.add_get("/health", health)
    app.router.add_get("/live", liveness)
    if pms is not None:
        pms.register(app)
    return app
