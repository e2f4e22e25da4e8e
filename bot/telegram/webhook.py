"""Receive Telegram updates by webhook: check the secret, parse the body safely, queue the update.

python-telegram-bot's own webhook server answers 500 to a body that is not JSON or not UTF-8 and logs the
whole update (guest text included) when it cannot parse it. This receiver answers every request it refuses
with a 4xx and a JSON ``{"error": ...}`` naming the problem, and logs at most the update id and the error type.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ExtBot

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # Telegram's updates are a few KiB; a text is at most 4096 characters
UPDATE_ID_MIN = -(2**63)  # what the processed_update table (BIGINT) can store
UPDATE_ID_MAX = 2**63 - 1


class UpdateRefused(Exception):
    """Refuse one webhook request with an HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str) -> None:
        """Remember the status and the message."""
        super().__init__(message)
        self.status = status
        self.message = message


def fits_int64(value: object) -> bool:
    """Tell whether ``value`` is an int a BIGINT column can hold (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and UPDATE_ID_MIN <= value <= UPDATE_ID_MAX


def valid_update_id(value: object) -> bool:
    """Tell whether ``value`` is an update id the gateway can record (a 64-bit signed int, not a bool)."""
    return fits_int64(value)


MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_message",
                  "edited_business_message")


def _message_problem(name: str, message: Any) -> str | None:
    """Say which field the handlers read has a shape Telegram never sends, or None."""
    chat = getattr(message, "chat", None)
    if chat is None or not isinstance(chat.id, int) or isinstance(chat.id, bool):
        return f"{name}.chat: missing"
    if not isinstance(message.message_id, int) or isinstance(message.message_id, bool):
        return f"{name}.message_id: expected an integer"
    user = getattr(message, "from_user", None)
    if user is not None and (not isinstance(user.id, int) or isinstance(user.id, bool)):
        return f"{name}.from.id: expected an integer"
    for field in ("text", "caption"):
        value = getattr(message, field, None)
        if value is not None and not isinstance(value, str):
            return f"{name}.{field}: expected a string"
    for entity in (getattr(message, "entities", None) or ()) + (getattr(message, "caption_entities", None) or ()):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (entity.offset, entity.length)):
            return f"{name}.entities: offset and length must be integers"
    return None


def update_problem(update: Update) -> str | None:
    """Say what makes a parsed update unusable by the handlers (they would fail on it), or None.

    The library checks the structure of an update but not the types of plain fields: it accepts a message
    without its chat or with a number as its text, and the handlers then raise. Such an update is refused
    (webhook) or dropped (long polling).
    """
    for name in MESSAGE_FIELDS:
        message = getattr(update, name, None)
        if message is not None:
            problem = _message_problem(name, message)
            if problem is not None:
                return problem
    query = update.callback_query
    if query is not None:
        if query.from_user is None or not isinstance(query.from_user.id, int) or isinstance(query.from_user.id, bool):
            return "callback_query.from: missing"
        if query.data is not None and not isinstance(query.data, str):
            return "callback_query.data: expected a string"
        if not isinstance(query.id, str):
            return "callback_query.id: expected a string"
        if query.message is not None:
            if query.message.chat is None or not isinstance(query.message.chat.id, int):
                return "callback_query.message.chat: missing"
            if not isinstance(query.message.message_id, int) or isinstance(query.message.message_id, bool):
                return "callback_query.message.message_id: expected an integer"
    return None


def _has_lone_surrogate(value: Any) -> bool:
    """Tell whether a decoded JSON value holds a string with an unpaired UTF-16 surrogate (JSON-escaped).

    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def parse_update(body: bytes, bot: Any) -> Update:
    """Return the Update in ``body``, or raise UpdateRefused(400) saying why it cannot be used."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UpdateRefused(400, "body is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UpdateRefused(400, f"body is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise UpdateRefused(400, "body is not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise UpdateRefused(400, "body: expected a JSON object (an Update)")
    if "update_id" not in data:
        raise UpdateRefused(400, "update_id: missing")
    if not valid_update_id(data["update_id"]):
        raise UpdateRefused(400, f"update_id: expected an integer from {UPDATE_ID_MIN} to {UPDATE_ID_MAX}")
    if _has_lone_surrogate(data):
        raise UpdateRefused(400, "body holds an unpaired UTF-16 surrogate escape")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # noqa: BLE001 - any shape the library cannot read is the sender's problem
        log.warning("webhook update %s refused: cannot be parsed (%s)", data["update_id"], type(exc).__name__)
        raise UpdateRefused(400, f"update could not be parsed ({type(exc).__name__})") from None
    problem = update_problem(update)
    if problem is not None:
        log.warning("webhook update %s refused: %s", data["update_id"], problem)
        raise UpdateRefused(400, f"update cannot be handled ({problem})")
    return update


class WebhookReceiver:
    """Serve the webhook path on an aiohttp server and put each accepted update on the Application's queue."""

    def __init__(self, app: Application, *, secret_token: str | None, path: str, max_body_bytes: int = MAX_BODY_BYTES,
                 admit: Callable[[Update], Awaitable[bool]] | None = None,
                 admitted: Callable[[Update], None] | None = None):
        """Receive for ``app`` on ``path`` ("/..."), requiring ``secret_token`` in the secret header when set.

        With ``admit`` (``Gateway.admit``), an update is recorded (and a guest message journalled) before
        Telegram gets its 200: a gateway killed after answering 200 still answers the message after its restart,
        and a database that cannot record it makes the answer 503, so Telegram delivers the update again.
        """
        self.app = app
        self.admit = admit
        self.admitted = admitted
        self.secret_token = secret_token or None
        self.path = "/" + path.lstrip("/")
        self.max_body_bytes = max_body_bytes
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        """Return the aiohttp application serving the webhook path."""
        web_app = web.Application(client_max_size=self.max_body_bytes)
        web_app.router.add_post(self.path, self.handle)
        return web_app

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host``:``port``."""
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host=host, port=port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise UpdateRefused(413, f"body larger than {self.max_body_bytes // 1024} KiB")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_body_bytes:
                raise UpdateRefused(413, f"body larger than {self.max_body_bytes // 1024} KiB")
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: web.Request) -> web.Response:
        """Check the secret, parse the update and queue it; answer 200, or 4xx with a JSON error."""
        try:
            if self.secret_token is not None:
                given = request.headers.get(SECRET_HEADER, "")
                if not hmac.compare_digest(given.encode("utf-8", "replace"), self.secret_token.encode("utf-8")):
                    raise UpdateRefused(403, f"missing or wrong {SECRET_HEADER} header")
            update = parse_update(await self._body(request), self.app.bot)
        except UpdateRefused as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        if isinstance(self.app.bot, ExtBot):
            self.app.bot.insert_callback_data(update)
        if self.admit is not None:
            try:
                fresh = await self.admit(update)
            except Exception as exc:  # noqa: BLE001 - not recorded: Telegram keeps it and delivers it again
                log.error("could not record update %s (%s); asking Telegram to retry", update.update_id,
                          type(exc).__name__)
                return web.json_response({"error": "could not record the update; retry later"}, status=503)
            if not fresh:
                return web.json_response({"ok": True})  # already recorded: nothing more to do
            if self.admitted is not None:
                self.admitted(update)
        await self.app.update_queue.put(update)
        return web.json_response({"ok": True})
