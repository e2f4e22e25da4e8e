"""Run the staff desk in the staff chat: case cards, their buttons, /cases, and the human hand-off.

- Every pending outbox row on channel ``staff`` (staged by the scheduler through ``bot.notify`` and
  ``bot.feedback_notify``) becomes a card, or an edit of the case's card plus a short notice under it.
  One card per case (``StaffCard``); it edits itself as the case moves.
- Only allow-listed staff (``STAFF_USER_IDS`` and active ``StaffMember`` rows) may press card buttons or use
  staff commands, and only in ``STAFF_CHAT_ID``. Anyone else is refused and logged (user id only).
- A staff reply to a card (or to a notice or guest message under it) is relayed to the guest and gives that
  staff member the conversation (a claimed ``HumanHandoff``): the guest's messages then go to the staff chat,
  under the card, instead of Rasa. The assistant takes over again when the case is resolved, on
  ``/handback``, or after ``HANDOFF_IDLE_MINUTES`` without a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeChat, Update, User
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.notify import STAFF_CHANNEL
from bot.telegram import texts as t
from bot.telegram.cards import (
    ACK,
    CALLBACK_PREFIX,
    REASSIGN,
    RESOLVE,
    RUNG_TEXTS,
    CardRenderer,
    find_reference,
    parse_callback,
)
from bot.telegram.delivery import Sender
from bot.telegram.gateway import CHANNEL, Gateway
from bot.telegram.rendering import CAPTION_MAX_CHARS, Outgoing, split_text
from bot.telegram.webhook import fits_int64
from crm_store.errors import NotFound, ValidationError
from crm_store.policy import SlaPolicy
from crm_store.services import cases, handoff, messaging, staff_cards
from crm_store.services.staff_cards import CaseCard
from crm_store.settings import Settings

log = logging.getLogger(__name__)

ACTOR_PREFIX = "tg:"
IDLE_ACTOR = "idle_timeout"
CASE_ALERT = "case_alert"
FOLLOWUP_FAILED = "followup_failed"
FEEDBACK_ALERT = "feedback_alert"
LIVE_STATUSES = frozenset({"open", "reopened", "acknowledged"})
EVENT_STAFF_REPLIED = "staff_replied"
EVENT_HANDED_BACK = "handed_back"


@dataclass(frozen=True)
class StaffDeskConfig:
    """Say where the staff desk lives and who may use it."""

    chat_id: int
    user_ids: frozenset[int] = frozenset()
    timezone: str = "UTC"
    handoff_idle: timedelta = timedelta(minutes=30)
    interval_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> StaffDeskConfig | None:
        """Return the desk's configuration, or None when STAFF_CHAT_ID is not set (no staff desk)."""
        if settings.staff_chat_id is None:
            return None
        values: dict[str, Any] = {
            "chat_id": settings.staff_chat_id,
            "user_ids": settings.staff_user_ids,
            "timezone": settings.hotel_timezone,
            "handoff_idle": timedelta(minutes=settings.handoff_idle_minutes),
        }
        values.update(overrides)
        return cls(**values)


def actor_of(user_id: int) -> str:
    """Return the event-trail actor of a Telegram user: ``tg:<user id>``."""
    return f"{ACTOR_PREFIX}{user_id}"


