"""Simulated guests: the scripted conversations and the two ways of playing them (Telegram, REST).

A guest greets, gives a name, states preferences, asks what the hotel knows about them, reports a problem,
gives the room, starts the survey, answers the score questions (buttons) and leaves a comment. Two variants
alternate (a promoter and a detractor). Every conversation is a new guest in a new chat.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from scripts.benchlib.fakeapi import RecordingBotApi

NAMES = ["Anna", "Marco", "Sofia", "Lukas", "Emma", "David", "Laura", "Pavel", "Chloe", "Jonas",
         "Elena", "Tomas", "Nina", "Oscar", "Mia", "Hugo", "Ines", "Felix", "Clara", "Leon"]


@dataclass(frozen=True)
class Turn:
    """One guest message: a typed text, or the press of the button with this title on the last keyboard."""

    text: str
    button: bool = False


SCRIPTS: list[list[Turn]] = [
    [
        Turn("hi there"),
        Turn("my name is {name}"),
        Turn("I'd like hypoallergenic pillows and a room on a high floor"),
        Turn("what do you know about me?"),
        Turn("the shower in my room is broken"),
        Turn("{room}"),
        Turn("I'd like to give feedback"),
        Turn("9", button=True),
        Turn("4", button=True),
        Turn("5", button=True),
        Turn("4", button=True),
        Turn("5", button=True),
        Turn("the breakfast was lovely, thank you"),
    ],
    [
        Turn("hello"),
        Turn("my name is {name}"),
        Turn("I'm vegetarian and I'd like a quiet room please"),
        Turn("it's way too noisy, people are shouting in the corridor"),
        Turn("room {room}"),
        Turn("what do you know about me"),
        Turn("I'd like to give feedback"),
        Turn("3", button=True),
        Turn("2", button=True),
        Turn("4", button=True),
        Turn("1", button=True),
        Turn("3", button=True),
        Turn("the bathroom was dirty and nobody answered the phone"),
    ],
]


def fill(turn: Turn, guest_no: int) -> str:
    """Return the turn's text for guest number ``guest_no`` (names and rooms vary)."""
    return turn.text.format(name=NAMES[guest_no % len(NAMES)], room=str(201 + guest_no % 380))


@dataclass
class TurnResult:
    """What happened to one guest message."""

    channel: str
    level: int
    sender: str
    turn: int
    sent_wall: float
    latency: float | None  # to the first reply (Telegram) / the HTTP answer (REST); None when it never came
    latency_all: float | None = None  # to the last expected reply
    replies: int = 0
    error: str | None = None
    button: bool = False  # a button press (Telegram: a callback query) rather than typed text


@dataclass
class Think:
    """Think time between a guest's turns: uniform in [low_s, high_s]."""

    low_s: float = 0.3
    high_s: float = 1.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def pause(self) -> float:
        """Return the next pause."""
        return self.rng.uniform(self.low_s, self.high_s)


@dataclass
class LevelResult:
    """Everything measured at one concurrency level of one channel."""

    channel: str
    level: int
    elapsed_s: float
    turns: list[TurnResult]

    @property
    def latencies(self) -> list[float]:
        """Return the latencies of the answered turns."""
        return [t.latency for t in self.turns if t.latency is not None and t.error is None]

    @property
    def errors(self) -> list[TurnResult]:
        """Return the turns that failed."""
        return [t for t in self.turns if t.error is not None]


def conversations_per_guest(guests: int, target_turns: int) -> int:
    """Return how many conversations each guest plays so a level yields about ``target_turns`` turns."""
    per_conversation = len(SCRIPTS[0])
    return max(1, round(target_turns / (guests * per_conversation)))


