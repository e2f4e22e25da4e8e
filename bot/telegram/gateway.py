"""Handle guest updates: dedupe, commands, identity linking, text and buttons to Rasa, photos and the rest."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.rasa_client import RasaUnavailable
from bot.telegram import texts as t
from bot.telegram.concurrency import ChatLocks
from bot.telegram.rendering import CallbackStore, Outgoing, render_replies
from bot.telegram.texts import Texts
from bot.telegram.webhook import update_problem, valid_update_id
from crm_store.clock import Clock
from crm_store.services import attachments, consent, identity, messaging
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

CHANNEL = "tg"
UPDATE_SOURCE = "telegram"
START_GREETING_PAYLOAD = "/greet"
START_COMMAND = "/start"
DB_RETRY_FIRST_PAUSE_S = 0.25
DB_RETRY_MAX_PAUSE_S = 5.0
EMPTY_ANSWER_RETRIES = 4  # Rasa answered nothing this many times in a row: answer "sorry" and move on
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
    db_retry_s: float = 60.0  # keep retrying a database call this long while the database is unreachable


def sender_id_of(chat_id: int) -> str:
    """Return the Rasa sender id of a Telegram chat."""
    return f"{CHANNEL}:{chat_id}"


def transient_db_error(exc: BaseException) -> bool:
    """Tell whether a database error means "unreachable right now" (worth waiting for), not a bug."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return bool(getattr(exc, "connection_invalidated", False))


