"""The gateway's long polling over real HTTP: an update is confirmed to Telegram only once it is recorded."""

from __future__ import annotations

from crm_store.model import InboundMessage, ProcessedUpdate
from tests.fakes.bot_api import FakeBotApi

GUEST = 424242


def offsets(bot_api: FakeBotApi) -> list[int]:
    """Return the offset of every getUpdates call so far (0 when none was given)."""
    return [int(call.params.get("offset") or 0) for call in bot_api.calls_of("getUpdates")]


async def test_poller_update_not_recorded_is_fetched_again_and_answered(harness) -> None:
    gateway = harness.runtime.gateway
    real_admit = gateway.admit
    refused: list[int] = []

    async def admit_once_refused(update):  # the database refused the first time (e.g. it was restarting)
        if not refused:
            refused.append(update.update_id)
            raise RuntimeError("database unreachable")
        return await real_admit(update)

    gateway.admit = admit_once_refused  # type: ignore[method-assign]
    update = harness.bot_api.send_text(GUEST, "hello")
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert [m["text"] for m in sent] == ["echo: hello"]
    assert refused == [update["update_id"]]
    # The refused update was not confirmed: the next call fetched it again (no offset past it), and only
    # once it was recorded did the offset move past it.
    assert offsets(harness.bot_api)[:2] == [0, 0]
    await harness.bot_api.wait_for(lambda: update["update_id"] + 1 in offsets(harness.bot_api), timeout=5)
    assert harness.count(ProcessedUpdate, ProcessedUpdate.update_id == update["update_id"]) == 1
    assert harness.rasa.texts_from(f"tg:{GUEST}") == ["hello"]


async def test_poller_answered_message_leaves_no_journal_behind(harness) -> None:
    harness.bot_api.send_text(GUEST, "hi there")
    await harness.bot_api.wait_for_sent(GUEST, 1)
    await harness.bot_api.wait_for(lambda: harness.count(InboundMessage) == 0, timeout=5)
    assert harness.count(ProcessedUpdate) == 1


async def test_poller_redelivered_update_answered_once(harness) -> None:
    update = harness.bot_api.send_text(GUEST, "hello")
    await harness.bot_api.wait_for_sent(GUEST, 1)
    harness.bot_api.redeliver(update)
    harness.bot_api.send_text(GUEST, "again")
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert [m["text"] for m in sent] == ["echo: hello", "echo: again"]
    assert harness.rasa.texts_from(f"tg:{GUEST}") == ["hello", "again"]
