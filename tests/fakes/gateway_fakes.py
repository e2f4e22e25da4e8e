"""In-memory fakes for unit tests of the Telegram gateway: a collecting sender, Rasa, and update builders."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from telegram import Update

from bot.rasa_client import RasaUnavailable
from bot.telegram.rendering import Outgoing

START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
CHAT = 777


class FakeSender:
    """Collect what the gateway would send to Telegram."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Outgoing]] = []
        self.answered: list[str] = []
        self.answers: list[tuple[str, str | None, bool]] = []
        self.cleared: list[tuple[int, int]] = []
        self.replies: list[tuple[int, int | None]] = []  # (index in sent, replied-to message id)
        self.edits: list[tuple[int, int, Outgoing]] = []
        self.next_message_id = 1000

    async def deliver(self, chat_id: int, items: list[Outgoing], *, record: bool = True) -> int:
        self.sent.extend((chat_id, item) for item in items)
        return len(items)

    async def send(self, chat_id: int, item: Outgoing, *, reply_to: int | None = None, record: bool = True) -> Any:
        self.sent.append((chat_id, item))
        self.replies.append((len(self.sent) - 1, reply_to))
        self.next_message_id += 1
        return SimpleNamespace(message_id=self.next_message_id, chat=SimpleNamespace(id=chat_id))

    async def edit(self, chat_id: int, message_id: int, item: Outgoing) -> str:
        self.edits.append((chat_id, message_id, item))
        return "edited"

    async def answer_callback(self, query_id: str, text: str | None = None, *, show_alert: bool = False) -> None:
        self.answered.append(query_id)
        self.answers.append((query_id, text, show_alert))

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        self.cleared.append((chat_id, message_id))

    def texts(self) -> list[str | None]:
        return [item.text for _, item in self.sent]


class FakeRasaClient:
    """Answer like Rasa's REST channel from memory; ``down`` makes it unavailable."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.down = False

    async def send_message(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        if self.down:
            raise RasaUnavailable("Rasa is unreachable: ClientConnectorError")
        self.received.append((sender_id, text))
        return self.replies.get(text, [{"text": f"echo: {text}"}])


class Updates:
    """Build Update objects with Bot API shapes (dates in seconds)."""

    def __init__(self) -> None:
        self.next_id = 1

    def _wrap(self, key: str, payload: dict[str, Any], update_id: int | None) -> Update:
        if update_id is None:
            update_id = self.next_id
            self.next_id += 1
        return Update.de_json({"update_id": update_id, key: payload}, None)

    def message(self, update_id: int | None = None, chat_id: int = CHAT, **content: Any) -> Update:
        payload = {"message_id": self.next_id, "date": int(START.timestamp()),
                   "chat": {"id": chat_id, "type": "private", "first_name": "G"},
                   "from": {"id": chat_id, "is_bot": False, "first_name": "G"}, **content}
        return self._wrap("message", payload, update_id)

    def text(self, text: str, update_id: int | None = None, chat_id: int = CHAT) -> Update:
        return self.message(update_id, chat_id, text=text)

    def callback(self, data: str, chat_id: int = CHAT, message_id: int = 99) -> Update:
        message = {"message_id": message_id, "date": int(START.timestamp()),
                   "chat": {"id": chat_id, "type": "private", "first_name": "G"},
                   "from": {"id": 1, "is_bot": True, "first_name": "Bot"}, "text": "question"}
        payload = {"id": "cbq-1", "from": {"id": chat_id, "is_bot": False, "first_name": "G"},
                   "chat_instance": "1", "data": data, "message": message}
        return self._wrap("callback_query", payload, None)


def context(args: list[str] | None = None, error: BaseException | None = None) -> Any:
    """Return the bits of CallbackContext the handlers read."""
    return SimpleNamespace(args=args or [], error=error)