async def run_level(channel: str, guests: int, target_turns: int, play: Callable[..., Any], think: Think,
                    first_guest: int) -> LevelResult:
    """Run ``guests`` concurrent virtual guests, each playing whole conversations in fresh chats."""
    rounds = conversations_per_guest(guests, target_turns)
    numbers = itertools.count(first_guest)
    results: list[TurnResult] = []

    async def virtual_guest(slot: int) -> None:
        await asyncio.sleep(think.rng.uniform(0, think.high_s))  # no lock-step start
        for _ in range(rounds):
            guest_no = next(numbers)
            await play(guest_no, SCRIPTS[guest_no % len(SCRIPTS)], results, think)

    started = time.monotonic()
    await asyncio.gather(*(virtual_guest(i) for i in range(guests)))
    return LevelResult(channel, guests, time.monotonic() - started, results)


class RestGuests:
    """Play guests over a Rasa REST channel (ours or the bare bot)."""

    def __init__(self, base_url: str | list[str], channel: str, level_of: Callable[[], int], *, prefix: str,
                 expected: dict[tuple[int, int], int] | None = None, timeout_s: float = 60.0) -> None:
        """Post to ``base_url``/webhooks/rest/webhook; ``expected`` maps (script, turn) to the reply count.

        With several Rasa replicas (a list), each conversation goes where the gateway would send it.
        """
        self.urls = [f"{u.rstrip('/')}/webhooks/rest/webhook" for u in ([base_url] if isinstance(base_url, str)
                                                                         else base_url)]
        self.channel = channel
        self.level_of = level_of
        self.prefix = prefix
        self.expected = expected
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.empty_replies = 0

    async def close(self) -> None:
        """Nothing to close: every guest has its own HTTP session for the length of its conversation."""

    def sender(self, guest_no: int) -> str:
        """Return the sender id of guest ``guest_no``."""
        return f"{self.prefix}{guest_no}"

    def url_for(self, sender: str) -> str:
        """Return the replica URL of a conversation (rendezvous hashing, as the gateway's Rasa client)."""
        if len(self.urls) == 1:
            return self.urls[0]
        try:
            from bot.rasa_client import rendezvous_order
        except ImportError:  # a client without replicas: spread evenly
            return self.urls[sum(sender.encode()) % len(self.urls)]
        bases = {u.rsplit("/webhooks/", 1)[0]: u for u in self.urls}
        return bases[rendezvous_order(list(bases), sender)[0]]

    async def post(self, session: aiohttp.ClientSession, sender: str, text: str) -> tuple[int, list[dict[str, Any]]]:
        """Post one message; return (HTTP status, replies)."""
        async with session.post(self.url_for(sender), json={"sender": sender, "message": text}) as resp:
            body = await resp.json(content_type=None) if resp.status == 200 else []
            return resp.status, body if isinstance(body, list) else []

    async def play(self, guest_no: int, script: list[Turn], results: list[TurnResult], think: Think) -> None:
        """Play one conversation on the guest's own HTTP connection (a guest is an independent client)."""
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            await self._play(session, guest_no, script, results, think)

    async def _play(self, session: aiohttp.ClientSession, guest_no: int, script: list[Turn],
                    results: list[TurnResult], think: Think) -> None:
        sender = self.sender(guest_no)
        script_no = SCRIPTS.index(script)
        last: list[dict[str, Any]] = []
        for index, turn in enumerate(script):
            text = fill(turn, guest_no)
            if turn.button:
                text = payload_of(last, text) or text
            wall, started = time.time(), time.monotonic()
            result = TurnResult(self.channel, self.level_of(), sender, index, wall, None, button=turn.button)
            try:
                status, replies = await self.post(session, sender, text)
            except asyncio.TimeoutError:
                result.error = "timeout: no answer in time"
                results.append(result)
                return
            except aiohttp.ClientError as exc:
                result.error = f"connection error: {type(exc).__name__}"
                results.append(result)
                return
            result.latency = result.latency_all = time.monotonic() - started
            result.replies = len(replies)
            if status != 200:
                result.error = f"non-2xx answer: HTTP {status}"
            elif self.expected is not None:
                want = self.expected.get((script_no, index))
                if want is not None and len(replies) != want:
                    result.error = count_error(len(replies), want)
            elif not replies:
                self.empty_replies += 1
            results.append(result)
            if result.error is not None and status != 200:
                return
            last = replies or last
            await asyncio.sleep(think.pause())