def is_start_command(text: str) -> bool:
    """Tell whether a guest text is the /start command (with or without a booking reference)."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    return head == START_COMMAND or head.startswith(START_COMMAND + "@")


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
        # The journal of guest messages being answered (inbound_message rows in status "received"):
        self._journal: dict[int, int] = {}  # update id -> journal row, from admission to the end of handling
        self._current: dict[int, int] = {}  # chat id -> journal row of the update being handled in that chat
        self._admitted: set[int] = set()  # update ids already claimed by the poller (dedupe lets them through)
        self._failed: set[int] = set()  # update ids whose handler raised
        self._empty_answers: dict[int, int] = {}  # kept message id -> times Rasa answered nothing

    # -- plumbing ------------------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a crm_store service with a fresh unit of work in a worker thread.

        While the database is unreachable (restarting, connection cut) the call is retried with back-off for
        up to ``config.db_retry_s``: the guest's update waits instead of being dropped. A retried call may
        repeat a transaction whose commit was lost with the connection (rare; the services are idempotent
        or the repeat is harmless, except that such a claim reads as a redelivery).
        """
        deadline = time.monotonic() + self.config.db_retry_s
        pause = DB_RETRY_FIRST_PAUSE_S
        while True:
            uow = SqlUnitOfWork(self.session_factory)
            try:
                return await asyncio.to_thread(partial(fn, uow, *args, **kwargs))
            except SQLAlchemyError as exc:
                if not transient_db_error(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("database unavailable (%s); retrying in %.2f s", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, DB_RETRY_MAX_PAUSE_S)

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

    def journal_text(self, update: Update) -> str | None:
        """Return what to journal for a guest update that will be answered (text, /start, a button's payload).

        Other updates (photos, other commands, staff chat traffic) are not journalled.
        """
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            return None
        if update.message is not None:
            text = update.message.text or ""
            if not text.strip() or (text.startswith("/") and not is_start_command(text)):
                return None
            return text
        query = update.callback_query
        if query is not None and query.message is not None and query.data:
            payload = self.callbacks.decode(query.data)
            return payload if payload is not None and payload.strip() else None  # blank: answered "expired"
        return None

    async def admit(self, update: Update) -> bool:
        """Record the update id (and journal a guest message) durably; return False for a redelivery.

        The poller calls this before it confirms the update to Telegram, so an update is either still
        waiting at Telegram or recorded here: a gateway killed in between loses nothing.
        """
        text = self.journal_text(update)
        chat = update.effective_chat
        if text is None or chat is None:
            return await self.db(messaging.claim_update, self.clock, UPDATE_SOURCE, update.update_id)
        fresh, journal_id = await self.db(
            messaging.admit_update, self.clock, UPDATE_SOURCE, update.update_id,
            channel=CHANNEL, external_id=str(chat.id), text=text,
        )
        if fresh and journal_id is not None:
            self._journal[update.update_id] = journal_id
        return fresh

    def admitted(self, update: Update) -> None:
        """Note that the poller has admitted ``update`` (dedupe lets it through without a second claim)."""
        self._admitted.add(update.update_id)

    async def dedupe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Record the update id before anything else; stop at once if it was already handled.

        An update whose id cannot be recorded (not a 64-bit int) is dropped: handling it would answer it
        without the once-only guarantee. So is one the handlers cannot use (see webhook.update_problem). Updates the poller admitted are recorded already.
        """
        if not valid_update_id(update.update_id):
            log.warning("update with an unusable id dropped")
            raise ApplicationHandlerStop
        problem = update_problem(update)
        if problem is not None:  # long polling: nothing upstream checked the update
            log.warning("update %s dropped: %s", update.update_id, problem)
            raise ApplicationHandlerStop
        if update.update_id in self._admitted:
            self._admitted.discard(update.update_id)
        elif not await self.admit(update):
            log.info("update %s already handled; skipped", update.update_id)
            raise ApplicationHandlerStop
        journal_id = self._journal.get(update.update_id)
        if journal_id is not None and update.effective_chat is not None:
            self._current[update.effective_chat.id] = journal_id

    async def after_update(self, update: object) -> None:
        """Close the journal entry of a handled update: forget it if answered, keep it for later if handling failed."""
        if not isinstance(update, Update):
            return
        journal_id = self._journal.pop(update.update_id, None)
        failed = update.update_id in self._failed
        self._failed.discard(update.update_id)
        if update.effective_chat is not None and self._current.get(update.effective_chat.id) == journal_id:
            self._current.pop(update.effective_chat.id, None)
        if journal_id is None:
            return
        try:
            if failed:
                if await self.db(messaging.defer_received, self.clock, journal_id, "handler failed"):
                    self.kick()
            else:
                await self.db(messaging.release_received, journal_id)
        except Exception:  # noqa: BLE001 - the row stays "received" and is answered after a restart
            log.exception("could not close the journal entry of update %s", update.update_id)

    async def recover_journal(self) -> int:
        """Keep for later every message a previous gateway process was answering when it stopped (call at start-up)."""
        count = await self.db(messaging.requeue_received, self.clock)
        if count:
            self.kick()
        return count

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Link the booking given as /start argument, or greet; turn automated messages back on."""
        await self.start_command(update.effective_chat.id, list(context.args or []))  # type: ignore[union-attr]

    async def start_command(self, chat_id: int, args: list[str], *, greet: Callable[[int], Awaitable[None]] | None = None) -> None:
        """Do what /start does for ``chat_id`` (also when a kept /start is answered late, with ``greet``)."""
        if await self.db(consent.is_opted_out, CHANNEL, str(chat_id)):
            await self.db(consent.opt_in, self.clock, CHANNEL, str(chat_id), source="telegram:/start")
            await self.say(chat_id, t.RESUBSCRIBED)
        if args:
            await self.link(chat_id, args[0], surname=" ".join(args[1:]) or None)
            return
        if greet is not None:
            await greet(chat_id)
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
        if payload is None or not payload.strip():  # an expired key, or no data at all (never one of our buttons)
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
        journalled = isinstance(update, Update) and update.update_id in self._journal
        if journalled:
            self._failed.add(update.update_id)  # type: ignore[union-attr]
        if isinstance(update, Update) and update.effective_chat is not None and self.sender is not None:
            try:
                # A journalled message is kept and answered later (after_update); say so rather than "sorry".
                await self.say(update.effective_chat.id, t.RECEIVED_LATER if journalled else t.NO_ANSWER)
            except Exception:  # noqa: BLE001 - the error handler itself must not fail
                log.exception("could not tell the guest about a failure")

    # -- use cases -----------------------------------------------------------------------------

    async def link(self, chat_id: int, reference: str, surname: str | None = None) -> None:
        """Link the chat to a booking and tell the guest how it went."""
        result = await self.db(
            identity.link_by_reservation, self.clock, CHANNEL, str(chat_id), reference, surname
        )
        await self.answering(chat_id)
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
        if not replies:  # Rasa down, or it answered nothing (its tracker or lock store failing): try again later
            await self.keep_for_later(chat_id, text)
            return
        await self.answering(chat_id)
        await self.send_replies(chat_id, replies)

    async def answering(self, chat_id: int) -> None:
        """Close the journal entry of the message being handled in ``chat_id``: its answer is being sent now.

        Closed just before the answer goes out, not after: a gateway killed while sending then does not answer
        the message a second time after its restart (Telegram has no idempotent send). The window in which a
        kill loses the answer is the time to hand the request to Telegram; Rasa's own step stays at-least-once.
        """
        journal_id = self._current.pop(chat_id, None)
        if journal_id is not None:
            await self.db(messaging.release_received, journal_id)

    async def _ask_rasa(self, chat_id: int, text: str) -> list[dict[str, Any]] | None:
        """Return Rasa's replies: None when Rasa is down, [] when it answered nothing.

        Rasa's REST channel answers 200 with no message when handling failed inside Rasa (its tracker store
        or lock store unreachable, an action server down), so an empty answer is not taken as final.
        """
        try:
            replies = await self.rasa.send_message(sender_id_of(chat_id), text)
        except RasaUnavailable as exc:
            log.warning("Rasa unavailable: %s", exc)
            return None
        if not replies:
            down = self.action_server_up is not None and not await self.action_server_up()
            log.warning("Rasa answered nothing%s", " and the action server is down" if down else "")
            return None if down else []
        return list(replies)

    async def keep_for_later(self, chat_id: int, text: str) -> None:
        """Store the message (its journal entry, if any), tell the guest it was received, and wake the retry loop."""
        journal_id = self._current.pop(chat_id, None)
        if journal_id is None or not await self.db(messaging.defer_received, self.clock, journal_id):
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
            quote = row.text if len(row.text) <= GUEST_TEXT_QUOTE_CHARS else row.text[:GUEST_TEXT_QUOTE_CHARS] + "…"
            late = self.texts.message(t.LATE_ANSWER, guest_text=quote)
            async with self.locks.lock(chat_id):
                if is_start_command(row.text):  # a /start the previous gateway did not finish
                    await self.send_replies(chat_id, [late])

                    async def greet(chat: int) -> None:
                        await self.send_replies(chat, await self._ask_rasa(chat, START_GREETING_PAYLOAD)
                                                or [self.texts.message(t.NO_ANSWER)])

                    await self.start_command(chat_id, row.text.split()[1:], greet=greet)
                    await self.db(messaging.mark_inbound_answered, self.clock, row.id)
                    answered += 1
                    continue
                replies = await self._ask_rasa(chat_id, row.text)
                if replies is not None and not replies:
                    empties = self._empty_answers.get(row.id, 0) + 1
                    self._empty_answers[row.id] = empties
                    if empties < EMPTY_ANSWER_RETRIES:
                        replies = None  # try again: Rasa may have failed inside (its database coming back)
                    else:
                        log.warning("Rasa answered nothing %d times to a kept message; giving up", empties)
                if replies is None:
                    await self.db(messaging.note_inbound_attempt, self.clock, row.id, "rasa unavailable")
                    return answered  # still down: try again on the next round
                self._empty_answers.pop(row.id, None)
                await self.db(messaging.mark_inbound_answered, self.clock, row.id)
                await self.send_replies(chat_id, [late, *(replies or [self.texts.message(t.NO_ANSWER)])])
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
                # Recorded as sent just before it goes out: a gateway killed while sending does not send it
                # again after its restart (Telegram has no idempotent send); a failed send is recorded below.
                await self.db(messaging.settle_outbound, self.clock, item.id, sent=True)
                delivered, total = await self.send_replies(chat_id, [body], record=False)
            ok = total > 0 and delivered == total
            if not ok:
                await self.db(
                    messaging.settle_outbound, self.clock, item.id, sent=False,
                    error="nothing to send" if total == 0 else "delivery failed",
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
