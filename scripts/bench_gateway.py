"""Measure guest round-trip latency through the Telegram gateway and the real Rasa stack.

Starts the action server, Rasa and the bot process on free ports (fresh SQLite databases), runs the real
gateway in this process against the Bot API stand-in, and plays 1 and then 20 concurrent guests. Latency is
from the moment the guest's update is available to the gateway to the bot's first reply reaching the Bot API.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.rasa_client import RasaClient  # noqa: E402
from bot.supervisor import build_children, rasa_environment, start_all, stop_all, wait_ready  # noqa: E402
from bot.telegram.bootstrap import bootstrap  # noqa: E402
from bot.telegram.gateway import GatewayConfig  # noqa: E402
from crm_store.clock import SystemClock  # noqa: E402
from crm_store.db import make_engine, make_session_factory, migrate  # noqa: E402
from crm_store.settings import load_settings  # noqa: E402
from tests.fakes.bot_api import FakeBotApi  # noqa: E402

# (guest message, replies the assistant sends to it)
SCRIPT = [
    ("hello", 1),
    ("I'd like a quiet room please", 1),
    ("the shower in my room is broken", 1),
    ("412", 2),
    ("what do you know about me?", 1),
]


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def guest(bot_api: FakeBotApi, chat_id: int, latencies: list[float]) -> None:
    """Play one guest through the script, recording the latency of each first reply."""
    received = 0
    for text, replies in SCRIPT:
        started = time.monotonic()
        bot_api.send_text(chat_id, text)
        await bot_api.wait_for_sent(chat_id, received + 1, timeout=120)
        latencies.append(time.monotonic() - started)
        received += replies
        await bot_api.wait_for_sent(chat_id, received, timeout=120)


async def run_load(bot_api: FakeBotApi, guests: int, first_chat: int) -> list[float]:
    """Run `guests` concurrent guests and return all first-reply latencies."""
    latencies: list[float] = []
    await asyncio.gather(*(guest(bot_api, first_chat + i, latencies) for i in range(guests)))
    return latencies


def report(label: str, latencies: list[float], elapsed: float) -> None:
    """Print latency figures for one load level."""
    ms = [x * 1000 for x in latencies]
    print(
        f"{label}: messages={len(ms)} p50_ms={statistics.median(ms):.0f} p95_ms={percentile(ms, 95):.0f} "
        f"max_ms={max(ms):.0f} throughput_msg_s={len(ms) / elapsed:.1f}"
    )


async def measure(settings_env: dict[str, str]) -> None:
    """Start the gateway against the running stack and run both load levels."""
    bot_api = FakeBotApi()
    await bot_api.start()
    settings = load_settings({**settings_env, "TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_API_URL": bot_api.url})
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url, settings.rasa_token, timeout_s=60)
    runtime = bootstrap(settings, session_factory=make_session_factory(engine), clock=SystemClock(), rasa=client,
                        config=GatewayConfig(poll_timeout_s=1.0))
    await runtime.start()
    try:
        for guests, first_chat in ((1, 10_000), (20, 20_000)):
            started = time.monotonic()
            latencies = await run_load(bot_api, guests, first_chat)
            report(f"gateway_roundtrip guests={guests}", latencies, time.monotonic() - started)
    finally:
        await runtime.stop()
        await client.close()
        await bot_api.stop()
        engine.dispose()


def main() -> int:
    """Start the stack, measure, stop the stack."""
    work = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    env_vars = {
        "DATABASE_URL": f"sqlite:///{work}/crm.db",
        "TRACKER_STORE_URL": f"sqlite:///{work}/tracker.db",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "OPS_PORT": str(free_port()),
        "RASA_TOKEN": "bench-token",
        "POLICY_FILE": str(REPO / "examples" / "policy-default.yml"),
    }
    settings = load_settings(env_vars)
    migrate(settings.database_url)
    env = rasa_environment(settings, {**{k: v for k, v in os.environ.items() if k not in env_vars}, **env_vars})
    children = build_children(settings, work / "logs")
    started = time.monotonic()
    start_all(children, env, announce=False)
    try:
        if not wait_ready(f"http://127.0.0.1:{settings.ops_port}/health", children, 300):
            print("bench: the stack did not become healthy", file=sys.stderr)
            return 1
        print(f"stack_ready_s={time.monotonic() - started:.1f}")
        asyncio.run(measure(env_vars))
    finally:
        stop_all(children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
