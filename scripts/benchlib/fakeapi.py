"""The project's Bot API stand-in (tests/fakes/bot_api.py), plus the timestamps a benchmark needs.

Every send request is recorded with the moment it arrived (wall clock and monotonic), its chat and the
HTTP status answered, so rates can be checked against Telegram's limits afterwards; messages delivered to
a chat wake whoever waits for that chat (no scan of every call, which matters with thousands of them);
and the moment each update was handed to the bot by getUpdates is kept, to split the gateway's time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.bot_api import FakeBotApi

SEND_METHODS = ("sendMessage", "sendPhoto")


@dataclass(frozen=True)
class SendRecord:
    """One send request as the stand-in received it."""

    wall: float
    mono: float
    method: str
    chat_id: int
    status: int


class RecordingBotApi(FakeBotApi):
    """Record send timestamps per chat and wake per-chat waiters."""

    def __post_init__(self) -> None:
        """Add the per-chat records to the stand-in's state."""
        super().__post_init__()
        self.sends: list[SendRecord] = []
        self.by_chat: dict[int, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self.update_handed_at: dict[int, float] = {}
        self._chat_events: dict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def _recorded(self, method: str, params: dict[str, Any], response: web.Response, mono: float,
                        wall: float) -> web.Response:
        chat_id = params.get("chat_id")
        chat = chat_id if isinstance(chat_id, int) else 0
        self.sends.append(SendRecord(wall, mono, method, chat, response.status))
        if response.status == 200:
            message = json.loads(response.body)["result"]  # type: ignore[arg-type]
            self.by_chat[chat].append((time.monotonic(), message))
            self._chat_events[chat].set()
        return response

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        mono, wall = time.monotonic(), time.time()
        return await self._recorded("sendMessage", params, await super()._m_sendMessage(params), mono, wall)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        mono, wall = time.monotonic(), time.time()
        return await self._recorded("sendPhoto", params, await super()._m_sendPhoto(params), mono, wall)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        response = await super()._m_getUpdates(params)
        if response.status == 200:
            now = time.monotonic()
            for update in json.loads(response.body)["result"]:  # type: ignore[arg-type]
                self.update_handed_at.setdefault(update["update_id"], now)
        return response

    def count(self, chat_id: int) -> int:
        """Return how many messages the bot has sent to ``chat_id``."""
        return len(self.by_chat.get(chat_id, ()))

    async def wait_count(self, chat_id: int, count: int, timeout: float) -> bool:
        """Wait until ``count`` messages reached ``chat_id``; return False on timeout."""
        deadline = time.monotonic() + timeout
        event = self._chat_events[chat_id]
        while self.count(chat_id) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event.clear()
            if self.count(chat_id) >= count:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except asyncio.TimeoutError:
                return self.count(chat_id) >= count
        return True

    def forget(self) -> None:
        """Drop the stand-in's per-call history (keeps memory flat between phases); chats stay known."""
        self.calls.clear()