class StaffDesk:
    """Own the staff side of the Telegram gateway: cards, buttons, commands, relays and hand-backs."""

    def __init__(self, gateway: Gateway, policy: SlaPolicy, config: StaffDeskConfig) -> None:
        """Share the gateway's database, clock, texts and sender; act on cases with ``policy``."""
        self.gateway = gateway
        self.policy = policy
        self.config = config
        self.render = CardRenderer(gateway.texts, ZoneInfo(config.timezone))
        self._cards = asyncio.Lock()  # one card render/post at a time, whoever asks
        self._kick = asyncio.Event()

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def chat_id(self) -> int:
        """Return the staff chat's id."""
        return self.config.chat_id

    @property
    def sender(self) -> Sender:
        """Return the gateway's sender (attached in post_init)."""
        assert self.gateway.sender is not None, "the sender is attached in post_init"
        return self.gateway.sender  # type: ignore[return-value]

    async def db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a crm_store service in a worker thread (see Gateway.db)."""
        return await self.gateway.db(fn, *args, **kwargs)

    def text(self, name: str, /, **variables: object) -> str:
        """Return a filled domain text."""
        return self.gateway.texts.text(name, **variables)

    def kick(self) -> None:
        """Wake the desk's loop now (deliver staged cards at once)."""
        self._kick.set()

    def register(self, app: Application) -> None:
        """Attach the desk's handlers; they come before the guest's, so the staff chat is never a guest chat."""
        staff = filters.Chat(chat_id=self.chat_id)
        fresh = staff & filters.UpdateType.MESSAGE
        app.add_handler(CallbackQueryHandler(self.on_card_button, pattern=rf"^{CALLBACK_PREFIX}:"))
        app.add_handler(CommandHandler("cases", self.on_cases, filters=fresh))
        app.add_handler(CommandHandler("handback", self.on_handback, filters=fresh))
        app.add_handler(MessageHandler(fresh & filters.REPLY & ~filters.COMMAND, self.on_staff_reply))
        app.add_handler(MessageHandler(staff, self.on_staff_chatter))

    async def set_commands(self, bot: Any) -> None:
        """Show /cases and /handback in the staff chat's command menu (best effort)."""
        commands = [BotCommand(name, description) for name, description in self.gateway.texts.commands(t.STAFF_COMMANDS)]
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(self.chat_id))
        except TelegramError as exc:
            log.warning("setMyCommands for the staff chat failed: %s", type(exc).__name__)

    # -- authorisation -------------------------------------------------------------------------

    async def is_staff(self, user_id: int) -> bool:
        """Tell whether a Telegram user may act on the desk (STAFF_USER_IDS or an active StaffMember)."""
        if user_id in self.config.user_ids:
            return True
        if not fits_int64(user_id):
            return False  # no staff_member row can hold it (the database would refuse the query)
        return await self.db(staff_cards.staff_member, user_id) is not None

    async def authorised(self, user: User | None, chat_id: int | None, what: str) -> bool:
        """Allow staff in the staff chat; log anyone else by user id only (never names)."""
        if user is not None and not user.is_bot and chat_id == self.chat_id and await self.is_staff(user.id):
            return True
        log.warning(
            "staff desk refused %s from user %s in %s", what, user.id if user else "?",
            "the staff chat" if chat_id == self.chat_id else "another chat",
        )
        return False

    async def display_name(self, user: User) -> tuple[str, str | None]:
        """Return (name, team rung) of a staff user: the StaffMember row if any, else their Telegram first name."""
        member = await self.db(staff_cards.staff_member, user.id)
        if member is not None:
            return member.name, member.role
        return (user.first_name or actor_of(user.id)), None

    # -- handlers ------------------------------------------------------------------------------

    async def on_card_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Acknowledge, resolve or reassign the case of a card; refuse anyone who is not staff."""
        query = update.callback_query
        if query is None:
            return
        chat_id = query.message.chat.id if query.message is not None else None
        action = parse_callback(query.data)
        if not await self.authorised(query.from_user, chat_id, f"button {action.action if action else '?'}"):
            await self.sender.answer_callback(query.id, self.text(t.STAFF_REFUSED), show_alert=True)
            return
        if action is None:
            await self.sender.answer_callback(query.id, self.text(t.STAFF_BAD_BUTTON), show_alert=True)
            return
        user = query.from_user
        actor = actor_of(user.id)
        reference = action.reference
        try:
            if action.action == ACK:
                info = await self.db(cases.acknowledge, self.gateway.clock, self.policy, reference, actor=actor)
                answer = self.text(t.STAFF_DONE_ACKNOWLEDGED)
            elif action.action == RESOLVE:
                info = await self.db(cases.resolve, self.gateway.clock, self.policy, reference, actor=actor)
                answer = self.text(t.STAFF_DONE_RESOLVED)
            else:
                assert action.action == REASSIGN
                info = await self.db(cases.escalate, self.gateway.clock, self.policy, reference, actor=actor)
                answer = self.text(t.STAFF_DONE_REASSIGNED, rung=self.render.rung(info.rung))
        except NotFound:
            await self.sender.answer_callback(query.id, self.text(t.STAFF_UNKNOWN_CASE, reference=reference), show_alert=True)
            return
        except ValidationError as exc:
            await self.sender.answer_callback(query.id, await self._why_not(reference, exc), show_alert=True)
            await self.refresh_card(reference)  # the card was stale
            return
        name, _ = await self.display_name(user)
        await self.db(staff_cards.note_name, self.gateway.clock, reference, actor, name)
        await self.sender.answer_callback(query.id, answer)
        log.info("staff desk: %s %s by %s", action.action, reference, actor)
        if info.status not in LIVE_STATUSES and await self.hand_back_case(
            reference, reason=self.text(t.STAFF_HANDBACK_RESOLVED), actor=actor
        ):
            return  # handing back already edited the card
        await self.refresh_card(reference)

    async def _why_not(self, reference: str, exc: ValidationError) -> str:
        try:
            info = await self.db(cases.get_case, self.policy, reference)
        except NotFound:
            return self.text(t.STAFF_UNKNOWN_CASE, reference=reference)
        if exc.field == "escalation":
            return self.text(t.STAFF_AT_TOP, rung=self.render.rung(info.rung))
        return self.text(t.STAFF_NOT_NOW, status=self.render.status(info.status))

    async def on_cases(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List open cases by deadline."""
        if not await self._command_allowed(update, "/cases"):
            return
        listed = await self.db(staff_cards.open_cases, self.policy)
        text = self.render.cases_list(listed, self.gateway.clock.now())
        await self.sender.deliver(self.chat_id, [Outgoing(text=chunk) for chunk in split_text(text)])

    async def on_handback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Hand a guest back to the assistant: ``/handback`` in reply to a card, or ``/handback <reference>``."""
        if not await self._command_allowed(update, "/handback"):
            return
        message = update.effective_message
        assert message is not None
        args = list(getattr(context, "args", None) or [])
        reference = find_reference(" ".join(args)) if args else None
        if reference is None and message.reply_to_message is not None:
            replied = message.reply_to_message
            reference = find_reference(replied.text or replied.caption)
        if reference is None:
            await self._reply(message.message_id, self.text(t.STAFF_HANDBACK_USAGE))
            return
        user = message.from_user
        assert user is not None
        name, _ = await self.display_name(user)
        actor = actor_of(user.id)
        await self.db(staff_cards.note_name, self.gateway.clock, reference, actor, name)
        try:
            card = await self.db(staff_cards.case_card, self.policy, reference)
        except NotFound:
            await self._reply(message.message_id, self.text(t.STAFF_UNKNOWN_CASE, reference=reference))
            return
        owned = await self.db(staff_cards.owned_conversation, *card.contact) if card.contact else None
        if owned is None:
            await self._reply(message.message_id, self.text(t.STAFF_HANDBACK_NONE, reference=reference))
            return
        await self.hand_back(owned.handoff_id, reason=self.text(t.STAFF_HANDBACK_COMMAND, who=name), actor=actor,
                             reference=reference)

    async def on_staff_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Relay a staff reply to a case message to the guest, and give that staff member the conversation."""
        message = update.effective_message
        if message is None or message.reply_to_message is None:
            return
        replied = message.reply_to_message
        bot = getattr(context, "bot", None)
        bot_id = getattr(bot, "id", None)
        author = replied.from_user
        if author is None or not author.is_bot or (bot_id is not None and author.id != bot_id):
            return  # staff talking among themselves
        reference = find_reference(replied.text or replied.caption)
        if reference is None:
            return
        if not await self.authorised(message.from_user, message.chat.id, f"reply on {reference}"):
            await self._reply(message.message_id, self.text(t.STAFF_REFUSED))
            return
        if not (message.text or "").strip():
            await self._reply(message.message_id, self.text(t.STAFF_REPLY_TEXT_ONLY))
            return
        assert message.from_user is not None
        await self.relay_to_guest(reference, message.from_user, message.text or "", staff_message_id=message.message_id)

    async def on_staff_chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ignore everything else said in the staff chat (it is never a guest conversation)."""

    async def _command_allowed(self, update: Update, what: str) -> bool:
        chat_id = update.effective_chat.id if update.effective_chat else None
        if await self.authorised(update.effective_user, chat_id, what):
            return True
        message = update.effective_message
        if message is not None and chat_id == self.chat_id:
            await self._reply(message.message_id, self.text(t.STAFF_REFUSED))
        return False

    async def _reply(self, message_id: int | None, text: str) -> None:
        await self.sender.send(self.chat_id, Outgoing(text=text), reply_to=message_id)

    # -- the hand-off ---------------------------------------------------------------------------

    async def relay_to_guest(self, reference: str, user: User, text: str, *, staff_message_id: int | None = None) -> bool:
        """Send a staff member's words to the guest of ``reference``; the first time, say who is answering."""
        clock = self.gateway.clock
        try:
            card = await self.db(staff_cards.case_card, self.policy, reference)
        except NotFound:
            await self._reply(staff_message_id, self.text(t.STAFF_UNKNOWN_CASE, reference=reference))
            return False
        if card.contact is None:
            await self._reply(staff_message_id, self.text(t.STAFF_NO_CONTACT, reference=reference))
            return False
        channel, external_id = card.contact
        actor = actor_of(user.id)
        name, role = await self.display_name(user)
        info, changed = await self.db(handoff.claim_handoff, clock, channel, external_id, owner=actor)
        if card.card is None:
            await self.refresh_card(reference)  # a reply to a notice of a case whose card is gone: post it again
        await self.db(staff_cards.note_name, clock, reference, actor, name)
        await self.db(staff_cards.link_handoff, clock, reference, info.id)
        await self.db(staff_cards.record_desk_event, clock, reference, EVENT_STAFF_REPLIED, actor,
                      handoff_id=info.id, channel=channel, took_over=changed)
        to_guest: list[str] = []
        if changed:
            first = name.split()[0] if name.split() else name
            team = self.render.rung(role) if role in RUNG_TEXTS else None
            to_guest.append(
                self.text(t.STAFF_ANSWERING, name=first, team=team) if team
                else self.text(t.STAFF_ANSWERING_GENERIC, name=first)
            )
        to_guest.extend(split_text(text.strip()))
        delivered = await self.tell_guest(channel, external_id, to_guest, source=f"staff:{reference}")
        if delivered is False:
            await self._reply(staff_message_id, self.text(t.STAFF_RELAY_FAILED, reference=reference))
        elif delivered is None:
            await self._reply(staff_message_id, self.text(t.STAFF_RELAY_QUEUED, reference=reference, channel=channel))
        if changed:
            await self.refresh_card(reference)
        return delivered is not False

    async def tell_guest(self, channel: str, external_id: str, texts: list[str], *, source: str) -> bool | None:
        """Deliver texts to a guest: sent now on Telegram (True/False), or stored for their channel (None)."""
        if channel == CHANNEL:
            try:
                chat_id = int(external_id)
            except ValueError:
                return False
            items = [Outgoing(text=text) for text in texts]
            return await self.sender.deliver(chat_id, items) == len(items)
        for text in texts:
            await self.db(
                messaging.record_outbound, self.gateway.clock, channel, external_id,
                {"text": text, "source": source}, status="pending", attempts=0,
            )
        return None

    async def relay_from_guest(
        self, chat_id: int, *, text: str | None = None, photo: str | None = None, caption: str | None = None
    ) -> bool:
        """Pass a guest's message to the staff chat, under the case card, if a human owns the conversation."""
        owned = await self.db(staff_cards.owned_conversation, CHANNEL, str(chat_id))
        if owned is None:
            return False
        await self.db(handoff.touch_handoff, self.gateway.clock, owned.handoff_id)
        reference = owned.reference or ""
        reply_to = owned.message_id if owned.chat_id == self.chat_id else None
        if photo:
            words = (caption or "").strip()[: CAPTION_MAX_CHARS // 2]
            label = self.text(t.STAFF_GUEST_PHOTO, reference=reference, caption=words).strip()
            await self.sender.send(self.chat_id, Outgoing(text=label[:CAPTION_MAX_CHARS], photo=photo), reply_to=reply_to)
            if owned.reference:
                await self._mark_photos_seen(owned.reference)
            return True
        chunks = split_text(self.text(t.STAFF_GUEST_SAYS, reference=reference, text=(text or "").strip()))
        for number, chunk in enumerate(chunks):
            await self.sender.send(self.chat_id, Outgoing(text=chunk), reply_to=reply_to if number == 0 else None)
        return True

    async def hand_back_case(self, reference: str, *, reason: str, actor: str) -> bool:
        """Hand the guest of ``reference`` back to the assistant if a human owns the conversation."""
        card = await self.db(staff_cards.get_card, reference)
        if card is None or card.handoff_id is None:
            return False
        return await self.hand_back(card.handoff_id, reason=reason, actor=actor, reference=reference)

    async def hand_back(self, handoff_id: int, *, reason: str, actor: str, reference: str | None = None) -> bool:
        """Close a hand-off, tell the guest the assistant is back, and note it under the cards involved."""
        clock = self.gateway.clock
        state = await self.db(staff_cards.handoff_state, handoff_id)
        if state is None or not state[0]:
            return False  # already handed back
        contact = state[1]
        linked = await self.db(staff_cards.cards_for_handoff, handoff_id)
        await self.db(handoff.close_handoff, clock, handoff_id)
        log.info("staff desk: hand-off %s handed back by %s", handoff_id, actor)
        if contact is not None:
            await self.tell_guest(*contact, [self.text(t.STAFF_HANDED_BACK)], source="staff:handback")
        references = [c.reference for c in linked]
        if reference and reference not in references:
            references.append(reference)
        for ref in references:
            await self.db(
                staff_cards.record_desk_event, clock, ref, EVENT_HANDED_BACK, actor, handoff_id=handoff_id, reason=reason
            )
            await self.refresh_card(ref, notice=self.text(t.STAFF_HANDBACK_NOTICE, reference=ref, reason=reason))
        return True

    async def hand_back_idle(self) -> int:
        """Hand back every conversation no one has written in for HANDOFF_IDLE_MINUTES; return how many."""
        idle = await self.db(handoff.idle_handoffs, self.gateway.clock, self.config.handoff_idle)
        minutes = int(self.config.handoff_idle.total_seconds() // 60)
        done = 0
        for info in idle:
            if await self.hand_back(info.id, reason=self.text(t.STAFF_HANDBACK_IDLE, minutes=minutes), actor=IDLE_ACTOR):
                done += 1
        return done

    # -- cards ---------------------------------------------------------------------------------

    async def refresh_card(self, reference: str, *, notice: str | None = None) -> CaseCard | None:
        """Post the case's card, or edit it to the case's current state; post new photos and ``notice`` under it.

        Returns the card's content, or None when it could not be shown (unknown case, Telegram refused).
        """
        async with self._cards:
            try:
                data = await self.db(staff_cards.case_card, self.policy, reference)
            except NotFound:
                return None
            now = self.gateway.clock.now()
            outgoing = self.render.card(data, now)
            card = data.card
            message_id: int | None = None
            if card is not None and card.chat_id == self.chat_id:
                outcome = await self.sender.edit(card.chat_id, card.message_id, outgoing)
                if outcome in ("edited", "unchanged"):
                    message_id = card.message_id
                elif outcome == "failed":
                    return None
            if message_id is None:  # no card yet, it was deleted, or the staff chat changed
                sent = await self.sender.send(self.chat_id, outgoing, record=False)
                if sent is None:
                    return None
                message_id = sent.message_id
                await self.db(staff_cards.save_card, self.gateway.clock, data.case.reference, self.chat_id, message_id)
                posted = 0
            else:
                posted = card.photos_posted if card is not None else 0
            await self._post_photos(data.case.reference, data.photos, posted, message_id)
            if notice:
                await self.sender.send(self.chat_id, Outgoing(text=notice), reply_to=message_id)
            return data

    async def _post_photos(self, reference: str, photos: tuple[str, ...], posted: int, message_id: int) -> None:
        count = posted
        for file_ref in photos[posted:]:
            label = self.text(t.STAFF_GUEST_PHOTO, reference=reference, caption="").strip()
            if await self.sender.send(self.chat_id, Outgoing(text=label, photo=file_ref), reply_to=message_id) is None:
                break
            count += 1
        if count != posted:
            await self.db(staff_cards.set_photos_posted, self.gateway.clock, reference, count)

    async def _mark_photos_seen(self, reference: str) -> None:
        """Count every photo of the case as shown (the guest's photo was just forwarded under the card)."""
        async with self._cards:
            try:
                data = await self.db(staff_cards.case_card, self.policy, reference)
            except NotFound:
                return
            if data.card is not None:
                await self.db(staff_cards.set_photos_posted, self.gateway.clock, reference, len(data.photos))

    async def evidence_added(self, reference: str) -> None:
        """Refresh the case's card after the guest attached a photo (the photo goes under the card)."""
        card = await self.db(staff_cards.get_card, reference)
        if card is not None:
            await self.refresh_card(reference)

    # -- the outbox ----------------------------------------------------------------------------

    async def drain_outbox(self) -> int:
        """Turn pending staff outbox rows into cards and notices; return how many were delivered."""
        sent = 0
        for item in await self.db(messaging.pending_outbound, STAFF_CHANNEL):
            ok, error = await self._deliver(item.body)
            await self.db(messaging.settle_outbound, self.gateway.clock, item.id, sent=ok, error=error)
            sent += int(ok)
        return sent

    async def _deliver(self, body: dict[str, Any]) -> tuple[bool, str | None]:
        kind = body.get("type")
        if kind == CASE_ALERT:
            reference = str(body.get("reference") or "")
            data = await self.refresh_card(reference, notice=self.render.alert_notice(body))
            if data is None:
                return False, "card not delivered"
            if data.case.status not in LIVE_STATUSES:
                await self.hand_back_case(reference, reason=self.text(t.STAFF_HANDBACK_RESOLVED), actor="scheduler")
            return True, None
        if kind == FOLLOWUP_FAILED:
            return await self._notice(self.render.failure_notice(body), find_reference(str(body.get("subject") or "")))
        if kind == FEEDBACK_ALERT:
            return await self._notice(self.render.feedback_notice(body), find_reference(str(body.get("reference") or "")))
        if isinstance(body.get("text"), str) and body["text"].strip():
            return await self._notice(body["text"], None)
        return False, f"unknown staff message type {str(kind)[:40]!r}"

    async def _notice(self, text: str, reference: str | None) -> tuple[bool, str | None]:
        """Post a notice, under the case's card when there is one."""
        reply_to = None
        if reference:
            card = await self.db(staff_cards.get_card, reference)
            if card is not None and card.chat_id == self.chat_id:
                reply_to = card.message_id
        items = split_text(text)
        for number, chunk in enumerate(items):
            sent = await self.sender.send(self.chat_id, Outgoing(text=chunk), reply_to=reply_to if number == 0 else None,
                                          record=False)
            if sent is None:
                return False, "delivery failed"
        return True, None

    async def run(self) -> None:
        """Deliver staged cards and hand back idle conversations every ``interval_s`` until cancelled."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.config.interval_s)
            self._kick.clear()
            try:
                await self.drain_outbox()
                await self.hand_back_idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the desk running whatever happened
                log.exception("staff desk round failed")

