"""Send messages to Telegram within its flood limits, retry 429 and 5xx, and record what finally fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter

from bot.telegram.rendering import Outgoing

log = logging.getLogger(__name__)
T = TypeVar("T")

FailureRecorder = Callable[[int, dict[str, Any], int, str], Awaitable[None]]
SENDING_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "editMessageText",
     "editMessageReplyMarkup", "editMessageCaption", "copyMessage", "forwardMessage"}
)

# Token buckets sized so that burst + rate x window never exceeds Telegram's limits (30 messages in any second
# overall, 20 in any minute to one group).
OVERALL_BURST = 5
OVERALL_RATE_PER_S = 25.0
GROUP_BURST = 5
GROUP_RATE_PER_S = 15 / 60


class PerChatRateLimiter(AIORateLimiter):
    """Add a per-chat limit for private chats (about 1 message/s, short bursts allowed) to AIORateLimiter.

    AIORateLimiter limits the whole bot and each group and retries RetryAfter (429) up to ``max_retries``
    times after sleeping ``retry_after``. Its limiters are token buckets: after a quiet moment a full bucket
    passes at once on top of the steady rate, so its defaults (30/s, 20/min) let 60 messages through in one
    second and 40 to a group in one minute (measured by `make bench`). The defaults here keep bucket plus rate
    within Telegram's limits in every window: 5 at once then 25/s overall (at most 30 in any second), 5 at once
    then 15/min to a group (at most 20 in any minute).
    """

    def __init__(self, *, chat_burst: int = 3, chat_period_s: float = 3.0, **kwargs: Any) -> None:
        """Allow ``chat_burst`` messages per ``chat_period_s`` to one private chat."""
        kwargs.setdefault("overall_max_rate", OVERALL_BURST)
        kwargs.setdefault("overall_time_period", OVERALL_BURST / OVERALL_RATE_PER_S)
        kwargs.setdefault("group_max_rate", GROUP_BURST)
        kwargs.setdefault("group_time_period", GROUP_BURST / GROUP_RATE_PER_S)
        super().__init__(**kwargs)
        self._chat_burst = chat_burst
        self._chat_period_s = chat_period_s
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chat_limiters) > 1024:
            for key, limiter in list(self._chat_limiters.items()):
                if key != chat_id and limiter.has_capacity(limiter.max_rate):
                    del self._chat_limiters[key]
        limiter = self._chat_limiters.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(max_rate=self._chat_burst, time_period=self._chat_period_s)
            self._chat_limiters[chat_id] = limiter
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Wait for the private chat's limiter, then apply AIORateLimiter's limits and retries."""
        try:
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = 0
        if chat_id <= 0 or endpoint not in SENDING_METHODS:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        async with self._chat_limiter(chat_id):
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def inline_markup(outgoing: Outgoing) -> InlineKeyboardMarkup | None:
    """Build the inline keyboard of an outgoing message, if it has buttons."""
    if not outgoing.keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.title, url=b.url) if b.url else InlineKeyboardButton(b.title, callback_data=b.data)
                for b in row
            ]
            for row in outgoing.keyboard
        ]
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Say how often and how patiently to retry a send that failed with 429, 5xx or a network error."""

    attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Return the pause before retry number ``attempt`` (1-based), doubling each time."""
        return min(self.max_backoff_s, self.backoff_s * (2 ** (attempt - 1)))


