"""Play hotel guests on Telegram: link the stay, greet, state a preference, complain, answer the recovery
check and the post-stay survey; one chat per stay, one message in flight per guest.

A guest sends its next message only when the previous one is settled: answered, or acknowledged with "I'll
reply shortly" and then answered late (the answer quotes it). That keeps the reply to every update
attributable from the Bot API's log alone (see chaoslib.checks). Automated messages (the recovery check, the
survey invitation and its reminder) may arrive at any time and are handled in turn.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from . import texts as t
from .botapi import ChaosBotApi, Entry
from .pms import PmsClient

REPLY_TIMEOUT_S = 300.0  # longer than a Rasa restart plus the gateway's retry interval
QUIET_S = 1.6  # no further bot message for this long: the reply batch is complete
AUTOMATED_WAIT_S = 150.0
THINK_S = (2.0, 5.0)

GREETINGS = ["hello", "hi there", "good morning", "hey", "good evening", "hello there"]
PREFERENCES = [
    "I'd like a quiet room please",
    "please note I prefer feather pillows",
    "I would like a room on a high floor",
    "I'd like a king size bed",
    "could I have hypoallergenic pillows",
    "I prefer a firm pillow",
    "please remember I'm vegetarian",
    "I'd like extra pillows please",
]
COMPLAINTS = [
    "the shower in room {room} is broken",
    "the air conditioning in room {room} is not working",
    "room {room} was not clean when we arrived",
    "the tv in room {room} doesn't work",
    "there is a leak in the bathroom of room {room}",
    "the heating in room {room} is broken",
    "the toilet in room {room} won't flush",
    "the wifi in room {room} keeps dropping",
]
COMMENTS = [
    "lovely staff and a great breakfast",
    "the room was comfortable and quiet",
    "nice stay, the spa was great",
    "good location, friendly reception",
]
AUTOMATED = frozenset({t.SURVEY_INTRO, t.SURVEY_REMINDER, t.RECOVERY_ASK, t.PULSE_ASK})


@dataclass
class LoadStats:
    """Count what the guests did, for progress lines."""

    rounds_started: int = 0
    rounds_done: int = 0
    messages: int = 0
    held: int = 0
    timeouts: int = 0
    complaints_told: int = 0
    recovery_asks: int = 0
    survey_invites: int = 0
    surveys_done: int = 0
    pms_failures: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        """Return a one-line summary."""
        return (f"rounds={self.rounds_done}/{self.rounds_started} msgs={self.messages} held={self.held} "
                f"timeouts={self.timeouts} complaints={self.complaints_told} recovery_asks={self.recovery_asks} "
                f"survey_invites={self.survey_invites} surveys_done={self.surveys_done}")


class StopLoad(Exception):
    """Raised inside a guest when the load is being stopped."""


class Guest:
    """One guest slot: plays stay after stay (a new chat each time) until told to stop."""

    def __init__(self, api: ChaosBotApi, pms: PmsClient, slot: int, run_tag: str, stats: LoadStats,
                 stop: asyncio.Event, seed: int) -> None:
        """Remember the Bot API, the PMS, the slot number and the shared stop signal."""
        self.api = api
        self.pms = pms
        self.slot = slot
        self.run_tag = run_tag
        self.stats = stats
        self.stop = stop
        self.rng = random.Random(seed)
        self.chat_id = 0
        self.cursor = 0  # seq of the last bot message this guest has looked at
        self.prompts: list[Entry] = []  # automated messages not handled yet

    # -- plumbing ------------------------------------------------------------------------------

    async def think(self) -> None:
        """Pause like a person typing (and notice a stop request)."""
        await asyncio.sleep(self.rng.uniform(*THINK_S))

    async def _next_bot(self, deadline: float) -> Entry | None:
        """Return the next bot message to this chat (after ``cursor``), waiting until ``deadline``."""
        while True:
            fresh = self.api.bot_messages(self.chat_id, self.cursor)
            if fresh:
                self.cursor = fresh[0].seq
                return fresh[0]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            event = self.api.event(self.chat_id)
            event.clear()
            if self.api.bot_messages(self.chat_id, self.cursor):
                continue
            try:
                await asyncio.wait_for(event.wait(), timeout=min(left, 1.0))
            except asyncio.TimeoutError:
                pass

    def _automated(self, entry: Entry, previous: Entry | None) -> bool:
        """Tell whether a bot message is a follow-up rather than a reply (runtime heuristic)."""
        name = t.response_name(entry.text)
        if name in AUTOMATED:
            return True
        # The survey invitation is the intro followed by the first question (two outbox rows).
        return bool(name == "utter_ask_survey_nps" and previous is not None
                    and t.response_name(previous.text) in (t.SURVEY_INTRO, t.SURVEY_REMINDER))

    async def _collect(self, sent: Entry) -> list[Entry]:
        """Wait for the reply batch to ``sent``; follow a held message to its late answer. Return the replies."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        replies: list[Entry] = []
        held = False
        previous: Entry | None = None
        while True:
            if replies and not held:
                entry = await self._next_bot(time.monotonic() + QUIET_S)
                if entry is None:
                    return replies
            else:
                entry = await self._next_bot(deadline)
                if entry is None:
                    self.stats.timeouts += 1
                    self.stats.outcomes["timeout"] += 1
                    return replies
            if self._automated(entry, previous):
                self.prompts.append(entry)
                previous = entry
                continue
            previous = entry
            name = t.response_name(entry.text)
            if name == t.RECEIVED_LATER and not replies:
                held = True
                self.stats.held += 1
                self.stats.outcomes["held"] += 1
                continue
            if held:
                quote = t.late_answer_quote(entry.text) if name == t.LATE_ANSWER else None
                if quote is not None and t.quote_matches(quote, sent.text):
                    held = False
                    continue  # the answer follows the "about your message" line
                replies.append(entry)  # unexpected: keep it, the checker will judge
                continue
            replies.append(entry)

    async def say(self, text: str) -> list[Entry]:
        """Type ``text`` and return the bot's replies to it."""
        await self.think()
        sent = self.api.guest_text(self.chat_id, text, first_name=f"Guest{self.slot}")
        self.stats.messages += 1
        return await self._collect(sent)

    async def press(self, message: Entry, payload: str) -> list[Entry]:
        """Press the inline button with ``payload`` under ``message`` (fall back to typing its title)."""
        await self.think()
        button = next((b for b in message.buttons if b.get("callback_data") == payload), None)
        if button is None:
            button = next((b for b in message.buttons if b.get("text") == payload), None)
        if button is None or message.message_id is None:
            return await self.say(payload)
        sent = self.api.guest_button(self.chat_id, message.message_id, button["callback_data"])
        self.stats.messages += 1
        return await self._collect(sent)

    async def wait_prompt(self, names: set[str], timeout_s: float) -> Entry | None:
        """Wait for an automated message named in ``names`` (keeping others for later)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for entry in list(self.prompts):
                if t.response_name(entry.text) in names:
                    self.prompts.remove(entry)
                    return entry
            if self.stop.is_set():
                return None
            entry = await self._next_bot(min(deadline, time.monotonic() + 1.0))
            if entry is not None:
                self.prompts.append(entry)
                continue
            if time.monotonic() >= deadline:
                return None

    # -- the guest's stay -----------------------------------------------------------------------

    async def run(self) -> None:
        """Play stays until the load is stopped."""
        number = 0
        while not self.stop.is_set():
            number += 1
            try:
                await self.stay(number)
            except StopLoad:
                return
            except Exception as exc:  # noqa: BLE001 - one guest's surprise must not end the run
                self.stats.outcomes[f"error:{type(exc).__name__}"] += 1
                await asyncio.sleep(2)

    def check_stop(self) -> None:
        """Leave the stay between two exchanges once the load is stopped."""
        if self.stop.is_set():
            raise StopLoad

    async def stay(self, number: int) -> None:
        """Play one stay from booking to survey."""
        self.chat_id = 10_000_000 + self.slot * 1_000 + number
        self.cursor = 0
        self.prompts = []
        reference = f"CH{self.run_tag}{self.slot:02d}{number:03d}"
        room = str(self.rng.randint(101, 599))
        today = date.today()
        name = f"Alex{self.slot} Guest{number}"
        arrival, departure = today - timedelta(days=1), today + timedelta(days=1)
        self.stats.rounds_started += 1
        if not await self.pms.send("reservation", reference, arrival, departure, name, room, self.stop):
            self.stats.pms_failures += 1
            return
        await self.pms.send("check_in", reference, arrival, departure, name, room, self.stop)
        self.check_stop()
        await self.say(f"/start {reference}")
        self.check_stop()
        await self.say(self.rng.choice(GREETINGS))
        self.check_stop()
        await self.say(self.rng.choice(PREFERENCES))
        self.check_stop()
        await self.complain(room)
        self.check_stop()
        ask = await self.wait_prompt({t.RECOVERY_ASK}, AUTOMATED_WAIT_S)
        if ask is not None:
            self.stats.recovery_asks += 1
            await self.press(ask, "/affirm")
        self.check_stop()
        if not await self.pms.send("check_out", reference, arrival, today, name, room, self.stop):
            self.stats.pms_failures += 1
            return
        await self.survey()
        self.stats.rounds_done += 1

    async def complain(self, room: str) -> None:
        """Report a problem with the room number; answer the room question if asked."""
        replies = await self.say(self.rng.choice(COMPLAINTS).format(room=room))
        for _ in range(2):
            names = [t.response_name(r.text) for r in replies]
            if any(r for r in replies if t.references(r.text)):
                self.stats.complaints_told += 1
                return
            if "utter_ask_room_number" in names:
                replies = await self.say(room)
            elif "utter_ask_complaint_description" in names:
                replies = await self.say("the shower is broken")
            else:
                return

    async def survey(self) -> None:
        """Wait for the invitation and answer it: a score button, aspects (buttons or digits), a comment."""
        intro = await self.wait_prompt({t.SURVEY_INTRO}, AUTOMATED_WAIT_S)
        if intro is None:
            return
        self.stats.survey_invites += 1
        question = await self.wait_prompt({"utter_ask_survey_nps"}, 30.0)
        if question is None:
            return
        detractor = self.rng.random() < 0.1
        nps = self.rng.choice(["2", "3"]) if detractor else self.rng.choice(["8", "9", "10"])
        replies = await self.press(question, f'/inform{{"score":"{nps}"}}')
        for _ in range(8):
            names = [t.response_name(r.text) for r in replies]
            last = replies[-1] if replies else None
            if "utter_survey_thanks" in names or last is None:
                if "utter_survey_thanks" in names:
                    self.stats.surveys_done += 1
                return
            name = t.response_name(last.text)
            if name == "utter_ask_survey_comment":
                if self.rng.random() < 0.3:
                    replies = await self.press(last, "/deny")
                else:
                    replies = await self.say(self.rng.choice(COMMENTS))
            elif name and name.startswith("utter_ask_survey_"):
                score = self.rng.choice(["2"] if detractor else ["4", "5"])
                if self.rng.random() < 0.5:
                    replies = await self.press(last, f'/inform{{"score":"{score}"}}')
                else:
                    replies = await self.say(score)
            else:
                return
