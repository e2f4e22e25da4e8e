"""Call the gateway's handlers directly with Bot API-shaped updates, a fake sender and a fake Rasa."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from telegram.ext import ApplicationHandlerStop

from bot.telegram import texts as t
from bot.telegram.gateway import EMPTY_ANSWER_RETRIES, non_text_response, parse_typed_link, sender_id_of
from crm_store.model import ComplaintAttachment, ConsentRecord, Guest, InboundMessage, InboundStatus, Stay, StayStatus
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import open_complaint
from crm_store.unit_of_work import SqlUnitOfWork
from crm_store.services.guests import identify
from crm_store.services.preferences import list_preferences, record_preference
from tests.fakes.gateway_fakes import CHAT, context


def count(session_factory, model, *criteria) -> int:
    with session_factory() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one())


def seed_stay(session_factory, clock, ref="RES12345", last="Rossi") -> int:
    with session_factory() as session:
        guest = Guest(first_name="Anna", last_name=last, verified=False)
        session.add(guest)
        session.flush()
        session.add(Stay(reservation_ref=ref, guest_id=guest.id, room="412", arrival=clock.now() - timedelta(days=1),
                         departure=clock.now() + timedelta(days=2), status=StayStatus.IN_HOUSE))
        session.commit()
        return guest.id


def test_sender_id_namespaced_tg() -> None:
    assert sender_id_of(123) == "tg:123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RES12345 Rossi", ("RES12345", "Rossi")),
        ("ab12cd, De la Cruz", ("ab12cd", "De la Cruz")),
        ("88001234 O'Neil", ("88001234", "O'Neil")),
        ("412 noisy", None),
        ("1203 shower broken", None),
        ("hello there", None),
        ("my room is 412", None),
        ("RES12345", None),
    ],
)
def test_parse_typed_link_only_reference_like_tokens(text: str, expected) -> None:
    assert parse_typed_link(text) == expected


async def test_dedupe_second_delivery_stops_handling(gateway, updates) -> None:
    update = updates.text("hi", update_id=50)
    await gateway.dedupe(update, context())
    with pytest.raises(ApplicationHandlerStop):
        await gateway.dedupe(update, context())


async def test_on_text_sends_to_rasa_and_renders_replies(gateway, updates, rasa, sender) -> None:
    rasa.replies["hi"] = [{"text": "Hello!"}, {"text": "How can I help?", "buttons": [{"title": "Help", "payload": "/help"}]}]
    await gateway.on_text(updates.text("hi"), context())
    assert rasa.received == [(f"tg:{CHAT}", "hi")]
    assert sender.texts() == ["Hello!", "How can I help?"]
    assert sender.sent[1][1].keyboard[0][0].data == "/help"


async def test_on_text_empty_rasa_reply_kept_retried_then_guest_not_left_in_silence(
    gateway, updates, rasa, sender, texts
) -> None:
    # Rasa's REST channel answers 200 with nothing when it failed inside (e.g. its tracker store down):
    # the message is kept and asked again; only an answer that stays empty gets the apology.
    rasa.replies["hm"] = []
    await gateway.on_text(updates.text("hm"), context())
    assert sender.texts() == [texts.text(t.RECEIVED_LATER)]
    for _ in range(EMPTY_ANSWER_RETRIES - 1):
        assert await gateway.drain_pending() == 0
    assert await gateway.drain_pending() == 1
    assert sender.texts()[1:] == [texts.text(t.LATE_ANSWER, guest_text="hm"), texts.text(t.NO_ANSWER)]
    assert [text for _, text in rasa.received] == ["hm"] * (EMPTY_ANSWER_RETRIES + 1)


async def test_on_text_empty_rasa_reply_once_answered_late_when_rasa_recovers(
    gateway, updates, rasa, sender, texts
) -> None:
    rasa.replies["hm"] = []
    await gateway.on_text(updates.text("hm"), context())
    rasa.replies["hm"] = [{"text": "Here you are."}]
    assert await gateway.drain_pending() == 1
    assert sender.texts() == [texts.text(t.RECEIVED_LATER), texts.text(t.LATE_ANSWER, guest_text="hm"), "Here you are."]


async def test_on_text_empty_reply_action_server_down_kept_for_later(gateway, updates, rasa, sender, texts, session_factory) -> None:
    async def down() -> bool:
        return False

    gateway.action_server_up = down
    rasa.replies["hm"] = []
    await gateway.on_text(updates.text("hm"), context())
    assert sender.texts() == [texts.text(t.RECEIVED_LATER)]
    assert count(session_factory, InboundMessage) == 1


async def test_rasa_down_message_kept_later_messages_queue_behind_then_answered_in_order(
    gateway, updates, rasa, sender, texts, session_factory
) -> None:
    rasa.down = True
    await gateway.on_text(updates.text("first"), context())
    rasa.down = False
    await gateway.on_text(updates.text("second"), context())  # must not overtake "first"
    assert sender.texts() == [texts.text(t.RECEIVED_LATER)] * 2
    assert rasa.received == []
    assert await gateway.drain_pending() == 2
    assert [text for _, text in rasa.received] == ["first", "second"]
    assert sender.texts()[2:] == [
        texts.text(t.LATE_ANSWER, guest_text="first"), "echo: first",
        texts.text(t.LATE_ANSWER, guest_text="second"), "echo: second",
    ]
    assert count(session_factory, InboundMessage, InboundMessage.status == InboundStatus.ANSWERED) == 2


async def test_drain_pending_rasa_still_down_keeps_rows_and_counts_attempt(gateway, updates, rasa, session_factory) -> None:
    rasa.down = True
    await gateway.on_text(updates.text("first"), context())
    assert await gateway.drain_pending() == 0
    with session_factory() as session:
        row = session.execute(select(InboundMessage)).scalar_one()
        assert (row.status, row.attempts) == (InboundStatus.PENDING, 1)


async def test_drain_pending_too_old_marked_failed(gateway, updates, rasa, clock, session_factory) -> None:
    rasa.down = True
    await gateway.on_text(updates.text("first"), context())
    rasa.down = False
    clock.advance(timedelta(hours=13))
    assert await gateway.drain_pending() == 0
    assert count(session_factory, InboundMessage, InboundMessage.status == InboundStatus.FAILED) == 1
    assert rasa.received == []


async def test_on_callback_answers_clears_keyboard_and_sends_payload(gateway, updates, rasa, sender) -> None:
    await gateway.on_callback(updates.callback("/affirm"), context())
    assert sender.answered == ["cbq-1"]
    assert sender.cleared == [(CHAT, 99)]
    assert rasa.received == [(f"tg:{CHAT}", "/affirm")]


async def test_on_callback_expired_key_answered_and_explained(gateway, updates, rasa, sender, texts) -> None:
    await gateway.on_callback(updates.callback("~expiredkey"), context())
    assert sender.answered == ["cbq-1"]
    assert sender.texts() == [texts.text(t.BUTTON_EXPIRED)]
    assert rasa.received == []


async def test_on_start_with_ref_links_and_merges_unverified_guest(gateway, updates, rasa, sender, texts, session_factory, clock) -> None:
    guest_id = seed_stay(session_factory, clock)
    uow = SqlUnitOfWork(session_factory)
    identify(uow, clock, "tg", str(CHAT))  # first contact: an unverified guest
    record_preference(uow, clock, "tg", str(CHAT), category="pillow", value="feather", source_text=None)
    await gateway.on_start(updates.text("/start RES12345"), context(["RES12345"]))
    assert sender.texts() == [texts.text(t.LINKED, first_name="Anna")]
    with session_factory() as session:
        assert session.get(Guest, guest_id).verified is True
    assert count(session_factory, Guest) == 1
    assert [p.value for p in list_preferences(uow, "tg", str(CHAT))] == ["feather"]


async def test_on_start_unknown_ref_polite_failure(gateway, updates, sender, texts) -> None:
    await gateway.on_start(updates.text("/start NOPE1234"), context(["NOPE1234"]))
    assert sender.texts() == [texts.text(t.LINK_FAILED)]


async def test_on_start_without_ref_greets_through_rasa(gateway, updates, rasa) -> None:
    await gateway.on_start(updates.text("/start"), context())
    assert rasa.received == [(f"tg:{CHAT}", "/greet")]


async def test_on_stop_records_opt_out_start_turns_back_on(gateway, updates, rasa, sender, texts, session_factory) -> None:
    await gateway.on_stop(updates.text("/stop"), context())
    assert sender.texts() == [texts.text(t.STOPPED)]
    assert await gateway.deliver_automated(CHAT, [{"text": "survey"}]) is False
    await gateway.on_start(updates.text("/start"), context())
    assert sender.texts()[1] == texts.text(t.RESUBSCRIBED)
    assert await gateway.deliver_automated(CHAT, [{"text": "survey"}]) is True
    assert count(session_factory, ConsentRecord) == 2


async def test_on_photo_attaches_to_recent_complaint(gateway, updates, sender, texts, session_factory, clock) -> None:
    info = open_complaint(SqlUnitOfWork(session_factory), clock, SlaPolicy(), "tg", str(CHAT),
                          category="noise", severity="low", room="412", description="loud music")
    clock.advance(timedelta(minutes=10))
    photo = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960}]
    await gateway.on_photo(updates.message(photo=photo, caption="next door"), context())
    assert sender.texts() == [texts.text(t.PHOTO_ATTACHED, complaint_reference=info.reference)]
    with session_factory() as session:
        row = session.execute(select(ComplaintAttachment)).scalar_one()
        assert (row.file_ref, row.caption, row.kind) == ("big", "next door", "photo")


async def test_on_photo_complaint_older_than_window_not_attached(gateway, updates, sender, texts, session_factory, clock) -> None:
    open_complaint(SqlUnitOfWork(session_factory), clock, SlaPolicy(), "tg", str(CHAT),
                   category="noise", severity="low", room="412", description="loud music")
    clock.advance(timedelta(minutes=31))
    photo = [{"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960}]
    await gateway.on_photo(updates.message(photo=photo), context())
    assert sender.texts() == [texts.text(t.PHOTO_NO_COMPLAINT)]
    assert count(session_factory, ComplaintAttachment) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 2}}, t.VOICE),
        ({"sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
                      "is_animated": False, "is_video": False}}, t.STICKER),
        ({"location": {"latitude": 1.0, "longitude": 2.0}}, t.LOCATION),
        ({"document": {"file_id": "d", "file_unique_id": "d"}}, t.DOCUMENT),
        ({"contact": {"phone_number": "+100", "first_name": "X"}}, t.UNSUPPORTED),
    ],
)
def test_non_text_response_each_kind_has_its_answer(updates, content, expected) -> None:
    assert non_text_response(updates.message(**content)) == expected


async def test_on_error_tells_guest_and_does_not_raise(gateway, updates, sender, texts) -> None:
    await gateway.on_error(updates.text("x"), context(error=RuntimeError("boom")))
    assert sender.texts() == [texts.text(t.NO_ANSWER)]


def stage_outbox(session_factory, clock, recipient: str, body: dict) -> None:
    from crm_store.model import OutboundMessage, OutboundStatus

    with session_factory() as session:
        session.add(OutboundMessage(channel="tg", recipient=recipient, body=body, status=OutboundStatus.PENDING,
                                    attempts=0, created_at=clock.now(), updated_at=clock.now()))
        session.commit()


async def test_drain_outbox_delivers_staged_message_and_marks_sent(gateway, sender, session_factory, clock) -> None:
    from crm_store.model import OutboundMessage, OutboundStatus

    stage_outbox(session_factory, clock, str(CHAT), {"text": "How was your stay?", "source": "survey:1"})
    assert await gateway.drain_outbox() == 1
    assert sender.texts() == ["How was your stay?"]
    assert count(session_factory, OutboundMessage, OutboundMessage.status == OutboundStatus.SENT) == 1
    assert await gateway.drain_outbox() == 0


async def test_drain_outbox_guest_opted_out_not_sent_marked_failed(gateway, updates, sender, session_factory, clock) -> None:
    from crm_store.model import OutboundMessage, OutboundStatus

    await gateway.on_stop(updates.text("/stop"), context())
    stage_outbox(session_factory, clock, str(CHAT), {"text": "How was your stay?"})
    assert await gateway.drain_outbox() == 0
    assert len(sender.sent) == 1  # only the /stop confirmation
    with session_factory() as session:
        row = session.execute(select(OutboundMessage)).scalar_one()
        assert (row.status, row.last_error) == (OutboundStatus.FAILED, "opted_out")
