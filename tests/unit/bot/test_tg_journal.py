"""The gateway's journal: a guest message being answered survives the gateway process, and database outages wait.

Regression tests for what `make chaos` found: a gateway killed while answering lost the message (its update id
was already recorded, so Telegram's redelivery was skipped), and an update arriving while PostgreSQL restarted
was answered "sorry" and dropped.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.telegram import texts as t
from bot.telegram.gateway import Gateway, GatewayConfig
from crm_store.model import Guest, InboundMessage, InboundStatus, Stay, StayStatus
from tests.fakes.gateway_fakes import CHAT, context


def statuses(session_factory) -> list[str]:
    with session_factory() as session:
        return [row.status.value for row in session.execute(select(InboundMessage).order_by(InboundMessage.id)).scalars()]


def restarted(gateway: Gateway, sender) -> Gateway:
    """Return a new gateway on the same database, as the supervisor's restart would start it."""
    fresh = Gateway(session_factory=gateway.session_factory, clock=gateway.clock, rasa=gateway.rasa,
                    texts=gateway.texts, config=GatewayConfig())
    fresh.sender = sender
    return fresh


async def test_admitted_text_journalled_then_forgotten_once_answered(gateway, updates, rasa, sender, session_factory) -> None:
    update = updates.text("hello")
    assert await gateway.admit(update) is True
    assert statuses(session_factory) == ["received"]
    gateway.admitted(update)
    await gateway.dedupe(update, context())  # admitted by the poller: no second claim
    await gateway.on_text(update, context())
    await gateway.after_update(update)
    assert sender.texts() == ["echo: hello"]
    assert statuses(session_factory) == []  # answered at once: nothing kept


async def test_redelivered_update_not_admitted_twice(gateway, updates, session_factory) -> None:
    update = updates.text("hello", update_id=70)
    assert await gateway.admit(update) is True
    assert await gateway.admit(update) is False
    assert statuses(session_factory) == ["received"]


async def test_gateway_killed_while_answering_message_answered_late_after_restart(
    gateway, updates, rasa, sender, texts, session_factory
) -> None:
    update = updates.text("is the spa open?")
    await gateway.dedupe(update, context())  # recorded and journalled; then the process is SIGKILLed
    assert statuses(session_factory) == ["received"]
    again = restarted(gateway, sender)
    assert await again.recover_journal() == 1
    assert statuses(session_factory) == ["pending"]
    assert await again.drain_pending() == 1
    assert sender.texts() == [texts.text(t.LATE_ANSWER, guest_text="is the spa open?"), "echo: is the spa open?"]
    assert statuses(session_factory) == ["answered"]
    assert [text for _, text in rasa.received] == ["is the spa open?"]


async def test_gateway_killed_during_start_link_done_after_restart(
    gateway, updates, sender, texts, session_factory
) -> None:
    with session_factory() as session:
        guest = Guest(first_name="Anna", last_name="Rossi", verified=False)
        session.add(guest)
        session.flush()
        now = gateway.clock.now()
        session.add(Stay(reservation_ref="RES12345", guest_id=guest.id, room="412", arrival=now, departure=now,
                         status=StayStatus.IN_HOUSE))
        session.commit()
    await gateway.dedupe(updates.text("/start RES12345"), context())
    again = restarted(gateway, sender)
    await again.recover_journal()
    assert await again.drain_pending() == 1
    assert sender.texts() == [texts.text(t.LATE_ANSWER, guest_text="/start RES12345"),
                              texts.text(t.LINKED, first_name="Anna")]


async def test_handler_failure_keeps_journalled_message_for_a_late_answer(
    gateway, updates, rasa, sender, texts, session_factory
) -> None:
    update = updates.text("late checkout please")
    await gateway.dedupe(update, context())
    await gateway.on_error(update, context(error=RuntimeError("boom")))
    await gateway.after_update(update)
    assert sender.texts() == [texts.text(t.RECEIVED_LATER)]  # not "sorry": it will be answered
    assert statuses(session_factory) == ["pending"]
    assert await gateway.drain_pending() == 1
    assert sender.texts()[1:] == [texts.text(t.LATE_ANSWER, guest_text="late checkout please"),
                                  "echo: late checkout please"]


async def test_rasa_down_journalled_message_kept_once(gateway, updates, rasa, session_factory) -> None:
    update = updates.text("first")
    await gateway.dedupe(update, context())
    rasa.down = True
    await gateway.on_text(update, context())
    await gateway.after_update(update)
    assert statuses(session_factory) == ["pending"]  # the journal row itself waits; no second copy


async def test_button_press_journalled_with_its_payload(gateway, updates, session_factory) -> None:
    await gateway.dedupe(updates.callback("/affirm"), context())
    with session_factory() as session:
        row = session.execute(select(InboundMessage)).scalar_one()
    assert (row.status, row.text, row.external_id) == (InboundStatus.RECEIVED, "/affirm", str(CHAT))


async def test_photos_and_other_commands_not_journalled(gateway, updates, session_factory) -> None:
    await gateway.dedupe(updates.text("/help"), context())
    await gateway.dedupe(updates.message(photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}]),
                         context())
    with session_factory() as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar_one() == 0


async def test_database_unreachable_call_waits_until_it_is_back(gateway) -> None:
    calls = []

    def flaky(uow) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return "ok"

    assert await gateway.db(flaky) == "ok"
    assert len(calls) == 3


async def test_database_unreachable_too_long_raises(session_factory, clock, rasa, texts, sender) -> None:
    gateway = Gateway(session_factory=session_factory, clock=clock, rasa=rasa, texts=texts,
                      config=GatewayConfig(db_retry_s=0.3))

    def down(uow) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        await gateway.db(down)


async def test_gateway_killed_after_sending_the_answer_does_not_answer_twice(
    gateway, updates, rasa, sender, session_factory
) -> None:
    update = updates.text("hello")
    await gateway.dedupe(update, context())
    await gateway.on_text(update, context())  # answered; then killed before the handler's end
    assert sender.texts() == ["echo: hello"]
    again = restarted(gateway, sender)
    assert await again.recover_journal() == 0
    assert await again.drain_pending() == 0
    assert sender.texts() == ["echo: hello"]
    assert [text for _, text in rasa.received] == ["hello"]
