"""Regression tests for the bugs the fuzz tests found (docs/fuzzing.md lists them), each on real servers."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from telegram.ext import ApplicationHandlerStop

from bot.ops_http import build_app
from bot.pms_webhook import PmsWebhook, sign
from bot.rasa_client import RasaClient
from bot.telegram import texts as t
from bot.telegram.bootstrap import bootstrap
from bot.telegram.gateway import Gateway, GatewayConfig
from bot.telegram.texts import load_texts
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.model import Guest, ProcessedUpdate, Stay
from crm_store.recovery_policy import parse_policy
from crm_store.settings import load_settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.gateway_fakes import FakeRasaClient, FakeSender, Updates, context
from tests.fakes.rasa_server import FakeRasa

SECRET = "regression-secret_1"
GUEST = 6161
FAST = GatewayConfig(retry_interval_s=0.2, poll_timeout_s=1.0, send_backoff_s=0.05, send_attempts=2)
TEXTS = load_texts()
STAFF_CHAT = -1004440001
STAFF_USER = 4401
POLICY = parse_policy({"version": 1, "ladder": ["front_desk"], "defaults": {"ack": "15m", "resolve": "4h"}},
                      source="regression-policy", timezone_name="UTC")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz_regressions") / "hotel.db"
    migrate(f"sqlite:///{path}")
    return path


@dataclasses.dataclass
class Hook:
    """The gateway in webhook mode with its fakes, and how to post raw bodies to it."""

    url: str
    bot_api: FakeBotApi
    rasa: FakeRasa
    session: aiohttp.ClientSession
    session_factory: Any

    async def post(self, body: bytes, secret: str | None = SECRET) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with self.session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    def processed(self) -> int:
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(ProcessedUpdate)).scalar_one())


@pytest.fixture
async def hook(tmp_path: Path, template_db: Path) -> AsyncIterator[Hook]:
    """Start the real gateway in webhook mode (our receiver) with the Bot API fake and a Rasa stand-in."""
    db_path = tmp_path / "hotel.db"
    shutil.copy(template_db, db_path)
    bot_api, rasa = FakeBotApi(), FakeRasa()
    await bot_api.start()
    await rasa.start()
    port = _free_port()
    settings = dataclasses.replace(
        load_settings({"TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_API_URL": bot_api.url, "RASA_URL": rasa.url,
                       "DATABASE_URL": f"sqlite:///{db_path}", "STAFF_CHAT_ID": str(STAFF_CHAT),
                       "STAFF_USER_IDS": str(STAFF_USER)}),
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook", telegram_webhook_secret=SECRET,
        telegram_webhook_port=port,
    )
    engine = make_engine(settings.database_url)
    client = RasaClient(settings.rasa_url, timeout_s=5)
    runtime = bootstrap(settings, session_factory=make_session_factory(engine), clock=SystemClock(), rasa=client,
                        config=FAST, policy=POLICY)
    await runtime.start()
    session = aiohttp.ClientSession()
    try:
        yield Hook(f"http://127.0.0.1:{port}/hook", bot_api, rasa, session, make_session_factory(engine))
    finally:
        await session.close()
        await runtime.stop()
        await client.close()
        await rasa.stop()
        await bot_api.stop()
        engine.dispose()


def _text_update(update_id: Any, text: str, chat: int = GUEST) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": 1, "date": 1_780_000_000, "text": text,
                                                "chat": {"id": chat, "type": "private", "first_name": "G"},
                                                "from": {"id": chat, "is_bot": False, "first_name": "G"}}}


# -- gateway webhook: PTB's server answered 500 to these and logged whole updates -----------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "body is not valid JSON"),
        (b"\xff\xfe\x00garbage", "body is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON"),
        (b'{"update_id": 5, "message": ' + b"[" * 500 + b"]" * 500 + b"}", "update could not be parsed"),
        (b"[1, 2]", "expected a JSON object"),
        (b"{}", "update_id: missing"),
        (json.dumps(_text_update(2**63, "x")).encode(), "update_id: expected an integer"),
        (json.dumps(_text_update("7", "x")).encode(), "update_id: expected an integer"),
        (json.dumps(_text_update(7, "a\ud800b")).encode(), "unpaired UTF-16 surrogate"),
        (b'{"update_id": 8, "poll": {"id": "p1"}}', "update could not be parsed"),
        (b'{"update_id": 9, "message": {"message_id": 1, "date": 1, "text": "no chat"}}', "message.chat: missing"),
        (json.dumps({**_text_update(9, "x"), "message": {**_text_update(9, "x")["message"], "text": 5}}).encode(),
         "message.text: expected a string"),
        (json.dumps({**_text_update(9, "x"), "message": {**_text_update(9, "/start")["message"], "entities": [
            {"type": "bot_command", "offset": "0", "length": 6}]}}).encode(), "entities: offset and length"),
        (b'{"update_id": 9, "callback_query": {"id": "q", "chat_instance": "c", "data": "x"}}',
         "callback_query.from: missing"),
    ],
)
async def test_gateway_webhook_bad_body_is_400_with_json_error_and_gateway_keeps_serving(
    hook: Hook, body: bytes, message: str
) -> None:
    status, answer = await hook.post(body)
    assert status == 400
    assert message in answer["error"]
    status, answer = await hook.post(json.dumps(_text_update(100, "hello")).encode())
    assert (status, answer) == (200, {"ok": True})
    sent = await hook.bot_api.wait_for_sent(GUEST, 1)
    assert sent[0]["text"] == "echo: hello"
    assert hook.processed() == 1  # the refused body recorded nothing


async def test_gateway_webhook_wrong_or_missing_secret_is_403_json(hook: Hook) -> None:
    body = json.dumps(_text_update(1, "forged")).encode()
    for secret in (None, "wrong", SECRET + "x"):
        status, answer = await hook.post(body, secret=secret)
        assert status == 403
        assert "X-Telegram-Bot-Api-Secret-Token" in answer["error"]
    assert hook.rasa.received == []


async def test_gateway_webhook_body_over_1_mib_is_413(hook: Hook) -> None:
    status, answer = await hook.post(json.dumps(_text_update(1, "y" * (1024 * 1024 + 1))).encode())
    assert status == 413 and "larger than" in answer["error"]


async def test_gateway_unparseable_update_and_traffic_log_neither_text_nor_token(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    update = _text_update(9, "my secret complaint text")
    update["message"].pop("date")  # PTB cannot parse a message without a date
    status, _ = await hook.post(json.dumps(update).encode())
    assert status == 400
    await hook.post(json.dumps(_text_update(10, "another private text")).encode())
    await hook.bot_api.wait_for_sent(GUEST, 1)
    assert "secret complaint" not in caplog.text
    assert "another private text" not in caplog.text
    assert hook.bot_api.token.split(":")[1] not in caplog.text  # httpx logged every Bot API URL at INFO
    assert "webhook update 9 refused" in caplog.text


async def test_staff_command_from_a_user_id_beyond_64_bits_is_refused_not_a_crash(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: the allow-list look-up sent the id to the database, which raised OverflowError in the handler.
    caplog.set_level(logging.INFO)
    update = _text_update(20, "/cases", chat=STAFF_CHAT)
    update["message"]["chat"] = {"id": STAFF_CHAT, "type": "supergroup", "title": "staff"}
    update["message"]["from"] = {"id": 2**70, "is_bot": False, "first_name": "X"}
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    status, _ = await hook.post(json.dumps(update).encode())
    assert status == 200
    await hook.bot_api.wait_for(lambda: "staff desk refused /cases" in caplog.text)
    assert "handler failed" not in caplog.text


async def test_button_press_with_blank_data_is_recorded_once_and_answered_expired(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: the update journal refused the blank payload inside dedupe, so the press was answered but its
    # update id never recorded (a redelivery would be answered again).
    caplog.set_level(logging.INFO)
    press = {"update_id": 30, "callback_query": {
        "id": "q1", "from": {"id": GUEST, "is_bot": False, "first_name": "G"}, "chat_instance": "ci", "data": " ",
        "message": {"message_id": 47, "date": 0, "chat": {"id": GUEST, "type": "private", "first_name": "G"}}}}
    for _ in range(2):  # the second is a redelivery
        assert (await hook.post(json.dumps(press).encode()))[0] == 200
    await hook.bot_api.wait_for_sent(GUEST, 1)
    await hook.bot_api.wait_for(lambda: hook.processed() == 1)
    assert [m["text"] for m in hook.bot_api.sent_to(GUEST)] == [TEXTS.text(t.BUTTON_EXPIRED)]
    assert hook.rasa.received == []
    assert "handler failed" not in caplog.text


# -- gateway handlers (also reached by long polling, where no receiver checks the update) ------------


@pytest.fixture
def gateway(tmp_path: Path, template_db: Path) -> Any:
    path = tmp_path / "unit.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    gw = Gateway(session_factory=make_session_factory(engine), clock=SystemClock(), rasa=FakeRasaClient(),
                 texts=TEXTS)
    gw.sender = FakeSender()
    yield gw
    engine.dispose()


@pytest.mark.parametrize("update_id", [2**63, 2**70, -(2**63) - 1])
async def test_dedupe_drops_an_update_whose_id_cannot_be_recorded(gateway: Gateway, update_id: int) -> None:
    # Before: OverflowError in dedupe, the error handler answered, and the text was still handled unrecorded.
    with pytest.raises(ApplicationHandlerStop):
        await gateway.dedupe(Updates().text("hello", update_id=update_id), context())
    with gateway.session_factory() as session:
        assert session.execute(select(func.count()).select_from(ProcessedUpdate)).scalar_one() == 0


@pytest.mark.parametrize(
    "message",
    [
        {"message_id": 1, "date": 1, "text": "no chat"},  # the guest filters raised AttributeError
        {**_text_update(5, "x")["message"], "text": 5},  # on_text and the journal called .strip() on an int
    ],
)
async def test_dedupe_drops_a_message_the_handlers_cannot_read(gateway: Gateway, message: dict[str, Any]) -> None:
    from telegram import Update

    update = Update.de_json({"update_id": 5, "message": message}, None)
    with pytest.raises(ApplicationHandlerStop):
        await gateway.dedupe(update, context())
    with gateway.session_factory() as session:
        assert session.execute(select(func.count()).select_from(ProcessedUpdate)).scalar_one() == 0


@pytest.mark.parametrize("data", ["", " ", "\n\t"])
async def test_button_press_without_payload_is_expired_not_sent_to_rasa(gateway: Gateway, data: str) -> None:
    # Before: an empty or blank callback_data went to Rasa as a guest message.
    await gateway.on_callback(Updates().callback(data), context())
    assert gateway.rasa.received == []  # type: ignore[attr-defined]
    assert gateway.sender.texts() == [TEXTS.text(t.BUTTON_EXPIRED)]  # type: ignore[union-attr]


# -- PMS webhook: a signed event with a JSON-escaped lone surrogate (any database) or NUL (PostgreSQL) was a 500 ---


async def _pms_client(url: str) -> TestClient:
    settings = load_settings({"DATABASE_URL": url, "PMS_WEBHOOK_SECRET": SECRET})
    client = TestClient(TestServer(build_app([], pms=PmsWebhook(make_session_factory(make_engine(url)), SystemClock(),
                                                                     settings))))
    await client.start_server()
    return client


def _event(name: str, event_id: str) -> bytes:
    from datetime import datetime, timezone

    return json.dumps({
        "event_id": event_id, "sent_at": datetime.now(timezone.utc).isoformat(), "type": "reservation",
        "reservation": {"reference": "R-1001", "guest": {"name": name}, "room": "1", "arrival": "2026-01-01",
                        "departure": "2026-01-02"},
    }).encode()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize(("name", "reason"), [("Ann \ud800 Lee", "unpaired surrogate"), ("Ann\u0000 Lee", "NUL")])
async def test_pms_event_with_unstorable_text_is_400_and_writes_nothing(
    database: str, name: str, reason: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'pms.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("pg_url")
    client = await _pms_client(url)
    try:
        raw = _event(name, "evt-1")
        response = await client.post("/pms/events", data=raw, headers={"X-PMS-Signature": sign(SECRET, raw)})
        assert response.status == 400
        assert reason in (await response.json())["error"]
        good = _event("Ann Lee", "evt-1")  # the same event id, corrected, is accepted afterwards
        response = await client.post("/pms/events", data=good, headers={"X-PMS-Signature": sign(SECRET, good)})
        assert response.status == 200
    finally:
        await client.close()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        guests = list(session.execute(select(Guest)).scalars())
        assert [(g.first_name, g.last_name) for g in guests] == [("Ann", "Lee")]
        assert session.execute(select(func.count()).select_from(Stay)).scalar_one() == 1
    engine.dispose()
