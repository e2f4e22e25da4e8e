"""Handle guest updates: dedupe, commands, identity linking, text and buttons to Rasa, photos and the rest."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.rasa_client import RasaUnavailable
from bot.telegram import texts as t
from bot.telegram.concurrency import ChatLocks
from bot.telegram.rendering import CallbackStore, Outgoing, render_replies
from bot.telegram.texts import Texts
from crm_store.clock import Clock
from crm_store.services import attachments, consent, identity, messaging
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

CHANNEL = "tg"
UPDATE_SOURCE = "telegram"
START_GREETING_PAYLOAD = "/greet"
GUEST_TEXT_QUOTE_CHARS = 80
_TYPED_LINK = re.compile(
    r"^\s*(?P<ref>[A-Za-z0-9][A-Za-z0-9_-]{3,63})[\s,;]+(?P<surname>[^\W\d_][^\W\d_'’\- ]*(?:[ '’-][^\W\d_]+){0,3})\s*$"
)

T = TypeVar("T")


class RasaPort(Protocol):
    """Say what the gateway needs from Rasa."""

    async def send_message(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        """Post one guest message and return Rasa's replies."""
        ...


class SenderPort(Protocol):
    """Say what the gateway needs to talk back to Telegram."""

    async def deliver(self, chat_id: int, items: list[Outgoing], *, record: bool = True) -> int:
        """Send messages to a chat in order; return how many were delivered."""
        ...

    async def answer_callback(self, query_id: str) -> None:
        """Answer a callback query."""
        ...

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        """Remove a message's inline keyboard."""
        ...


class HumanDesk(Protocol):
    """Say what the gateway needs from the staff desk while a human owns a guest's conversation."""

    async def relay_from_guest(
        self, chat_id: int, *, text: str | None = None, photo: str | None = None, caption: str | None = None
    ) -> bool:
        """Pass a guest message to the staff member who owns the conversation; False if nobody does."""
        ...

    async def evidence_added(self, reference: str) -> None:
        """Show a photo the guest just attached under the complaint's card."""
        ...


@dataclass(frozen=True)
class GatewayConfig:
    """Tune the gateway; the defaults suit production, tests shorten the times."""

    evidence_window: timedelta = timedelta(minutes=30)
    retry_interval_s: float = 5.0
    pending_max_age: timedelta = timedelta(hours=12)
    poll_timeout_s: float = 10.0
    send_attempts: int = 4
    send_backoff_s: float = 0.5
    rate_limit_retries: int = 3


def sender_id_of(chat_id: int) -> str:
    """Return the Rasa sender id of a Telegram chat."""
    return f"{CHANNEL}:{chat_id}"


def parse_typed_link(text: str) -> tuple[str, str] | None:
    """Return (reference, surname) when a message looks like "<booking ref> <surname>", else None.

    The reference must contain a digit and either a letter or at least six characters, so room numbers
    ("412 noisy") and ordinary sentences do not qualify.
    """
    match = _TYPED_LINK.match(text or "")
    if not match:
        return None
    ref, surname = match.group("ref"), match.group("surname")
    has_digit = any(ch.isdigit() for ch in ref)
    has_letter = any(ch.isalpha() for ch in ref)
    if not has_digit or not (has_letter or len(ref) >= 6):
        return None
    return ref, surname


def button_title(message: Any, data: str) -> str | None:
    """Return the title of the inline button carrying ``data`` in ``message``'s keyboard, if it is there."""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            if getattr(button, "callback_data", None) == data:
                return str(button.text)
    return None


def non_text_response(update: Update) -> str:
    """Choose the polite answer to a message that is neither text nor a photo."""
    message = update.effective_message
    if message is None:
        return t.UNSUPPORTED
    if message.voice or message.audio or message.video_note:
        return t.VOICE
    if message.sticker or message.dice:
        return t.STICKER
    if message.location or message.venue:
        return t.LOCATION
    if message.document or message.video or message.animation:
        return t.DOCUMENT
    return t.UNSUPPORTED


