"""Wrap the Bot API stand-in (tests/fakes/bot_api.py) with a per-chat timeline of what guests and the bot said."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.bot_api import SENDING, FakeBotApi


@dataclass
class Entry:
    """One thing said in a chat: by the guest (an update) or by the bot (a delivered message)."""

    seq: int
    at: float  # wall clock (time.time()), comparable with database timestamps
    by: str  # "guest" or "bot"
    text: str
    update_id: int | None = None
    message_id: int | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "text"  # guest: text, button or command; bot: text or photo


@dataclass
class ChaosBotApi(FakeBotApi):
    """The fake Bot API, plus an ordered record per chat and a wake-up per chat for the simulated guests."""

    def __post_init__(self) -> None:
        """Prepare the timelines on top of the fake's own state."""
        super().__post_init__()
        self.timeline: dict[int, list[Entry]] = defaultdict(list)
        self._seq = itertools.count(1)
        self._cursor = 0
        self._events: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.outage_calls = 0

    def _index(self) -> None:
        """Append the bot messages delivered since the last look to their chats' timelines."""
        while self._cursor < len(self.calls):
            call = self.calls[self._cursor]
            self._cursor += 1
            if call.method not in SENDING or call.status != 200 or not isinstance(call.result, dict):
                continue
            message = call.result
            chat_id = int(message["chat"]["id"])
            markup = message.get("reply_markup") or {}
            buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
            self.timeline[chat_id].append(Entry(
                next(self._seq), time.time(), "bot", message.get("text") or message.get("caption") or "",
                message_id=message["message_id"], buttons=buttons, kind="photo" if "photo" in message else "text",
            ))
            self._events[chat_id].set()

    async def _handle(self, request: web.Request) -> web.Response:
        """Serve the call as the fake does, then record what it delivered."""
        response = await super()._handle(request)
        self._index()
        return response

    def event(self, chat_id: int) -> asyncio.Event:
        """Return the event set whenever the bot delivers something to ``chat_id``."""
        return self._events[chat_id]

    def guest_text(self, chat_id: int, text: str, first_name: str = "Guest") -> Entry:
        """Play the guest typing ``text`` (commands get their entity); record it."""
        update = self.send_text(chat_id, text, first_name)
        entry = Entry(next(self._seq), time.time(), "guest", text, update_id=update["update_id"],
                      kind="command" if text.startswith("/") else "text")
        self.timeline[chat_id].append(entry)
        return entry

    def guest_button(self, chat_id: int, message_id: int, data: str) -> Entry:
        """Play the guest pressing the inline button carrying ``data`` under bot message ``message_id``."""
        update = self.press_button(chat_id, message_id, data)
        entry = Entry(next(self._seq), time.time(), "guest", data, update_id=update["update_id"], kind="button")
        self.timeline[chat_id].append(entry)
        return entry

    def bot_messages(self, chat_id: int, after_seq: int = 0) -> list[Entry]:
        """Return the bot's messages to ``chat_id`` recorded after ``after_seq``."""
        return [e for e in self.timeline[chat_id] if e.by == "bot" and e.seq > after_seq]
