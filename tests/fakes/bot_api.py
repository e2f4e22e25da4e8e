"""Serve a faithful stand-in for the Telegram Bot API on loopback, for the subset the gateway uses.

Shapes follow https://core.telegram.org/bots/api: every answer is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": ...}}``; dates are
Unix time in seconds; users carry ``is_bot``. Requests may be form-encoded (as python-telegram-bot
sends them, with JSON-serialised complex fields), multipart or JSON.

The test side injects updates as a guest would produce them (texts, commands, photos, voice, stickers,
locations, documents, button presses, redeliveries), reads what the bot sent, and can make the next
N calls of some methods fail with 429 (``retry_after``) or 5xx.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON_FIELDS = frozenset(
    {"reply_markup", "commands", "allowed_updates", "entities", "caption_entities", "link_preview_options",
     "reply_parameters", "scope", "media"}
)
INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id", "cache_time",
     "max_connections", "user_id", "message_thread_id"}
)
BOOL_FIELDS = frozenset({"drop_pending_updates", "disable_notification", "protect_content", "show_alert"})
SENDING = ("sendMessage", "sendPhoto")


@dataclass
class Failure:
    """Make the next ``remaining`` calls of ``methods`` fail with ``status``."""

    remaining: int
    status: int
    methods: frozenset[str]
    retry_after: int | None = None


@dataclass
class Call:
    """Record one HTTP call the bot made: method, decoded parameters and the HTTP status answered."""

    method: str
    params: dict[str, Any]
    status: int
    result: Any = None


@dataclass
class FakeBotApi:
    """Run the fake Bot API; ``url`` is what TELEGRAM_API_URL should be set to."""

    token: str = "123456789:TEST-fake-token_abcdefghijklmnopqrstu"
    bot_id: int = 123456789
    username: str = "hotel_test_bot"
    calls: list[Call] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    scoped_commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    # Telegram's update ids only grow for a bot; a test that restarts the fake against the same database
    # must continue the sequence, as the real server would.
    first_update_id: int = 1000

    def __post_init__(self) -> None:
        """Prepare empty queues; nothing listens until start()."""
        self._updates: list[dict[str, Any]] = []
        self._forced: list[dict[str, Any]] = []
        self._update_ids = itertools.count(self.first_update_id)
        self._file_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        self._failures: list[Failure] = []
        self._new_update = asyncio.Condition()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port and return the root URL."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        for task in list(self._webhook_tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- objects -------------------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        """Return the bot as a User object."""
        return {"id": self.bot_id, "is_bot": True, "first_name": "Hotel Assistant", "username": self.username}

    @staticmethod
    def guest_user(chat_id: int, first_name: str = "Guest") -> dict[str, Any]:
        """Return a guest as a User object (private chat id = user id)."""
        return {"id": chat_id, "is_bot": False, "first_name": first_name, "language_code": "en"}

    @staticmethod
    def private_chat(chat_id: int, first_name: str = "Guest") -> dict[str, Any]:
        """Return a private Chat object."""
        return {"id": chat_id, "type": "private", "first_name": first_name}

    @staticmethod
    def group_chat(chat_id: int, title: str = "Hotel staff") -> dict[str, Any]:
        """Return a supergroup Chat object (group ids are negative)."""
        return {"id": chat_id, "type": "supergroup", "title": title}

    def chat(self, chat_id: int) -> dict[str, Any]:
        """Return the Chat object of ``chat_id``: a supergroup for negative ids, else a private chat."""
        return self.group_chat(chat_id) if chat_id < 0 else self.private_chat(chat_id)

    def _replied(self, chat_id: int, message_id: Any) -> dict[str, Any] | None:
        """Return the message replied to, without its own reply_to_message (as Telegram nests only one level)."""
        replied = self._messages.get((chat_id, message_id))  # type: ignore[arg-type]
        if replied is None:
            return None
        replied = copy.deepcopy(replied)
        replied.pop("reply_to_message", None)
        return replied

    def _message(self, chat_id: int, sender: dict[str, Any], chat: dict[str, Any] | None = None, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "from": sender,
            "chat": chat or self.chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _photo_sizes(self) -> list[dict[str, Any]]:
        number = next(self._file_ids)
        sizes = []
        for width, height, size in ((90, 67, 1200), (320, 240, 15000), (1280, 960, 120000)):
            file_id = f"AgACAgQAAxkBAAI{number:04d}w{width}"
            self._files[file_id] = {"file_id": file_id, "file_unique_id": f"AQAD{number:04d}{width}", "file_size": size,
                                    "file_path": f"photos/file_{number}_{width}.jpg"}
            sizes.append({"file_id": file_id, "file_unique_id": f"AQAD{number:04d}{width}", "width": width,
                          "height": height, "file_size": size})
        return sizes

    # -- test side: playing the guest -----------------------------------------------------------

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an update_id is assigned when missing) and return it."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._wake()
        return update

    def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an already delivered update again, as Telegram does when it is not sure it arrived."""
        self._forced.append(copy.deepcopy(update))
        self._wake()

    def send_text(self, chat_id: int, text: str, first_name: str = "Guest", *, user: dict[str, Any] | None = None,
                  reply_to: int | None = None) -> dict[str, Any]:
        """Play a guest (or ``user``, e.g. staff in a group) sending a text, optionally replying to ``reply_to``.

        A leading /command gets its bot_command entity.
        """
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            replied = self._replied(chat_id, reply_to)
            if replied is None:
                raise KeyError(f"no message {reply_to} in chat {chat_id}")
            content["reply_to_message"] = replied
        message = self._message(chat_id, user or self.guest_user(chat_id, first_name), **content)
        return self.inject({"message": message})

    @staticmethod
    def user(user_id: int, first_name: str, username: str | None = None) -> dict[str, Any]:
        """Return a (non-bot) User object, e.g. a staff member in the staff group."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            user["username"] = username
        return user

    def send_photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        """Play a guest sending a photo (three sizes, like Telegram)."""
        content: dict[str, Any] = {"photo": self._photo_sizes()}
        if caption:
            content["caption"] = caption
        return self.inject({"message": self._message(chat_id, self.guest_user(chat_id), **content)})

    def send_voice(self, chat_id: int) -> dict[str, Any]:
        """Play a guest sending a voice note."""
        voice = {"file_id": f"AwACAgQ{next(self._file_ids)}", "file_unique_id": "AgADvoice", "duration": 3,
                 "mime_type": "audio/ogg", "file_size": 5000}
        return self.inject({"message": self._message(chat_id, self.guest_user(chat_id), voice=voice)})

    def send_sticker(self, chat_id: int) -> dict[str, Any]:
        """Play a guest sending a sticker."""
        sticker = {"file_id": f"CAACAgI{next(self._file_ids)}", "file_unique_id": "AgADsticker", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "\U0001F44D"}
        return self.inject({"message": self._message(chat_id, self.guest_user(chat_id), sticker=sticker)})

    def send_location(self, chat_id: int) -> dict[str, Any]:
        """Play a guest sharing a location."""
        location = {"latitude": 45.4642, "longitude": 9.19}
        return self.inject({"message": self._message(chat_id, self.guest_user(chat_id), location=location)})

    def send_document(self, chat_id: int) -> dict[str, Any]:
        """Play a guest sending a document."""
        document = {"file_id": f"BQACAgQ{next(self._file_ids)}", "file_unique_id": "AgADdoc", "file_name": "bill.pdf",
                    "mime_type": "application/pdf", "file_size": 20000}
        return self.inject({"message": self._message(chat_id, self.guest_user(chat_id), document=document)})

    def press_button(self, chat_id: int, message_id: int, data: str, *, user: dict[str, Any] | None = None) -> dict[str, Any]:
        """Play a guest (or ``user``, e.g. someone in the staff group) pressing an inline button of a bot message."""
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        query = {
            "id": f"{abs(chat_id)}{next(self._file_ids):06d}",
            "from": user or self.guest_user(chat_id),
            "message": message,
            "chat_instance": f"-{chat_id}77",
            "data": data,
        }
        return self.inject({"callback_query": query})

    def fail_next(self, count: int, status: int = 429, *, retry_after: int | None = None,
                  methods: tuple[str, ...] = SENDING) -> None:
        """Answer the next ``count`` calls of ``methods`` with ``status`` (429 carries ``retry_after``)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(Failure(count, status, frozenset(methods), retry_after))

    # -- test side: reading what the bot did ----------------------------------------------------

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Return the messages the bot sent successfully (Message objects, oldest first)."""
        return [c.result for c in self.calls if c.method in SENDING and c.status == 200]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Return the messages the bot sent to ``chat_id``."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """Return a message as it is now (after any edits)."""
        return copy.deepcopy(self._messages[(chat_id, message_id)])

    def calls_of(self, method: str) -> list[Call]:
        """Return every call of ``method``, answered or refused."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true, or fail after ``timeout`` seconds."""
        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(check(), timeout)

    async def wait_for_sent(self, chat_id: int, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id`` and return them."""
        await self.wait_for(lambda: len(self.sent_to(chat_id)) >= count, timeout)
        return self.sent_to(chat_id)

    # -- server side ---------------------------------------------------------------------------

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._new_update:
                self._new_update.notify_all()
        if self.webhook.get("url"):
            self._push_webhook()
        asyncio.get_running_loop().create_task(notify())

    async def _notify_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            raw.update(body if isinstance(body, dict) else {})
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                raw[key] = value if isinstance(value, str) else value.file.read()  # type: ignore[union-attr]
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in JSON_FIELDS:
                value = json.loads(value)
            elif isinstance(value, str) and key in INT_FIELDS and value.lstrip("-").isdigit():
                value = int(value)
            elif isinstance(value, str) and key in BOOL_FIELDS:
                value = value.lower() == "true"
            params[key] = value
        return params

    def _take_failure(self, method: str) -> Failure | None:
        for failure in self._failures:
            if failure.remaining > 0 and method in failure.methods:
                failure.remaining -= 1
                return failure
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        params = await self._params(request)
        failure = self._take_failure(method)
        if failure is not None:
            self.calls.append(Call(method, params, failure.status))
            await self._notify_changed()
            if failure.status == 429:
                return self._error(429, f"Too Many Requests: retry after {failure.retry_after}",
                                   {"retry_after": failure.retry_after})
            return self._error(failure.status, "Internal Server Error" if failure.status == 500 else "Bad Gateway")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self.calls.append(Call(method, params, 404))
            return self._error(404, "Not Found")
        response: web.Response = await handler(params)
        result = json.loads(response.body)["result"] if response.status == 200 else None  # type: ignore[arg-type]
        self.calls.append(Call(method, params, response.status, result))
        await self._notify_changed()
        return response

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        return web.Response(body=b"\xff\xd8\xff\xe0fake-jpeg", content_type="image/jpeg")

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok({**self.bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False})

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._forced and time.monotonic() < deadline:
            async with self._new_update:
                try:
                    await asyncio.wait_for(self._new_update.wait(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
        batch = self._forced[:limit] + self._updates[: max(0, limit - len(self._forced))]
        self._forced = self._forced[limit:]
        return self._ok(copy.deepcopy(batch))

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if not isinstance(chat_id, int):
            return self._error(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        bad = self._check_markup(params.get("reply_markup"))
        if bad:
            return self._error(400, bad)
        content: dict[str, Any] = {"text": text}
        if params.get("reply_markup"):
            content["reply_markup"] = params["reply_markup"]
        error = self._reply_content(chat_id, params, content)
        if error:
            return self._error(400, error)
        return self._ok(self._message(chat_id, self.bot_user(), **content))

    def _reply_content(self, chat_id: int, params: dict[str, Any], content: dict[str, Any]) -> str | None:
        """Add ``reply_to_message`` for reply_parameters / reply_to_message_id; return an error if it is missing."""
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        allow_missing = bool(reply.get("allow_sending_without_reply")) if isinstance(reply, dict) else False
        if message_id is None and params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
            allow_missing = str(params.get("allow_sending_without_reply", "")).lower() == "true"
        if message_id is None:
            return None
        replied = self._replied(chat_id, int(message_id))
        if replied is None:
            return None if allow_missing else "Bad Request: message to be replied not found"
        content["reply_to_message"] = replied
        return None

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return self._error(400, "Bad Request: chat not found")
        photo = params.get("photo")
        if not photo:
            return self._error(400, "Bad Request: there is no photo in the request")
        if isinstance(photo, str) and not photo.startswith(("http://", "https://")) and photo not in self._files:
            return self._error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if isinstance(params.get("caption"), str) and len(params["caption"]) > 1024:
            return self._error(400, "Bad Request: message caption is too long")
        bad = self._check_markup(params.get("reply_markup"))
        if bad:
            return self._error(400, bad)
        content: dict[str, Any] = {"photo": self._photo_sizes()}
        if isinstance(photo, str):
            content["_source"] = photo  # not in the Bot API; lets tests see which URL or file id was sent
        if params.get("caption"):
            content["caption"] = params["caption"]
        if params.get("reply_markup"):
            content["reply_markup"] = params["reply_markup"]
        error = self._reply_content(chat_id, params, content)
        if error:
            return self._error(400, error)
        return self._ok(self._message(chat_id, self.bot_user(), **content))

    @staticmethod
    def _check_markup(markup: Any) -> str | None:
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                    return "Bad Request: BUTTON_DATA_INVALID"
                if not button.get("text"):
                    return "Bad Request: text buttons are unallowed in the inline keyboard"
        return None

    def _edit(self, params: dict[str, Any], **changes: Any) -> web.Response:
        key = (params.get("chat_id"), params.get("message_id"))
        message = self._messages.get(key)  # type: ignore[arg-type]
        if message is None:
            return self._error(400, "Bad Request: message to edit not found")
        message.update(changes)
        if "reply_markup" in changes and not changes["reply_markup"]:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return self._ok(copy.deepcopy(message))

    async def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        message = self._messages.get((params.get("chat_id"), params.get("message_id")))  # type: ignore[arg-type]
        text = params.get("text")
        if message is not None and "text" not in message:
            return self._error(400, "Bad Request: there is no text in the message to edit")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: MESSAGE_TOO_LONG")
        bad = self._check_markup(params.get("reply_markup"))
        if bad:
            return self._error(400, bad)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        markup = params.get("reply_markup") or None
        if message is not None and message.get("text") == text and message.get("reply_markup") == markup:
            return self._error(400, "Bad Request: message is not modified: specified new message content and reply "
                                    "markup are exactly the same as a current content and reply markup of the message")
        return self._edit(params, text=text, reply_markup=markup)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, reply_markup=params.get("reply_markup"))

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        self.callback_answers.append(params)
        return self._ok(True)

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        file = self._files.get(str(params.get("file_id")))
        if file is None:
            return self._error(400, "Bad Request: invalid file_id")
        return self._ok(dict(file))

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "default":
            self.commands = list(params.get("commands") or [])
        else:
            self.scoped_commands[json.dumps(scope, sort_keys=True)] = list(params.get("commands") or [])
        return self._ok(True)

    async def _m_getMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(self.commands)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self.webhook["url"]:
            self._push_webhook()
        return self._ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return self._ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return self._ok({"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                         "pending_update_count": len(self._updates)})

    async def _m_close(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_logOut(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    def _push_webhook(self) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def _deliver_webhook(self) -> None:
        """POST queued updates to the webhook with the secret header; keep those not acknowledged."""
        url = self.webhook.get("url")
        if not url:
            return
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        batch, self._forced = self._forced + self._updates, []
        self._updates = []
        async with aiohttp.ClientSession() as session:
            for update in batch:
                try:
                    async with session.post(url, json=update, headers=headers) as resp:
                        if resp.status != 200:
                            self._updates.append(update)
                except aiohttp.ClientError:
                    self._updates.append(update)
