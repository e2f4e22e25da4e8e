"""Serve a tiny stand-in for Rasa's REST channel on loopback, with canned replies and an off switch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

Replier = Callable[[str, str], list[dict[str, Any]]]


def echo(sender: str, text: str) -> list[dict[str, Any]]:
    """Answer every message with one text that quotes it."""
    return [{"recipient_id": sender, "text": f"echo: {text}"}]


@dataclass
class FakeRasa:
    """Answer POST /webhooks/rest/webhook like Rasa's REST channel; GET / and /status like rasa run."""

    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    default: Replier = echo
    received: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        """Nothing listens until start()."""
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port, or ``port`` to come back on the same address)."""
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/", self._root)
        app.router.add_get("/status", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening (connections are refused until start() again)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def texts_from(self, sender: str) -> list[str]:
        """Return what ``sender`` sent to Rasa, in order."""
        return [text for who, text in self.received if who == sender]

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, text = str(body.get("sender")), str(body.get("message"))
        self.received.append((sender, text))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        replies = self.replies.get(text)
        if replies is None:
            replies = self.default(sender, text)
        return web.json_response([{"recipient_id": sender, **r} for r in replies])

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "models/fake.tar.gz", "model_id": "fake"})
