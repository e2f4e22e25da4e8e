"""Retry sends on 429/5xx, give up on 4xx, record final failures; limit each private chat; serialise chats."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.telegram.concurrency import ChatLocks, PerChatUpdateProcessor
from bot.telegram.delivery import PerChatRateLimiter, RetryPolicy, Sender
from bot.telegram.rendering import Button, Outgoing

FAST = RetryPolicy(attempts=3, backoff_s=0.001)


class ScriptedBot:
    """Raise the scripted errors in turn, then succeed; remember every call."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if self.errors:
            raise self.errors.pop(0)

    async def send_message(self, **kwargs: Any) -> None:
        await self._call("send_message", kwargs)

    async def send_photo(self, **kwargs: Any) -> None:
        await self._call("send_photo", kwargs)


class Recorder:
    def __init__(self) -> None:
        self.failures: list[tuple[int, dict[str, Any], int, str]] = []

    async def __call__(self, chat_id: int, body: dict[str, Any], attempts: int, error: str) -> None:
        self.failures.append((chat_id, body, attempts, error))


async def test_sender_network_error_retried_then_delivered() -> None:
    bot, recorder = ScriptedBot(NetworkError("Internal Server Error"), NetworkError("Bad Gateway")), Recorder()
    assert await Sender(bot, recorder, FAST).deliver(1, [Outgoing(text="hi")]) == 1  # type: ignore[arg-type]
    assert len(bot.calls) == 3 and recorder.failures == []


async def test_sender_retry_after_waits_then_delivers() -> None:
    bot = ScriptedBot(RetryAfter(0))
    assert await Sender(bot, None, FAST).deliver(1, [Outgoing(text="hi")]) == 1  # type: ignore[arg-type]
    assert len(bot.calls) == 2


async def test_sender_gives_up_after_attempts_and_records_failure() -> None:
    bot, recorder = ScriptedBot(*[NetworkError("Internal Server Error")] * 5), Recorder()
    assert await Sender(bot, recorder, FAST).deliver(9, [Outgoing(text="hi")]) == 0  # type: ignore[arg-type]
    assert len(bot.calls) == 3
    chat_id, body, attempts, error = recorder.failures[0]
    assert (chat_id, body, attempts) == (9, {"kind": "text", "text": "hi"}, 3)
    assert error.startswith("NetworkError")


async def test_sender_bad_request_and_forbidden_not_retried() -> None:
    for error in (BadRequest("Bad Request: chat not found"), Forbidden("Forbidden: bot was blocked by the user")):
        bot, recorder = ScriptedBot(error), Recorder()
        await Sender(bot, recorder, FAST).deliver(1, [Outgoing(text="hi")])  # type: ignore[arg-type]
        assert len(bot.calls) == 1 and recorder.failures[0][2] == 1


async def test_sender_photo_refused_falls_back_to_text_with_link() -> None:
    bot = ScriptedBot(BadRequest("Bad Request: wrong file identifier/http url specified"))
    item = Outgoing(text="Map", photo="https://example.com/m.png", keyboard=((Button("OK", data="/affirm"),),))
    assert await Sender(bot, None, FAST).deliver(1, [item]) == 1  # type: ignore[arg-type]
    assert [name for name, _ in bot.calls] == ["send_photo", "send_message"]
    assert bot.calls[1][1]["text"] == "Map\nhttps://example.com/m.png"
    assert bot.calls[1][1]["reply_markup"].inline_keyboard[0][0].callback_data == "/affirm"


async def test_per_chat_rate_limiter_bursts_then_one_per_period() -> None:
    limiter = PerChatRateLimiter(chat_burst=2, chat_period_s=0.4, overall_max_rate=0, group_max_rate=0)
    stamps: list[float] = []

    async def call() -> bool:
        stamps.append(time.monotonic())
        return True

    start = time.monotonic()
    for _ in range(3):
        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 5}, None)
    await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 6}, None)  # another chat: no wait
    assert stamps[1] - start < 0.1
    assert stamps[2] - start >= 0.15
    assert stamps[3] - stamps[2] < 0.1


async def test_per_chat_update_processor_serialises_one_chat_runs_chats_concurrently() -> None:
    processor = PerChatUpdateProcessor(ChatLocks())
    log: list[str] = []

    def update(update_id: int, chat_id: int) -> Update:
        return Update.de_json({"update_id": update_id, "message": {
            "message_id": update_id, "date": 1, "chat": {"id": chat_id, "type": "private"}, "text": "x"}}, None)

    async def work(name: str, pause: float) -> None:
        log.append(f"{name}>")
        await asyncio.sleep(pause)
        log.append(f"<{name}")

    await asyncio.gather(
        processor.process_update(update(1, 10), work("a1", 0.05)),
        processor.process_update(update(2, 10), work("a2", 0.0)),
        processor.process_update(update(3, 20), work("b1", 0.0)),
    )
    assert log.index("<a1") < log.index("a2>")  # same chat: in order, one at a time
    assert log.index("<b1") < log.index("<a1")  # other chat: not held up


def _most_in_window(stamps: list[float], window_s: float) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] > window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_default_limits_hold_in_every_sliding_window_after_a_quiet_moment() -> None:
    """A burst after a pause must not pass a full bucket on top of the steady rate (Telegram: 30/s, 20/min/group)."""
    limiter = PerChatRateLimiter()
    overall: list[float] = []
    group: list[float] = []

    async def call(stamps: list[float]) -> bool:
        stamps.append(time.monotonic())
        return True

    # 70 private chats at once: the overall limit is the only one that applies.
    await asyncio.gather(*(
        limiter.process_request(call, (overall,), {}, "sendMessage", {"chat_id": 1000 + i}, None) for i in range(70)
    ))
    assert _most_in_window(overall, 1.0) <= 30
    assert overall[-1] - overall[0] < 3.5  # still about 25 messages/s sustained
    # The group bucket: 5 at once, then one every 4 s.
    started = time.monotonic()
    await asyncio.gather(*(
        limiter.process_request(call, (group,), {}, "sendMessage", {"chat_id": -100123}, None) for i in range(6)
    ))
    assert len(group) == 6
    assert group[4] - started < 0.5
    assert group[5] - started >= 3.5