class Gateway:
    """Own the guest side of the Telegram gateway: every handler and the retry of kept messages."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker,
        clock: Clock,
        rasa: RasaPort,
        texts: Texts,
        config: GatewayConfig | None = None,
        callbacks: CallbackStore | None = None,
        action_server_up: Callable[[], Awaitable[bool]] | None = None,
        locks: ChatLocks | None = None,
    ) -> None:
        """Wire the gateway to its collaborators; the sender is attached once the bot exists."""
        self.session_factory = session_factory
        self.clock = clock
        self.rasa = rasa
        self.texts = texts
        self.config = config or GatewayConfig()
        self.callbacks = callbacks or CallbackStore()
        self.action_server_up = action_server_up
        self.locks = locks or ChatLocks()
        self.sender: SenderPort | None = None
        self.human_desk: HumanDesk | None = None  # the staff desk, when STAFF_CHAT_ID is set
        self._kick = asyncio.Event()

    # -- plumbing ------------------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a crm_store service with a fresh unit of work in a worker thread."""
        uow = SqlUnitOfWork(self.session_factory)
        return await asyncio.to_thread(partial(fn, uow, *args, **kwargs))

    async def say(self, chat_id: int, name: str, **variables: object) -> None:
        """Send the domain response ``name`` to a chat."""
        await self.send_replies(chat_id, [self.texts.message(name, **variables)])

    async def send_replies(self, chat_id: int, replies: list[dict[str, Any]], *, record: bool = True) -> tuple[int, int]:
        """Render Rasa-style replies, deliver them to a chat, and return (delivered, rendered)."""
        assert self.sender is not None, "the sender is attached in post_init"
        items = render_replies(replies, self.callbacks)
        return await self.sender.deliver(chat_id, items, record=record), len(items)

    async def record_failure(self, chat_id: int, body: dict[str, Any], attempts: int, error: str) -> None:
        """Record a message that could not be delivered in the outbox as failed."""
        await self.db(
            messaging.record_outbound, self.clock, CHANNEL, str(chat_id), body,
            status="failed", attempts=attempts, error=error,
        )

    def kick(self) -> None:
        """Wake the retry loop now."""
        self._kick.set()

    # -- handlers ------------------------------------------------------------------------------

    async def dedupe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Record the update id before anything else; stop at once if it was already handled."""
        fresh = await self.db(messaging.claim_update, self.clock, UPDATE_SOURCE, update.update_id)
        if not fresh:
            log.info("update %s already handled; skipped", update.update_id)
            raise ApplicationHandlerStop

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Link the booking given as /start argument, or greet; turn automated messages back on."""
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        args = list(context.args or [])
        if await self.db(consent.is_opted_out, CHANNEL, str(chat_id)):
            await self.db(consent.opt_in, self.clock, CHANNEL, str(chat_id), source="telegram:/start")
            await self.say(chat_id, t.RESUBSCRIBED)
        if args:
            await self.link(chat_id, args[0], surname=" ".join(args[1:]) or None)
            return
        await self.converse(chat_id, START_GREETING_PAYLOAD)

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Explain what the assistant does and list the commands."""
        await self.say(update.effective_chat.id, t.HELP)  # type: ignore[union-attr]

    async def on_privacy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say what we store and why."""
        await self.say(update.effective_chat.id, t.PRIVACY)  # type: ignore[union-attr]

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Record the opt-out from automated messages and confirm it."""
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        await self.db(consent.opt_out, self.clock, CHANNEL, str(chat_id), source="telegram:/stop")
        await self.say(chat_id, t.STOPPED)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Try "<booking ref> <surname>" linking, else pass the text to Rasa and render its replies."""
        message = update.effective_message
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        text = (message.text or "") if message is not None else ""
        if not text.strip():
            await self.say(chat_id, t.UNSUPPORTED)
            return
        if self.human_desk is not None and await self.human_desk.relay_from_guest(chat_id, text=text):
            return  # a human owns the conversation: the assistant stays silent
        typed = parse_typed_link(text)
        if typed is not None:
            await self.link(chat_id, typed[0], surname=typed[1])
            return
        await self.converse(chat_id, text)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the button press, remove the keyboard, and send the button's payload to Rasa."""
        query = update.callback_query
        if query is None:
            return
        assert self.sender is not None
        await self.sender.answer_callback(query.id)
        message = query.message
        if message is None or update.effective_chat is None:
            return
        chat_id = update.effective_chat.id
        payload = self.callbacks.decode(query.data or "")
        if payload is None:
            await self.say(chat_id, t.BUTTON_EXPIRED)
            return
        await self.sender.clear_keyboard(chat_id, message.message_id)
        if self.human_desk is not None:
            title = button_title(message, query.data or "") or payload
            if await self.human_desk.relay_from_guest(chat_id, text=title):
                return
        await self.converse(chat_id, payload)

    async def on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Attach a photo to the guest's complaint in progress, or explain how to report a problem."""
        message = update.effective_message
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        if message is None or not message.photo:
            await self.say(chat_id, t.UNSUPPORTED)
            return
        largest = message.photo[-1]
        attached = await self.db(
            attachments.attach_to_recent_complaint, self.clock, CHANNEL, str(chat_id),
            kind="photo", file_ref=largest.file_id, caption=message.caption,
            window=self.config.evidence_window,
        )
        desk = self.human_desk
        if desk is not None and await desk.relay_from_guest(chat_id, photo=largest.file_id, caption=message.caption):
            return  # the human who owns the conversation sees the photo under the card
        if attached is None:
            await self.say(chat_id, t.PHOTO_NO_COMPLAINT)
            return
        await self.say(chat_id, t.PHOTO_ATTACHED, complaint_reference=attached.complaint_reference)
        if desk is not None:
            await desk.evidence_added(attached.complaint_reference)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer voice, stickers, locations, documents and anything else politely."""
        if update.effective_chat is None:
            return
        await self.say(update.effective_chat.id, non_text_response(update))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler failure without personal data and tell the guest something went wrong."""
        error = context.error
        log.error("handler failed: %s", type(error).__name__, exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None and self.sender is not None:
            try:
                await self.say(update.effective_chat.id, t.NO_ANSWER)
            except Exception:  # noqa: BLE001 - the error handler itself must not fail
                log.exception("could not tell the guest about a failure")

    # -- use cases -----------------------------------------------------------------------------

    async def link(self, chat_id: int, reference: str, surname: str | None = None) -> None:
        """Link the chat to a booking and tell the guest how it went."""
        result = await self.db(
            identity.link_by_reservation, self.clock, CHANNEL, str(chat_id), reference, surname
        )
        if not result.linked:
            await self.say(chat_id, t.LINK_FAILED)
        elif result.reason == "already_linked":
            await self.say(chat_id, t.ALREADY_LINKED)
        elif result.first_name:
            await self.say(chat_id, t.LINKED, first_name=result.first_name)
        else:
            await self.say(chat_id, t.LINKED_ANONYMOUS)

    async def converse(self, chat_id: int, text: str) -> None:
        """Send guest text to Rasa and deliver the replies; keep it for later if Rasa is down."""
        if await self.db(messaging.has_pending_inbound, CHANNEL, str(chat_id)):
            await self.keep_for_later(chat_id, text)  # answer in order, behind the kept ones
            return
        replies = await self._ask_rasa(chat_id, text)
        if replies is None:
            await self.keep_for_later(chat_id, text)
            return
        await self.send_replies(chat_id, replies or [self.texts.message(t.NO_ANSWER)])

    async def _ask_rasa(self, chat_id: int, text: str) -> list[dict[str, Any]] | None:
        """Return Rasa's replies, or None when Rasa or the action server is down."""
        try:
            replies = await self.rasa.send_message(sender_id_of(chat_id), text)
        except RasaUnavailable as exc:
            log.warning("Rasa unavailable: %s", exc)
            return None
        if not replies and self.action_server_up is not None and not await self.action_server_up():
            log.warning("Rasa answered nothing and the action server is down")
            return None
        return list(replies)

    async def keep_for_later(self, chat_id: int, text: str) -> None:
        """Store the message, tell the guest it was received, and wake the retry loop."""
        await self.db(messaging.keep_inbound, self.clock, CHANNEL, str(chat_id), text)
        await self.say(chat_id, t.RECEIVED_LATER)
        self.kick()

    async def drain_pending(self) -> int:
        """Answer kept messages oldest first while Rasa answers; return how many were answered."""
        answered = 0
        now = self.clock.now()
        for row in await self.db(messaging.pending_inbound):
            if now - row.received_at > self.config.pending_max_age:
                await self.db(messaging.fail_inbound, self.clock, row.id, "expired")
                continue
            chat_id = int(row.external_id)
            async with self.locks.lock(chat_id):
                replies = await self._ask_rasa(chat_id, row.text)
                if replies is None:
                    await self.db(messaging.note_inbound_attempt, self.clock, row.id, "rasa unavailable")
                    return answered  # still down: try again on the next round
                await self.db(messaging.mark_inbound_answered, self.clock, row.id)
                quote = row.text if len(row.text) <= GUEST_TEXT_QUOTE_CHARS else row.text[:GUEST_TEXT_QUOTE_CHARS] + "…"
                await self.send_replies(
                    chat_id,
                    [self.texts.message(t.LATE_ANSWER, guest_text=quote), *(replies or [self.texts.message(t.NO_ANSWER)])],
                )
                answered += 1
        return answered

    async def retry_loop(self) -> None:
        """Retry kept messages every ``retry_interval_s`` (or when kicked) until cancelled."""
        while True:
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=self.config.retry_interval_s)
            except asyncio.TimeoutError:
                pass
            self._kick.clear()
            try:
                await self.drain_pending()
                await self.drain_outbox()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep retrying whatever happened
                log.exception("retrying kept messages failed")

    async def drain_outbox(self) -> int:
        """Deliver pending outbox messages of the tg channel (staged by the scheduler); return how many were sent.

        Messages to a guest who sent /stop are not delivered and are marked failed ("opted_out").
        """
        sent = 0
        for item in await self.db(messaging.pending_outbound, CHANNEL):
            try:
                chat_id = int(item.recipient)
            except ValueError:
                await self.db(messaging.settle_outbound, self.clock, item.id, sent=False, error="bad recipient")
                continue
            if await self.db(consent.is_opted_out, CHANNEL, item.recipient):
                await self.db(messaging.settle_outbound, self.clock, item.id, sent=False, error="opted_out")
                continue
            body = {k: v for k, v in item.body.items() if k != "source"}
            async with self.locks.lock(chat_id):
                delivered, total = await self.send_replies(chat_id, [body], record=False)
            ok = total > 0 and delivered == total
            await self.db(
                messaging.settle_outbound, self.clock, item.id, sent=ok,
                error=None if ok else ("nothing to send" if total == 0 else "delivery failed"),
            )
            sent += int(ok)
        return sent

    async def deliver_automated(self, chat_id: int, replies: list[dict[str, Any]]) -> bool:
        """Deliver an automated (not guest-initiated) message unless the guest opted out; return whether sent."""
        if await self.db(consent.is_opted_out, CHANNEL, str(chat_id)):
            log.info("automated message suppressed: guest opted out")
            return False
        await self.send_replies(chat_id, replies)
        return True
