"""The Rasa client against real HTTP replicas: conversations spread by rendezvous hashing, stay put, and fail
over to the next replica when theirs is refused, answers 5xx or times out; the scheduler and the chat CLI
use the same client."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from bot.chat import chat
from bot.rasa_client import RasaClient, RasaUnavailable, rendezvous_order
from bot.scheduler.service import build_service, close_resources
from crm_store.recovery_policy import load_policy_for
from crm_store.settings import load_settings

SENDERS = [f"tg:{1000 + n}" for n in range(60)]


async def test_conversations_are_spread_over_every_replica_and_stay_on_theirs(replicas):
    async with RasaClient([r.url for r in replicas]) as client:
        for sender in SENDERS:
            await client.send_message(sender, "hello")
        for sender in SENDERS:
            await client.send_message(sender, "again")
    by_name = {r.url: r for r in replicas}
    for sender in SENDERS:
        chosen = by_name[rendezvous_order([r.url for r in replicas], sender)[0]]
        assert [m for s, m in chosen.received if s == sender] == ["hello", "again"]
    counts = sorted(len(r.senders()) for r in replicas)
    assert sum(counts) == len(SENDERS), "a conversation was answered by two replicas"
    assert counts[0] >= 8, f"rendezvous hashing left a replica almost idle: {counts}"
    assert client.failovers == 0


async def test_refused_replica_fails_over_to_the_next_in_the_conversation_order(replicas):
    urls = [r.url for r in replicas]
    down = replicas[0]
    mine = [s for s in SENDERS if rendezvous_order(urls, s)[0] == down.url]
    assert mine, "no sender hashes to the first replica"
    await down.stop()
    async with RasaClient(urls, cooldown_s=60) as client:
        for sender in mine:
            replies = await client.send_message(sender, "is anyone there?")
            expected = next(r for r in replicas if r.url == rendezvous_order(urls, sender)[1])
            assert replies[0]["text"] == f"{expected.name}: is anyone there?"
        assert down.received == []
        # Back on the same port: once the cool-down is over the conversations return to their replica.
        await down.start()
        client._down_until.clear()
        for sender in mine:
            assert (await client.send_message(sender, "back?"))[0]["text"] == f"{down.name}: back?"
    assert down.senders() == set(mine)


async def test_a_down_replica_costs_one_refusal_then_is_tried_last(replicas):
    urls = [r.url for r in replicas]
    await replicas[0].stop()
    mine = [s for s in SENDERS if rendezvous_order(urls, s)[0] == replicas[0].url]
    async with RasaClient(urls, cooldown_s=60) as client:
        for sender in mine:
            await client.send_message(sender, "hi")
        assert client.failovers == 1, "every message paid for the dead replica"
        assert client.attempt_order(mine[0])[-1] == replicas[0].url


async def test_5xx_and_timeouts_fail_over_but_4xx_does_not(replicas):
    urls = [r.url for r in replicas]
    sender = SENDERS[0]
    first, second, third = (next(r for r in replicas if r.url == u) for u in rendezvous_order(urls, sender))
    first.mode = "error"
    second.mode = "hang"
    async with RasaClient(urls, timeout_s=1.0) as client:
        started = time.monotonic()
        replies = await client.send_message(sender, "help")
        assert replies[0]["text"] == f"{third.name}: help"
        assert 0.9 < time.monotonic() - started < 5, "the hung replica was not cut off by the time-out"
        messages = await client.trigger_intent(SENDERS[0], "EXTERNAL_survey_invite")
        assert messages[0]["text"] == third.name
    third.mode = "unauthorized"
    async with RasaClient(urls, timeout_s=1.0) as client:
        with pytest.raises(RasaUnavailable, match="HTTP 401"):
            await client.send_message(sender, "help")
        assert client.failovers == 0


async def test_every_replica_down_raises_rasa_unavailable(replicas):
    for server in replicas:
        await server.stop()
    async with RasaClient([r.url for r in replicas]) as client:
        with pytest.raises(RasaUnavailable, match="ClientConnectorError"):
            await client.send_message(SENDERS[0], "hello")
        assert await client.is_ready() is False
        assert set((await client.replica_status()).values()) == {False}


async def test_replica_status_reports_each_replica(replicas):
    await replicas[1].stop()
    async with RasaClient([r.url for r in replicas]) as client:
        status = await client.replica_status()
        assert status == {replicas[0].url: True, replicas[1].url: False, replicas[2].url: True}
        assert await client.is_ready() is False


async def test_scheduler_and_chat_cli_use_the_spreading_client(replicas, tmp_path):
    base = replicas[0].port
    env = {
        "PROFILE": "prod",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/unused",
        "TRACKER_STORE_URL": "postgresql://postgres@127.0.0.1:5432/unused",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RASA_URL": f"http://127.0.0.1:{base}",
        "RASA_URLS": ",".join(r.url for r in replicas),
        "ACTION_SERVER_URL": f"http://127.0.0.1:{base + 100 if base < 65000 else base - 100}",
        "OPS_PORT": str(base - 10 if base > 1100 else base + 10),
    }
    settings = load_settings(env)
    assert settings.rasa_client_urls == tuple(r.url for r in replicas)
    service, resources = build_service(settings, load_policy_for(settings), lock_mode="none")
    try:
        [client] = [r for r in resources if isinstance(r, RasaClient)]
        assert client.replicas == settings.rasa_client_urls
        await replicas[0].stop()
        urls = [r.url for r in replicas]
        sender = next(s for s in SENDERS if rendezvous_order(urls, s)[0] == replicas[0].url)
        assert (await client.trigger_intent(sender, "EXTERNAL_recovery_check"))[0]["text"] != replicas[0].name
    finally:
        await close_resources(resources)

    # The terminal chat, through the same client, keeps talking while the first replica is down.
    out = io.StringIO()
    async with RasaClient(settings.rasa_client_urls) as client:
        await chat(client, "cli:anna", io.StringIO("hello\nmy name is Anna\n/quit\n"), out)
    transcript = out.getvalue()
    assert transcript.count("bot> ") == 2 and "not reachable" not in transcript
    assert ("cli:anna", "my name is Anna") in {m for r in replicas for m in r.received}


async def test_concurrent_conversations_survive_a_replica_dying_mid_stream(replicas):
    urls = [r.url for r in replicas]
    async with RasaClient(urls, timeout_s=5) as client:
        async def guest(sender: str) -> list[str]:
            texts = []
            for n in range(5):
                replies = await client.send_message(sender, f"m{n}")
                texts.append(replies[0]["text"].split(": ", 1)[1])
                await asyncio.sleep(0.01)
            return texts

        tasks = [asyncio.create_task(guest(s)) for s in SENDERS[:30]]
        await asyncio.sleep(0.02)
        await replicas[2].stop()
        results = await asyncio.gather(*tasks)
    assert all(texts == [f"m{n}" for n in range(5)] for texts in results), "a message was lost"
