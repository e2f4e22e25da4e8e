"""The chaos run's judge (scripts/chaoslib/checks.py) on hand-made timelines and a real migrated CRM database.

The judge must be able to fail: each test plants one loss or duplicate and expects exactly that count.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.telegram.texts import load_texts
from crm_store import model
from crm_store.db import make_engine, make_session_factory, migrate
from scripts.chaoslib.botapi import ChaosBotApi, Entry
from scripts.chaoslib.checks import judge

CHAT = 10_000_001
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
TEXTS = load_texts()


class Script:
    """Write a chat's timeline: guest updates and bot messages, one second apart."""

    def __init__(self, api: ChaosBotApi) -> None:
        self.api = api
        self.seq = itertools.count(1)
        self.updates = itertools.count(1000)
        self.clock = T0

    def _at(self) -> float:
        self.clock += timedelta(seconds=1)
        return self.clock.timestamp()

    def guest(self, text: str) -> None:
        self.api.timeline[CHAT].append(Entry(next(self.seq), self._at(), "guest", text, update_id=next(self.updates)))

    def bot(self, name_or_text: str, **variables: object) -> datetime:
        text = TEXTS.text(name_or_text, **variables) if name_or_text.startswith("utter_") else name_or_text
        self.api.timeline[CHAT].append(Entry(next(self.seq), self._at(), "bot", text))
        return self.clock


@pytest.fixture
def crm(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        guest = model.Guest(first_name="Ana", verified=True)
        session.add(guest)
        session.flush()
        session.add(model.ChannelIdentity(channel="tg", external_id=str(CHAT), guest_id=guest.id, linked_at=T0))
        session.commit()
    yield url, sessions, guest.id
    engine.dispose()


@pytest.fixture
def api() -> ChaosBotApi:
    return ChaosBotApi()


def verdict(api: ChaosBotApi, url: str):
    return judge(api, url, (T0 + timedelta(hours=1)).timestamp())


def test_direct_and_late_answers_count_nothing(api, crm) -> None:
    url, _, _ = crm
    script = Script(api)
    script.guest("hello")
    script.bot("Hello, welcome!")
    script.guest("is the spa open?")
    script.bot("utter_gw_received_later")
    script.bot("utter_gw_late_answer", guest_text="is the spa open?")
    script.bot("Yes, until 9 pm.")
    result = verdict(api, url)
    assert (result.unanswered, result.duplicated, result.lost_complaints, result.lost_followups) == (0, 0, 0, 0)
    assert (result.figures["held"], result.figures["answered_late"]) == (1, 1)


@pytest.mark.parametrize("replies", [[], ["utter_gw_received_later"], ["utter_gw_no_answer"], ["utter_error"]])
def test_message_without_a_real_answer_is_unanswered(api, crm, replies) -> None:
    url, _, _ = crm
    script = Script(api)
    script.guest("the tv is broken")
    for name in replies:
        script.bot(name)
    script.guest("hello?")
    script.bot("Hello!")
    assert verdict(api, url).unanswered == 1


def test_late_answer_to_an_answered_message_is_a_duplicate(api, crm) -> None:
    url, _, _ = crm
    script = Script(api)
    script.guest("/affirm")
    script.bot("Wonderful, closed.")
    script.bot("utter_gw_late_answer", guest_text="/affirm")
    script.bot("Anything else?")
    result = verdict(api, url)
    assert (result.duplicated, result.unanswered) == (1, 0)


def test_complaint_reference_told_without_a_row_is_lost(api, crm) -> None:
    url, sessions, guest_id = crm
    script = Script(api)
    script.guest("the shower is broken")
    script.bot("utter_complaint_logged", room_number="412", complaint_reference="C-ABCDEF", ack_minutes=5)
    script.guest("and the tv")
    script.bot("utter_complaint_logged", room_number="412", complaint_reference="C-GHJKLM", ack_minutes=5)
    with sessions() as session:
        session.add(model.Complaint(reference="C-ABCDEF", guest_id=guest_id, category="maintenance", severity="low",
                                    room="412", description="shower", status="open", opened_at=T0, ack_due_at=T0))
        session.commit()
    result = verdict(api, url)
    assert result.lost_complaints == 1
    assert "C-GHJKLM" in result.details["lost_complaints"][0]


def _outbox(sessions, text: str, status: str, at: datetime, source: str = "recovery-ask:C-ABCDEF:0") -> None:
    with sessions() as session:
        session.add(model.OutboundMessage(channel="tg", recipient=str(CHAT), body={"text": text, "source": source},
                                          status=status, attempts=1, created_at=at - timedelta(seconds=2),
                                          sent_at=at if status == "sent" else None, updated_at=at))
        session.commit()


def test_follow_up_delivered_twice_is_a_duplicate(api, crm) -> None:
    url, sessions, _ = crm
    script = Script(api)
    ask = TEXTS.text("utter_recovery_ask", complaint_reference="C-ABCDEF")
    first = script.bot(ask)
    script.bot(ask)
    _outbox(sessions, ask, "sent", first)
    result = verdict(api, url)
    assert (result.duplicated, result.lost_followups) == (1, 0)


def test_follow_up_marked_sent_but_never_delivered_is_lost(api, crm) -> None:
    url, sessions, _ = crm
    Script(api).guest("hello")
    _outbox(sessions, TEXTS.text("utter_recovery_ask", complaint_reference="C-ABCDEF"), "sent", T0)
    assert verdict(api, url).lost_followups == 1


def test_due_follow_up_left_pending_is_lost(api, crm) -> None:
    url, sessions, _ = crm
    with sessions() as session:
        session.add(model.FollowUp(kind="survey_invite", subject="BK-1", payload={}, due_at=T0, status="pending",
                                   attempts=0, idempotency_key="survey:BK-1", created_at=T0, updated_at=T0))
        session.add(model.FollowUp(kind="survey_invite", subject="BK-2", payload={}, due_at=T0 + timedelta(days=1),
                                   status="pending", attempts=0, idempotency_key="survey:BK-2", created_at=T0,
                                   updated_at=T0))
        session.commit()
    assert verdict(api, url).lost_followups == 1  # the one due before quiescence; the other is not due yet
