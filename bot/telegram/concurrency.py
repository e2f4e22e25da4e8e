"""Process updates of different chats concurrently, but each chat's updates one at a time, in order."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class ChatLocks:
    """Hand out one asyncio.Lock per chat; unused locks are dropped automatically."""

    def __init__(self) -> None:
        """Start with no locks."""
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, chat_id: int) -> asyncio.Lock:
        """Return the lock of ``chat_id``, creating it if needed."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock


def chat_id_of(update: object) -> int | None:
    """Return the chat an update belongs to, if any."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Run updates concurrently across chats while serialising the updates of one chat."""

    def __init__(
        self, locks: ChatLocks, max_concurrent_updates: int = 256,
        after: Callable[[object], Awaitable[None]] | None = None,
    ) -> None:
        """Share ``locks`` with anything else that must not interleave with a chat's updates.

        ``after(update)`` runs once every handler of the update has run (or failed), still under the lock.
        """
        super().__init__(max_concurrent_updates)
        self._chat_locks = locks
        self._after = after

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await the update's handlers while holding its chat's lock."""
        chat_id = chat_id_of(update)
        if chat_id is None:
            await coroutine
            if self._after is not None:
                await self._after(update)
            return
        async with self._chat_locks.lock(chat_id):
            await coroutine
            if self._after is not None:
                await self._after(update)

    async def initialize(self) -> None:
        """Do nothing: there is nothing to allocate."""

    async def shutdown(self) -> None:
        """Do nothing: there is nothing to free."""
