"""Outbound: how fast the gateway's sending path empties a full outbox, within Telegram's limits.

A `python -m bot serve` process (gateway + staff desk, no Rasa needed) runs against a fresh database and
its own Bot API stand-in. The outbox gets ``messages`` pending guest notifications (the scheduler's format:
a Rasa-style message from the domain) spread over ``chats`` private chats, interleaved, and
``staff_notices`` notices for the staff group. The stand-in's arrival timestamps then give the sustained
rate and the densest windows, compared with Telegram's limits: 30 messages/s overall, 1 message/s per
private chat, 20 messages/min per group.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bot.telegram.texts import load_texts
from crm_store.db import make_engine, migrate
from crm_store.model import OutboundMessage, OutboundStatus
from scripts.benchlib.fakeapi import RecordingBotApi
from scripts.benchlib.stack import free_port, start_bot_process
from scripts.benchlib.stats import max_in_window, sustained_rate

GLOBAL_LIMIT_PER_S = 30
CHAT_LIMIT_PER_S = 1
GROUP_LIMIT_PER_MIN = 20
STAFF_CHAT = -1001234567890
FIRST_CHAT = 5_000_000


@dataclass
class OutboundResult:
    """What the outbound test measured."""

    queued_guest: int
    queued_staff: int
    chats: int
    delivered_guest: int
    delivered_staff: int
    first_send_after_s: float
    drain_s: float
    sustained_guest_per_s: float
    sustained_all_per_s: float
    end_to_end_per_s: float
    max_any_1s: int
    max_chat_1s: int
    max_chat_3s: int
    max_group_60s: int
    failed_rows: int
    pending_rows: int
    timed_out: bool

    @property
    def limits_ok(self) -> bool:
        """Tell whether no Telegram limit was exceeded in any window."""
        return (self.max_any_1s <= GLOBAL_LIMIT_PER_S and self.max_chat_1s <= CHAT_LIMIT_PER_S
                and self.max_group_60s <= GROUP_LIMIT_PER_MIN)


def seed_outbox(url: str, messages: int, chats: int, staff_notices: int) -> None:
    """Stage pending guest notifications (interleaved over the chats) and staff notices, in one transaction."""
    texts = load_texts()
    guest_body: dict[str, Any] = {**texts.message("utter_pulse_ask"), "source": "bench:outbound"}
    now = datetime.now(timezone.utc)
    rows = [
        {"channel": "tg", "recipient": str(FIRST_CHAT + n % chats), "body": guest_body,
         "status": OutboundStatus.PENDING, "attempts": 0, "created_at": now, "updated_at": now}
        for n in range(messages)
    ]
    rows += [
        {"channel": "staff", "recipient": "front_desk", "status": OutboundStatus.PENDING, "attempts": 0,
         "body": {"text": texts.text("utter_gw_staff_notice_feedback", source="bench", guest=f"Guest {n}",
                                     room=str(201 + n), score=str(n % 11))},
         "created_at": now, "updated_at": now}
        for n in range(staff_notices)
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        for i in range(0, len(rows), 500):
            conn.execute(insert(OutboundMessage), rows[i:i + 500])
    engine.dispose()


def outbox_counts(url: str) -> dict[str, int]:
    """Return the outbox rows per status."""
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {str(status.value if hasattr(status, "value") else status): n for status, n in conn.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))}
    engine.dispose()
    return counts


async def run_outbound(work: Path, messages: int, chats: int, staff_notices: int, timeout_s: float) -> OutboundResult:
    """Start a bot process against a fresh outbox, fill it, and time its delivery."""
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work}/outbound.db"
    await asyncio.to_thread(migrate, url)
    api = RecordingBotApi()
    await api.start()
    env = {
        "PROFILE": "embedded",
        "VAR_DIR": str(work / "var"),
        "DATABASE_URL": url,
        "TRACKER_STORE_URL": f"sqlite:///{work}/outbound-tracker.db",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: not needed to send
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "OPS_PORT": str(free_port()),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "STAFF_CHAT_ID": str(STAFF_CHAT),
        "STAFF_USER_IDS": "4242",
        "POLICY_FILE": str(Path(__file__).resolve().parents[2] / "examples" / "policy-default.yml"),
    }
    managed = await start_bot_process(work, env, 120, lambda: bool(api.calls_of("getUpdates")))
    try:
        await asyncio.sleep(1.0)  # let the first (empty) outbox rounds pass
        await asyncio.to_thread(seed_outbox, url, messages, chats, staff_notices)
        seeded = time.monotonic()
        deadline = seeded + timeout_s
        timed_out = True
        while time.monotonic() < deadline:
            guest = sum(1 for s in api.sends if s.chat_id > 0 and s.status == 200)
            staff = sum(1 for s in api.sends if s.chat_id < 0 and s.status == 200)
            if guest >= messages and staff >= staff_notices:
                timed_out = False
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # settle the last rows
        counts = await asyncio.to_thread(outbox_counts, url)
    finally:
        await asyncio.to_thread(managed.stop)
        await api.stop()

    sends = [s for s in api.sends if s.status == 200]
    guest_times = [s.mono for s in sends if s.chat_id > 0]
    group_times = [s.mono for s in sends if s.chat_id < 0]
    per_chat: dict[int, list[float]] = defaultdict(list)
    for s in sends:
        if s.chat_id > 0:
            per_chat[s.chat_id].append(s.mono)
    all_times = [s.mono for s in api.sends]  # refused requests count against the limits too
    last = max((s.mono for s in sends), default=seeded)
    return OutboundResult(
        queued_guest=messages,
        queued_staff=staff_notices,
        chats=chats,
        delivered_guest=len(guest_times),
        delivered_staff=len(group_times),
        first_send_after_s=(min(all_times) - seeded) if all_times else float("nan"),
        drain_s=last - seeded,
        sustained_guest_per_s=sustained_rate(guest_times),
        sustained_all_per_s=sustained_rate([s.mono for s in sends]),
        end_to_end_per_s=len(sends) / (last - seeded) if last > seeded else float("nan"),
        max_any_1s=max_in_window(all_times, 1.0),
        max_chat_1s=max((max_in_window(t, 1.0) for t in per_chat.values()), default=0),
        max_chat_3s=max((max_in_window(t, 3.0) for t in per_chat.values()), default=0),
        max_group_60s=max_in_window(group_times, 60.0),
        failed_rows=counts.get("failed", 0),
        pending_rows=counts.get("pending", 0),
        timed_out=timed_out,
    )
