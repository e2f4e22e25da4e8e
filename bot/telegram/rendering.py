"""Turn Rasa REST replies into Telegram sends: texts, inline keyboards and photos (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

CALLBACK_DATA_MAX_BYTES = 64
TEXT_MAX_CHARS = 4096
CAPTION_MAX_CHARS = 1024
BUTTONS_PER_ROW_MAX = 8
ROW_TITLE_CHARS_MAX = 24
SHORT_TITLE_CHARS = 12
KEYLESS_TEXT = "\u2b07\ufe0f"  # an arrow emoji: Telegram refuses a keyboard without text


@dataclass(frozen=True)
class Button:
    """Describe one inline keyboard button: a callback carrying ``data``, or a link to ``url``."""

    title: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """Describe one message to send: text (``photo`` None) or a photo with an optional caption."""

    text: str | None
    photo: str | None = None
    keyboard: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)

    def as_record(self) -> dict[str, Any]:
        """Return a JSON-able description (for the outbox when delivery fails)."""
        record: dict[str, Any] = {"kind": "photo" if self.photo else "text"}
        if self.text is not None:
            record["text"] = self.text
        if self.photo:
            record["photo"] = self.photo
        if self.keyboard:
            record["buttons"] = [
                {"title": b.title, "data": b.data, "url": b.url} for row in self.keyboard for b in row
            ]
        return record


class CallbackStore:
    """Map button payloads too long for Telegram's 64-byte callback_data to short keys, in memory.

    Keys are derived from the payload (so the same payload always gets the same key); the map keeps
    the most recent ``capacity`` payloads. A key unknown after a restart decodes to None.
    """

    PREFIX = "~"

    def __init__(self, capacity: int = 10_000) -> None:
        """Start with an empty map holding at most ``capacity`` payloads."""
        self._capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def encode(self, payload: str) -> str:
        """Return callback_data for ``payload``: itself when it fits, else a short key."""
        if len(payload.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES and not payload.startswith(self.PREFIX):
            return payload
        digest = hashlib.blake2b(payload.encode("utf-8"), digest_size=15).digest()
        key = self.PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self._capacity:
            self._payloads.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """Return the payload behind callback_data, or None when a key has expired."""
        if not data.startswith(self.PREFIX):
            return data
        return self._payloads.get(data)


def _button(raw: dict[str, Any], store: CallbackStore) -> Button | None:
    title = str(raw.get("title") or "").strip()
    if not title:
        return None
    url = raw.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return Button(title=title, url=url)
    payload = raw.get("payload")
    if payload is None or str(payload) == "":
        payload = title
    return Button(title=title, data=store.encode(str(payload)))


def keyboard_rows(buttons: list[Button]) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out: short titles (scores, yes/no) share rows, long titles get a row each."""
    rows: list[list[Button]] = []
    current: list[Button] = []
    width = 0
    for button in buttons:
        short = len(button.title) <= SHORT_TITLE_CHARS
        fits = short and len(current) < BUTTONS_PER_ROW_MAX and width + len(button.title) <= ROW_TITLE_CHARS_MAX
        if current and not fits:
            rows.append(current)
            current, width = [], 0
        current.append(button)
        width += len(button.title)
        if not short:
            rows.append(current)
            current, width = [], 0
    if current:
        rows.append(current)
    return tuple(tuple(row) for row in rows)


def split_text(text: str, limit: int = TEXT_MAX_CHARS) -> list[str]:
    """Split a long text into chunks Telegram accepts, preferring paragraph and line breaks."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def render_replies(replies: list[dict[str, Any]], store: CallbackStore) -> list[Outgoing]:
    """Turn Rasa REST replies (text, buttons, image, custom with text) into Telegram sends, in order."""
    out: list[Outgoing] = []
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        text = reply.get("text")
        if text is None and isinstance(reply.get("custom"), dict):
            text = reply["custom"].get("text")
        text = str(text) if text is not None and str(text).strip() else None
        buttons = [b for b in (_button(raw, store) for raw in reply.get("buttons") or [] if isinstance(raw, dict)) if b]
        keyboard = keyboard_rows(buttons)
        image = reply.get("image")
        if isinstance(image, str) and image.strip():
            caption = text if text is not None and len(text) <= CAPTION_MAX_CHARS else None
            if text is not None and caption is None:
                out.extend(Outgoing(text=chunk) for chunk in split_text(text))
            out.append(Outgoing(text=caption, photo=image.strip(), keyboard=keyboard))
            continue
        if text is None:
            if not keyboard:
                continue
            last = out[-1] if out else None
            if last is not None and not last.keyboard:
                out[-1] = Outgoing(text=last.text, photo=last.photo, keyboard=keyboard)
            else:
                out.append(Outgoing(text=KEYLESS_TEXT, keyboard=keyboard))
            continue
        chunks = split_text(text)
        out.extend(Outgoing(text=chunk) for chunk in chunks[:-1])
        out.append(Outgoing(text=chunks[-1], keyboard=keyboard))
    return out
