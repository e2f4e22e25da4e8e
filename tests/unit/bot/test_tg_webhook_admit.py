"""The webhook answers Telegram 200 only once the update is recorded (Gateway.admit); 503 makes Telegram retry."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from telegram.ext import ApplicationBuilder

from bot.telegram.webhook import WebhookReceiver


def _update(update_id: int, text: str = "the tap drips") -> bytes:
    return json.dumps({
        "update_id": update_id,
        "message": {"message_id": 1, "date": 1_700_000_000, "chat": {"id": 4242, "type": "private"},
                    "from": {"id": 4242, "is_bot": False, "first_name": "G"}, "text": text},
    }).encode()


async def _scenario() -> dict[str, object]:
    app = ApplicationBuilder().token("123456:TEST").updater(None).build()
    recorded: set[int] = set()
    admitted: list[int] = []
    down = {"db": False}

    async def admit(update) -> bool:
        if down["db"]:
            raise ConnectionError("database unreachable")
        if update.update_id in recorded:
            return False
        recorded.add(update.update_id)
        return True

    receiver = WebhookReceiver(app, secret_token="s3cret", path="/tg", admit=admit,
                               admitted=lambda u: admitted.append(u.update_id))
    port = 0
    runner_site = aiohttp.web.AppRunner(receiver.web_app(), access_log=None)
    await runner_site.setup()
    site = aiohttp.web.TCPSite(runner_site, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the OS-chosen port
    url = f"http://127.0.0.1:{port}/tg"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret", "Content-Type": "application/json"}
    out: dict[str, object] = {}
    try:
        async with aiohttp.ClientSession() as http:
            down["db"] = True
            async with http.post(url, data=_update(7), headers=headers) as resp:
                out["down"] = (resp.status, await resp.json(), app.update_queue.qsize())
            down["db"] = False
            async with http.post(url, data=_update(7), headers=headers) as resp:
                out["first"] = (resp.status, await resp.json(), app.update_queue.qsize())
            async with http.post(url, data=_update(7), headers=headers) as resp:
                out["again"] = (resp.status, await resp.json(), app.update_queue.qsize())
    finally:
        await runner_site.cleanup()
    out["admitted"] = admitted
    return out


def test_webhook_records_before_answering_and_asks_for_a_retry_when_it_cannot() -> None:
    out = asyncio.run(_scenario())
    status, body, queued = out["down"]
    assert status == 503 and "retry" in body["error"] and queued == 0
    status, body, queued = out["first"]
    assert status == 200 and body == {"ok": True} and queued == 1
    status, body, queued = out["again"]  # Telegram's redelivery of an update already recorded
    assert status == 200 and body == {"ok": True} and queued == 1
    assert out["admitted"] == [7]
