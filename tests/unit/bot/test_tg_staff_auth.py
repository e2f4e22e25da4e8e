"""Only allow-listed staff, in the staff chat, can act on cards or use staff commands; the rest is refused."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from telegram import Update

from bot.telegram import texts as t
from bot.telegram.staff_desk import StaffDesk, StaffDeskConfig, actor_of
from crm_store.model import HumanHandoff, StaffMember
from crm_store.recovery_policy import RecoveryPolicy
from crm_store.services import cases
from crm_store.settings import SettingsError, load_settings
from crm_store.unit_of_work import SqlUnitOfWork
from tests.fakes.gateway_fakes import CHAT, START, context

STAFF_CHAT = -100777
ALLOWED = 501
STRANGER = 666
POLICY = RecoveryPolicy()


@pytest.fixture
def desk(gateway, session_factory) -> StaffDesk:
    with session_factory() as session:
        session.add_all([
            StaffMember(telegram_user_id=601, name="Giulia Verdi", role="duty_manager", on_duty=True, active=True),
            StaffMember(telegram_user_id=602, name="Paolo Neri", role="front_desk", on_duty=False, active=False),
        ])
        session.commit()
    staff_desk = StaffDesk(gateway, POLICY, StaffDeskConfig(chat_id=STAFF_CHAT, user_ids=frozenset({ALLOWED})))
    gateway.human_desk = staff_desk
    return staff_desk


def user(user_id: int, first_name: str = "Mallory") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name}


def card_message(chat_id: int = STAFF_CHAT, text: str = "Complaint C-7KQ4ZP · OPEN", message_id: int = 1001) -> dict[str, Any]:
    chat = {"id": chat_id, "type": "supergroup", "title": "Staff"} if chat_id < 0 else {"id": chat_id, "type": "private"}
    return {"message_id": message_id, "date": int(START.timestamp()), "chat": chat,
            "from": {"id": 1, "is_bot": True, "first_name": "Bot"}, "text": text}


def press(data: str, user_id: int, chat_id: int = STAFF_CHAT, update_id: int = 1) -> Update:
    payload = {"id": f"q{update_id}", "from": user(user_id), "chat_instance": "1", "data": data,
               "message": card_message(chat_id)}
    return Update.de_json({"update_id": update_id, "callback_query": payload}, None)


def staff_text(text: str, user_id: int, reply_to: dict[str, Any] | None = None, update_id: int = 1) -> Update:
    message: dict[str, Any] = {"message_id": 50 + update_id, "date": int(START.timestamp()),
                               "chat": {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"},
                               "from": user(user_id), "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return Update.de_json({"update_id": update_id, "message": message}, None)


def open_case(session_factory, clock) -> str:
    return cases.open_case(SqlUnitOfWork(session_factory), clock, POLICY, "tg", str(CHAT), category="maintenance",
                           severity="medium", room="412", description="shower broken").reference


def trail(session_factory, reference: str) -> list[tuple[str, str]]:
    return [(k, a) for k, a, _, _ in cases.case_events(SqlUnitOfWork(session_factory), reference)]


@pytest.mark.parametrize(("user_id", "allowed"), [(ALLOWED, True), (601, True), (602, False), (STRANGER, False)])
async def test_is_staff_allow_list_or_active_staff_member(desk, user_id: int, allowed: bool) -> None:
    assert await desk.is_staff(user_id) is allowed


async def test_stranger_presses_acknowledge_refused_logged_by_id_nothing_changes(desk, sender, session_factory, clock,
                                                                                 caplog) -> None:
    reference = open_case(session_factory, clock)
    before = trail(session_factory, reference)
    with caplog.at_level(logging.WARNING):
        await desk.on_card_button(press(f"case:ack:{reference}", STRANGER), context())
    assert sender.answers == [("q1", desk.text(t.STAFF_REFUSED), True)]
    assert cases.get_case(SqlUnitOfWork(session_factory), POLICY, reference).status == "open"
    assert trail(session_factory, reference) == before
    assert sender.edits == [] and sender.sent == []
    assert str(STRANGER) in caplog.text and "Mallory" not in caplog.text


async def test_inactive_staff_member_refused(desk, sender, session_factory, clock) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_card_button(press(f"case:ack:{reference}", 602), context())
    assert sender.answers[0][1] == desk.text(t.STAFF_REFUSED)
    assert cases.get_case(SqlUnitOfWork(session_factory), POLICY, reference).status == "open"


async def test_allowed_user_outside_the_staff_chat_refused(desk, sender, session_factory, clock) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_card_button(press(f"case:ack:{reference}", ALLOWED, chat_id=ALLOWED), context())
    assert sender.answers[0][1] == desk.text(t.STAFF_REFUSED)
    assert cases.get_case(SqlUnitOfWork(session_factory), POLICY, reference).status == "open"


async def test_allowed_user_acknowledges_event_with_actor_and_card_posted(desk, sender, session_factory, clock) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_card_button(press(f"case:ack:{reference}", ALLOWED), context())
    assert trail(session_factory, reference)[-1] == ("acknowledged", actor_of(ALLOWED)) == ("acknowledged", "tg:501")
    assert sender.answers == [("q1", desk.text(t.STAFF_DONE_ACKNOWLEDGED), False)]
    assert sender.sent[-1][0] == STAFF_CHAT and reference in (sender.sent[-1][1].text or "")  # no card yet: posted


async def test_staff_member_acknowledges_twice_second_press_explains_status(desk, sender, session_factory, clock) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_card_button(press(f"case:ack:{reference}", 601), context())
    await desk.on_card_button(press(f"case:ack:{reference}", 601, update_id=2), context())
    assert sender.answers[1][1] == desk.text(t.STAFF_NOT_NOW, status=desk.render.status("acknowledged"))
    assert [k for k, _ in trail(session_factory, reference)].count("acknowledged") == 1


async def test_malformed_button_from_staff_is_answered_not_acted_on(desk, sender) -> None:
    await desk.on_card_button(press("case:zap:C-7KQ4ZP", ALLOWED), context())
    assert sender.answers == [("q1", desk.text(t.STAFF_BAD_BUTTON), True)]


async def test_unknown_case_answered(desk, sender) -> None:
    await desk.on_card_button(press("case:res:C-7KQ4ZP", ALLOWED), context())
    assert sender.answers[0][1] == desk.text(t.STAFF_UNKNOWN_CASE, reference="C-7KQ4ZP")


async def test_stranger_commands_refused(desk, sender) -> None:
    await desk.on_cases(staff_text("/cases", STRANGER), context())
    await desk.on_handback(staff_text("/handback C-7KQ4ZP", STRANGER, update_id=2), context(["C-7KQ4ZP"]))
    assert [item.text for _, item in sender.sent] == [desk.text(t.STAFF_REFUSED)] * 2


async def test_stranger_reply_to_card_refused_nothing_relayed(desk, sender, session_factory, clock) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_staff_reply(staff_text("hello guest", STRANGER, reply_to=card_message(text=f"Complaint {reference}")),
                              context())
    assert [(chat, item.text) for chat, item in sender.sent] == [(STAFF_CHAT, desk.text(t.STAFF_REFUSED))]
    with session_factory() as session:
        assert session.query(HumanHandoff).count() == 0


async def test_allowed_reply_relayed_then_guest_text_goes_to_staff_not_rasa(desk, gateway, sender, rasa, session_factory,
                                                                            clock, updates) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_staff_reply(staff_text("On our way", ALLOWED, reply_to=card_message(text=f"Complaint {reference}")),
                              context())
    card_text = sender.sent[0][1].text or ""
    assert sender.sent[0][0] == STAFF_CHAT and reference in card_text  # the case had no card yet: posted first
    assert [(chat, item.text) for chat, item in sender.sent[1:3]] == [
        (CHAT, desk.text(t.STAFF_ANSWERING_GENERIC, name="Mallory")), (CHAT, "On our way")
    ]
    with session_factory() as session:
        row = session.query(HumanHandoff).one()
        assert (row.status.value, row.owner) == ("claimed", "tg:501")
    await gateway.on_text(updates.text("thanks"), context())
    assert rasa.received == []
    assert sender.sent[-1][0] == STAFF_CHAT
    assert sender.sent[-1][1].text == desk.text(t.STAFF_GUEST_SAYS, reference=reference, text="thanks")
    assert sender.replies[-1][1] == 1001  # under the card (the fake's first message id)
    assert [k for k, _ in trail(session_factory, reference)][-1] == "staff_replied"


async def test_idle_handoff_handed_back_after_configured_minutes(desk, gateway, sender, rasa, session_factory, clock,
                                                                 updates) -> None:
    reference = open_case(session_factory, clock)
    await desk.on_staff_reply(staff_text("On our way", ALLOWED, reply_to=card_message(text=f"Complaint {reference}")),
                              context())
    clock.advance(timedelta(minutes=29))
    assert await desk.hand_back_idle() == 0
    clock.advance(timedelta(minutes=2))
    assert await desk.hand_back_idle() == 1
    await gateway.on_text(updates.text("hello"), context())
    assert rasa.received == [(f"tg:{CHAT}", "hello")]


def test_desk_config_from_settings_off_without_staff_chat_idle_minutes() -> None:
    assert StaffDeskConfig.from_settings(load_settings({})) is None
    config = StaffDeskConfig.from_settings(load_settings(
        {"STAFF_CHAT_ID": "-1001", "STAFF_USER_IDS": "5,6", "HANDOFF_IDLE_MINUTES": "45", "HOTEL_TIMEZONE": "Europe/Rome"}
    ))
    assert config == StaffDeskConfig(chat_id=-1001, user_ids=frozenset({5, 6}), timezone="Europe/Rome",
                                     handoff_idle=timedelta(minutes=45))
    assert load_settings({}).handoff_idle_minutes == 30
    with pytest.raises(SettingsError, match="HANDOFF_IDLE_MINUTES"):
        load_settings({"HANDOFF_IDLE_MINUTES": "0"})
