"""Drive the real gateway over HTTP: fake Bot API in front, fake Rasa behind, SQLite underneath."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from bot.telegram import texts as t
from bot.telegram.texts import load_texts
from crm_store.clock import SystemClock
from crm_store.model import (
    ChannelIdentity,
    ComplaintAttachment,
    ConsentRecord,
    Guest,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    OutboundStatus,
    ProcessedUpdate,
    Stay,
    StayStatus,
)
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import open_complaint
from crm_store.unit_of_work import SqlUnitOfWork

GUEST = 4242
TEXTS = load_texts()


def statuses(harness, method: str) -> list[int]:
    return [call.status for call in harness.bot_api.calls_of(method)]


async def test_gateway_text_message_rasa_reply_sent_to_chat(harness) -> None:
    harness.bot_api.send_text(GUEST, "hello")
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert sent[0]["text"] == "echo: hello"
    assert harness.rasa.received == [(f"tg:{GUEST}", "hello")]
    assert harness.count(ProcessedUpdate) == 1
    assert [c["command"] for c in harness.bot_api.commands] == ["start", "help", "privacy", "stop"]


async def test_gateway_same_update_delivered_twice_rasa_called_once_one_reply(harness) -> None:
    update = harness.bot_api.send_text(GUEST, "hello")
    await harness.bot_api.wait_for_sent(GUEST, 1)
    harness.bot_api.redeliver(update)
    harness.bot_api.send_text(GUEST, "second")  # same chat: handled strictly after the duplicate
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert [m["text"] for m in sent] == ["echo: hello", "echo: second"]
    assert harness.rasa.texts_from(f"tg:{GUEST}") == ["hello", "second"]
    assert harness.count(ProcessedUpdate) == 2


async def test_gateway_429_with_retry_after_waits_and_retries_once(harness) -> None:
    harness.bot_api.fail_next(1, 429, retry_after=1, methods=("sendMessage",))
    started = time.monotonic()
    harness.bot_api.send_text(GUEST, "hello")
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert time.monotonic() - started >= 1.0
    assert [m["text"] for m in sent] == ["echo: hello"]
    assert statuses(harness, "sendMessage") == [429, 200]
    assert harness.count(OutboundMessage) == 0


async def test_gateway_5xx_retried_with_backoff_then_delivered(harness) -> None:
    harness.bot_api.fail_next(2, 500, methods=("sendMessage",))
    harness.bot_api.send_text(GUEST, "hello")
    await harness.bot_api.wait_for_sent(GUEST, 1)
    assert statuses(harness, "sendMessage") == [500, 500, 200]


async def test_gateway_send_keeps_failing_recorded_failed_in_outbox(harness) -> None:
    harness.bot_api.fail_next(3, 502, methods=("sendMessage",))
    harness.bot_api.send_text(GUEST, "hello")
    await harness.bot_api.wait_for(lambda: harness.count(OutboundMessage) == 1)
    row = harness.rows(OutboundMessage)[0]
    assert (row.status, row.attempts, row.recipient, row.channel) == (OutboundStatus.FAILED, 3, str(GUEST), "tg")
    assert row.body["text"] == "echo: hello"
    harness.bot_api.send_text(GUEST, "again")  # the gateway is still alive
    assert [m["text"] for m in await harness.bot_api.wait_for_sent(GUEST, 1)] == ["echo: again"]


async def test_gateway_rasa_unreachable_guest_told_then_answered_when_back(harness) -> None:
    await harness.rasa.stop()
    harness.bot_api.send_text(GUEST, "is breakfast included?")
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert sent[0]["text"] == TEXTS.text(t.RECEIVED_LATER)
    assert harness.count(InboundMessage, InboundMessage.status == InboundStatus.PENDING) == 1
    await harness.rasa.start()  # same port
    sent = await harness.bot_api.wait_for_sent(GUEST, 3)
    assert [m["text"] for m in sent[1:]] == [
        TEXTS.text(t.LATE_ANSWER, guest_text="is breakfast included?"),
        "echo: is breakfast included?",
    ]
    assert harness.count(InboundMessage, InboundMessage.status == InboundStatus.ANSWERED) == 1
    assert harness.rasa.texts_from(f"tg:{GUEST}") == ["is breakfast included?"]


async def test_gateway_buttons_inline_keyboard_press_sends_payload_and_answers_query(harness) -> None:
    long_payload = '/inform{"survey_nps": "10", "note": "' + "x" * 80 + '"}'
    harness.rasa.replies["survey"] = [
        {"text": "How likely are you to recommend us?",
         "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "Ten", "payload": long_payload}]}
    ]
    harness.bot_api.send_text(GUEST, "survey")
    question = (await harness.bot_api.wait_for_sent(GUEST, 1))[0]
    keyboard = question["reply_markup"]["inline_keyboard"]
    buttons = [b for row in keyboard for b in row]
    assert [b["text"] for b in buttons] == ["Yes", "Ten"]
    assert buttons[0]["callback_data"] == "/affirm"
    assert len(buttons[1]["callback_data"].encode()) <= 64
    harness.bot_api.press_button(GUEST, question["message_id"], buttons[1]["callback_data"])
    await harness.bot_api.wait_for_sent(GUEST, 2)
    assert harness.rasa.texts_from(f"tg:{GUEST}") == ["survey", long_payload]
    assert len(harness.bot_api.callback_answers) == 1
    assert statuses(harness, "editMessageReplyMarkup") == [200]


async def test_gateway_image_reply_sent_as_photo(harness) -> None:
    harness.rasa.replies["map"] = [{"text": "Here is the map"}, {"image": "https://example.com/map.png"}]
    harness.bot_api.send_text(GUEST, "map")
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert sent[0]["text"] == "Here is the map"
    assert sent[1]["_source"] == "https://example.com/map.png" and sent[1]["photo"]


def _seed_stay(harness, ref: str, first: str = "Anna", last: str = "Rossi") -> int:
    now = datetime.now(timezone.utc)
    with harness.session_factory() as session:
        guest = Guest(first_name=first, last_name=last, verified=False)
        session.add(guest)
        session.flush()
        session.add(Stay(reservation_ref=ref, guest_id=guest.id, room="412", arrival=now - timedelta(days=1),
                         departure=now + timedelta(days=2), status=StayStatus.IN_HOUSE))
        session.commit()
        return guest.id


async def test_gateway_start_with_booking_ref_links_chat_and_thanks_by_name(harness) -> None:
    guest_id = _seed_stay(harness, "RES12345")
    harness.bot_api.send_text(GUEST, "hi")  # first contact creates an unverified guest
    await harness.bot_api.wait_for_sent(GUEST, 1)
    harness.bot_api.send_text(GUEST, "/start RES12345")
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert sent[1]["text"] == TEXTS.text(t.LINKED, first_name="Anna")
    identity = harness.rows(ChannelIdentity, ChannelIdentity.external_id == str(GUEST))[0]
    assert identity.guest_id == guest_id
    assert harness.rows(Guest, Guest.id == guest_id)[0].verified is True
    assert harness.count(Guest) == 1  # the chat's unverified guest was merged away


async def test_gateway_typed_ref_and_surname_links_wrong_surname_refused(harness) -> None:
    _seed_stay(harness, "RES777001")
    harness.bot_api.send_text(GUEST, "RES777001 Bianchi")
    harness.bot_api.send_text(GUEST, "RES777001 rossi")
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert [m["text"] for m in sent] == [TEXTS.text(t.LINK_FAILED), TEXTS.text(t.LINKED, first_name="Anna")]
    assert harness.rasa.received == []


async def test_gateway_start_unknown_ref_polite_answer_and_chat_goes_on(harness) -> None:
    harness.bot_api.send_text(GUEST, "/start NOPE9999")
    harness.bot_api.send_text(GUEST, "hello")
    sent = await harness.bot_api.wait_for_sent(GUEST, 2)
    assert [m["text"] for m in sent] == [TEXTS.text(t.LINK_FAILED), "echo: hello"]


async def test_gateway_photo_during_complaint_attached_and_acknowledged(harness) -> None:
    complaint = open_complaint(
        SqlUnitOfWork(harness.session_factory), SystemClock(), SlaPolicy(), "tg", str(GUEST),
        category="maintenance", severity="medium", room="412", description="shower broken",
    )
    harness.bot_api.send_photo(GUEST, caption="the shower")
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert sent[0]["text"] == TEXTS.text(t.PHOTO_ATTACHED, complaint_reference=complaint.reference)
    attachment = harness.rows(ComplaintAttachment)[0]
    assert attachment.kind == "photo" and attachment.caption == "the shower"
    assert attachment.file_ref.endswith("w1280")  # the largest size


async def test_gateway_non_text_messages_polite_replies_never_silence(harness) -> None:
    harness.bot_api.send_photo(GUEST)
    harness.bot_api.send_voice(GUEST)
    harness.bot_api.send_sticker(GUEST)
    harness.bot_api.send_location(GUEST)
    harness.bot_api.send_document(GUEST)
    harness.bot_api.send_text(GUEST, "/nonsense")
    sent = await harness.bot_api.wait_for_sent(GUEST, 6)
    assert [m["text"] for m in sent] == [
        TEXTS.text(name) for name in (t.PHOTO_NO_COMPLAINT, t.VOICE, t.STICKER, t.LOCATION, t.DOCUMENT, t.HELP)
    ]
    assert harness.rasa.received == []


async def test_gateway_commands_help_privacy_stop_records_consent(harness) -> None:
    harness.bot_api.send_text(GUEST, "/help")
    harness.bot_api.send_text(GUEST, "/privacy")
    harness.bot_api.send_text(GUEST, "/stop")
    sent = await harness.bot_api.wait_for_sent(GUEST, 3)
    assert [m["text"] for m in sent] == [TEXTS.text(t.HELP), TEXTS.text(t.PRIVACY), TEXTS.text(t.STOPPED)]
    record = harness.rows(ConsentRecord)[0]
    assert (record.purpose, record.granted, record.source) == ("automated_messages", False, "telegram:/stop")
    assert await harness.runtime.gateway.deliver_automated(GUEST, [{"text": "survey time"}]) is False


async def test_gateway_outbox_message_staged_by_scheduler_delivered_with_buttons(harness) -> None:
    now = datetime.now(timezone.utc)
    with harness.session_factory() as session:
        session.add(OutboundMessage(channel="tg", recipient=str(GUEST), status=OutboundStatus.PENDING, attempts=0,
                                    body={"text": "Is it fixed?", "buttons": [{"title": "Yes", "payload": "/affirm"}],
                                          "source": "recovery-ask:C-ABC234:0"},
                                    created_at=now, updated_at=now))
        session.commit()
    sent = await harness.bot_api.wait_for_sent(GUEST, 1)
    assert sent[0]["text"] == "Is it fixed?"
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/affirm"
    await harness.bot_api.wait_for(lambda: harness.count(OutboundMessage, OutboundMessage.status == OutboundStatus.SENT) == 1)
