"""Drive the real Telegram gateway, over the Bot API stand-in, against the real Rasa and action servers."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.rasa_client import RasaClient
from bot.telegram.bootstrap import bootstrap
from bot.telegram.gateway import GatewayConfig
from crm_store import model
from crm_store.clock import SystemClock
from crm_store.db import make_session_factory
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi

pytestmark = pytest.mark.e2e

FAST = GatewayConfig(retry_interval_s=0.2, poll_timeout_s=1.0, send_backoff_s=0.05, send_attempts=3)
CHAT = 77001
UPDATE_IDS = itertools.count(10_000, 10_000)


@pytest.fixture()
async def telegram(stack) -> AsyncIterator[FakeBotApi]:
    """Run the gateway in this process against the stack's Rasa and CRM, with a fake Bot API."""
    bot_api = FakeBotApi(first_update_id=next(UPDATE_IDS))
    await bot_api.start()
    settings = load_settings({
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_API_URL": bot_api.url,
        "RASA_URL": stack.settings.rasa_url,
        "DATABASE_URL": stack.settings.database_url,
    })
    client = RasaClient(settings.rasa_url, stack.settings.rasa_token, timeout_s=30)
    runtime = bootstrap(settings, session_factory=make_session_factory(stack.crm), clock=SystemClock(),
                        rasa=client, config=FAST)
    await runtime.start()
    try:
        yield bot_api
    finally:
        await runtime.stop()
        await client.close()
        await bot_api.stop()


def add_current_stay(stack, reference: str, surname: str, room: str) -> None:
    """Put an in-house reservation into the CRM, as the PMS feed would."""
    now = SystemClock().now()
    with make_session_factory(stack.crm)() as session:
        guest = model.Guest(first_name="Lena", last_name=surname, verified=False)
        session.add(guest)
        session.flush()
        session.add(model.Stay(reservation_ref=reference, guest_id=guest.id, room=room,
                               arrival=now - timedelta(days=1), departure=now + timedelta(days=2),
                               status=model.StayStatus.IN_HOUSE))
        session.commit()


async def exchange(bot_api: FakeBotApi, text: str, expect: int = 1) -> list[dict]:
    """Send a guest message and wait for `expect` new bot messages to that chat."""
    before = len(bot_api.sent_to(CHAT))
    bot_api.send_text(CHAT, text, first_name="Lena")
    sent = await bot_api.wait_for_sent(CHAT, before + expect, timeout=30)
    return sent[before:]


async def test_telegram_guest_links_stay_states_preference_complains_with_photo(stack, telegram):
    add_current_stay(stack, "RES-4821", "Novak", "512")
    started = time.monotonic()
    replies = await exchange(telegram, "/start RES-4821")
    first_latency = time.monotonic() - started
    assert "Lena" in replies[0]["text"]

    replies = await exchange(telegram, "I'd like a room on a high floor please")
    assert "floor: high" in replies[0]["text"]

    replies = await exchange(telegram, "the shower in my room is broken", expect=2)
    with stack.crm.connect() as conn:
        complaint = conn.execute(
            select(model.Complaint).join(model.Guest, model.Guest.id == model.Complaint.guest_id)
            .where(model.Guest.last_name == "Novak")
        ).one()
        identity = conn.execute(select(model.ChannelIdentity).where(
            model.ChannelIdentity.external_id == str(CHAT))).one()
        guest = conn.execute(select(model.Guest).where(model.Guest.id == identity.guest_id)).one()
    assert guest.verified is True and guest.last_name == "Novak"
    assert (complaint.category, complaint.room) == ("maintenance", "512")
    assert complaint.reference in replies[0]["text"]

    before = len(telegram.sent_to(CHAT))
    telegram.send_photo(CHAT, caption="see the shower head")
    await telegram.wait_for_sent(CHAT, before + 1, timeout=30)
    with stack.crm.connect() as conn:
        attachments = conn.execute(select(model.ComplaintAttachment).where(
            model.ComplaintAttachment.complaint_id == complaint.id)).all()
    assert len(attachments) == 1
    print(f"\ntelegram first round trip {first_latency * 1000:.0f} ms")


async def test_telegram_buttons_reach_rasa_and_callbacks_are_answered(stack, telegram):
    replies = await exchange(telegram, "I'd like to give feedback", expect=2)
    keyboard = replies[-1]["reply_markup"]["inline_keyboard"]
    flat = [b for row in keyboard for b in row]
    assert [b["text"] for b in flat] == [str(n) for n in range(11)]
    nine = next(b for b in flat if b["text"] == "9")
    before = len(telegram.sent_to(CHAT))
    telegram.press_button(CHAT, replies[-1]["message_id"], nine["callback_data"])
    sent = await telegram.wait_for_sent(CHAT, before + 1, timeout=30)
    assert "service" in sent[-1]["text"]
    assert telegram.calls_of("answerCallbackQuery")