class Sender:
    """Deliver outgoing messages to chats through a Bot; a message that finally fails is recorded."""

    def __init__(self, bot: Bot, record_failure: FailureRecorder | None = None, policy: RetryPolicy | None = None) -> None:
        """Send through ``bot``; report final failures to ``record_failure``."""
        self._bot = bot
        self._record_failure = record_failure
        self._policy = policy or RetryPolicy()

    async def deliver(self, chat_id: int, items: list[Outgoing], *, record: bool = True) -> int:
        """Send ``items`` in order to ``chat_id`` and return how many were delivered.

        With ``record`` False the caller records failures itself (e.g. a message already in the outbox).
        """
        delivered = 0
        for item in items:
            if await self._send(chat_id, item, record):
                delivered += 1
        return delivered

    async def send(
        self, chat_id: int, item: Outgoing, *, reply_to: int | None = None, record: bool = True
    ) -> Message | None:
        """Send one message (optionally as a reply to ``reply_to``) and return it, or None if it finally failed."""
        _, message = await self._attempt_send(chat_id, item, record, reply_to)
        return message

    async def _call(self, chat_id: int, item: Outgoing, reply_to: int | None = None) -> Message:
        markup = inline_markup(item)
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        if item.photo:
            try:
                return await self._bot.send_photo(
                    chat_id=chat_id, photo=item.photo, caption=item.text, reply_markup=markup, reply_parameters=reply
                )
            except BadRequest:
                # Telegram could not fetch or use the image: send its address as text instead.
                text = "\n".join(part for part in (item.text, item.photo) if part)
                return await self._bot.send_message(
                    chat_id=chat_id, text=text, reply_markup=markup, reply_parameters=reply
                )
        return await self._bot.send_message(
            chat_id=chat_id, text=item.text or "", reply_markup=markup, reply_parameters=reply
        )

    async def _send(self, chat_id: int, item: Outgoing, record: bool = True) -> bool:
        ok, _ = await self._attempt_send(chat_id, item, record)
        return ok

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None, int, str]:
        """Run ``call`` with the retry policy; return (succeeded, result, attempts, last error)."""
        error = ""
        attempts = 0
        for attempt in range(1, self._policy.attempts + 1):
            attempts = attempt
            try:
                return True, await call(), attempt, ""
            except RetryAfter as exc:
                error = "RetryAfter"
                pause = _seconds(exc)
            except BadRequest as exc:  # a 400 will not get better by retrying
                error = f"BadRequest: {exc.message[:200]}"
                break
            except Forbidden:  # the guest blocked the bot
                error = "Forbidden"
                break
            except NetworkError as exc:  # 5xx, timeouts, connection errors
                error = f"{type(exc).__name__}: {exc.message[:200]}"
                pause = self._policy.delay(attempt)
            except TelegramError as exc:
                error = f"{type(exc).__name__}: {exc.message[:200]}"
                break
            if attempt < self._policy.attempts:
                log.info("send to a chat failed (%s); retry %d in %.1f s", error.split(":")[0], attempt, pause)
                await asyncio.sleep(pause)
        return False, None, attempts, error

    async def _attempt_send(
        self, chat_id: int, item: Outgoing, record: bool = True, reply_to: int | None = None
    ) -> tuple[bool, Message | None]:
        ok, message, attempts, error = await self._retrying(lambda: self._call(chat_id, item, reply_to))
        if ok:
            return True, message
        log.warning("send to a chat failed after %d attempt(s): %s", attempts, error.split(":")[0])
        if record and self._record_failure is not None:
            try:
                await self._record_failure(chat_id, item.as_record(), attempts, error)
            except Exception:  # noqa: BLE001 - recording must never take the gateway down
                log.exception("could not record a failed outbound message")
        return False, None

    async def edit(self, chat_id: int, message_id: int, item: Outgoing) -> str:
        """Replace a text message's text and keyboard; return ``edited``, ``unchanged``, ``gone`` or ``failed``."""

        async def call() -> str:
            try:
                await self._bot.edit_message_text(
                    chat_id=chat_id, message_id=message_id, text=item.text or "", reply_markup=inline_markup(item)
                )
            except BadRequest as exc:
                lowered = exc.message.lower()
                if "not modified" in lowered:
                    return "unchanged"
                if "not found" in lowered or "can't be edited" in lowered or "no text" in lowered:
                    return "gone"
                raise
            return "edited"

        ok, outcome, attempts, error = await self._retrying(call)
        if not ok or outcome is None:
            log.warning("editing a message failed after %d attempt(s): %s", attempts, error.split(":")[0])
            return "failed"
        return outcome

    async def answer_callback(self, query_id: str, text: str | None = None, *, show_alert: bool = False) -> None:
        """Answer a callback query so the client's spinner stops, optionally with a notice (best effort)."""
        try:
            await self._bot.answer_callback_query(callback_query_id=query_id, text=text, show_alert=show_alert)
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        """Remove the inline keyboard of a message whose button was pressed (best effort)."""
        try:
            await self._bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except TelegramError as exc:
            log.info("editMessageReplyMarkup failed: %s", type(exc).__name__)


def _seconds(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)
    if value is not None and hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(exc.retry_after if not hasattr(exc.retry_after, "total_seconds") else exc.retry_after.total_seconds())  # type: ignore[union-attr]