def count_error(got: int, want: int) -> str:
    """Describe a reply count that differs from the calibration conversation's."""
    if got == 0:
        return f"no reply: expected {want}"
    return f"{'fewer' if got < want else 'more'} replies: {got} instead of {want}"


def payload_of(replies: list[dict[str, Any]], title: str) -> str | None:
    """Return the payload of the button titled ``title`` in the latest reply that has buttons."""
    for reply in reversed(replies):
        for button in reply.get("buttons") or ():
            if str(button.get("title")) == title:
                return str(button.get("payload"))
    return None


def keyboard_button(message: dict[str, Any], title: str) -> str | None:
    """Return the callback data of the inline button titled ``title`` in a Bot API message."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("text") == title and button.get("callback_data"):
                return str(button["callback_data"])
    return None


class TelegramGuests:
    """Play guests through the Bot API stand-in: updates in, messages out, buttons pressed like a client."""

    def __init__(self, api: RecordingBotApi, level_of: Callable[[], int], expected: dict[tuple[int, int], int],
                 fallback_texts: set[str], *, first_chat: int, timeout_s: float = 60.0) -> None:
        """``expected`` maps (script, turn) to the number of messages the bot sends back."""
        self.api = api
        self.level_of = level_of
        self.expected = expected
        self.fallback_texts = fallback_texts
        self.first_chat = first_chat
        self.timeout_s = timeout_s
        self.injected: dict[int, float] = {}  # update id -> monotonic time it was made available
        self.turn_updates: list[tuple[TurnResult, int, float]] = []  # (result, update id, injected at)

    def chat_of(self, guest_no: int) -> int:
        """Return the private chat id of guest ``guest_no``."""
        return self.first_chat + guest_no

    async def play(self, guest_no: int, script: list[Turn], results: list[TurnResult], think: Think) -> None:
        """Play one conversation, waiting for every expected message before thinking and answering."""
        chat = self.chat_of(guest_no)
        script_no = SCRIPTS.index(script)
        received = self.api.count(chat)
        name = NAMES[guest_no % len(NAMES)]
        for index, turn in enumerate(script):
            text = fill(turn, guest_no)
            result = TurnResult("telegram", self.level_of(), f"tg:{chat}", index, time.time(), None, button=turn.button)
            started = time.monotonic()
            if turn.button:
                data, message_id = self._button(chat, text)
                if data is None:
                    result.error = "button missing: the keyboard to answer on never came"
                    results.append(result)
                    return
                update = self.api.press_button(chat, message_id, data)
            else:
                update = self.api.send_text(chat, text, first_name=name)
            self.turn_updates.append((result, update["update_id"], started))
            want = self.expected.get((script_no, index), 1)
            if not await self.api.wait_count(chat, received + 1, self.timeout_s):
                result.error = "timeout: no reply in time"
                results.append(result)
                return
            result.latency = time.monotonic() - started
            if await self.api.wait_count(chat, received + want, self.timeout_s):
                result.latency_all = time.monotonic() - started
            new = self.api.by_chat[chat][received:]
            result.replies = len(new)
            received += len(new)
            if any((m.get("text") or "") in self.fallback_texts for _, m in new):
                result.error = "gateway fallback: Rasa did not answer the gateway in time"
            elif result.replies < want:
                result.error = count_error(result.replies, want)
            results.append(result)
            await asyncio.sleep(think.pause())
        # anything beyond what was expected shows up as extra messages after the conversation
        await asyncio.sleep(0)
        extra = self.api.count(chat) - received
        if extra > 0:
            results.append(TurnResult("telegram", self.level_of(), f"tg:{chat}", len(script), time.time(), None,
                                      error=f"more replies: {extra} extra message(s) after the conversation"))

    def _button(self, chat: int, title: str) -> tuple[str | None, int]:
        for _, message in reversed(self.api.by_chat.get(chat, [])):
            data = keyboard_button(message, title)
            if data is not None:
                return data, int(message["message_id"])
        return None, 0
