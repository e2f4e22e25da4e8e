"""Test survey invitations, reminders, pulse checks and feedback alerts through the dispatcher, with a fixed clock.

Timing rules: next day at 10:00 hotel time (across a DST change), quiet hours, catch-up of a late import,
cancellation when more than three days late; fatigue rules: 30 days, opt-out, no linked chat.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.notify import OutboxStaffNotifier
from bot.scheduler.dispatcher import Dispatcher
from bot.scheduler.handlers import default_handlers
from bot.scheduler.messenger import OutboxGuestMessenger
from bot.scheduler.store import FollowUpQueue
from crm_store.clock import FixedClock
from crm_store.model import (
    FollowUp,
    FollowUpStatus,
    InvitationStatus,
    OutboundMessage,
    Stay,
    SurveyInvitation,
)
from crm_store.recovery_policy import RecoveryPolicy, parse_policy
from crm_store.services import consent, pulse, surveys
from crm_store.services.identity import link_by_reservation
from crm_store.services.stays import GuestData, SurveyTiming, check_in, check_out, upsert_reservation
from crm_store.unit_of_work import SqlUnitOfWork

BERLIN = ZoneInfo("Europe/Berlin")
ANN = GuestData(first_name="Ann", last_name="Lee", email="ann@example.com")


def survey_policy(quiet: str | None = "22:00-08:00", **surveys_section: Any) -> RecoveryPolicy:
    """Return a Berlin policy with quiet hours and the given survey keys."""
    return parse_policy(
        {
            "quiet_hours": quiet,
            "defaults": {"ack": "10m", "resolve": "2h"},
            "scheduler": {"max_attempts": 3, "retry_backoff": "10s", "retry_backoff_max": "1m"},
            "surveys": {"reminder_after": "2d", "max_late": "3d", "fatigue_window": "30d", **surveys_section},
        },
        timezone_name="Europe/Berlin",
    )


class World:
    """Seed stays and guests, dispatch with an injected clock, and read back rows."""

    def __init__(self, sessions, clock: FixedClock, rasa, policy: RecoveryPolicy) -> None:
        self.sessions = sessions
        self.clock = clock
        self.rasa = rasa
        self.policy = policy
        self.timing = SurveyTiming.from_rules(policy.surveys, policy.tz)

    def uow(self) -> SqlUnitOfWork:
        """Return a unit of work."""
        return SqlUnitOfWork(self.sessions)

    def dispatcher(self) -> Dispatcher:
        """Return a dispatcher whose survey handlers read the test clock."""
        notifier = OutboxStaffNotifier(self.clock)
        handlers = default_handlers(
            self.policy, rasa=self.rasa, messenger=OutboxGuestMessenger(self.clock), notifier=notifier,
            uow_factory=self.uow, clock=self.clock,
        )
        return Dispatcher(FollowUpQueue(self.sessions, "w1"), handlers, self.policy, self.clock, notifier)

    async def run(self) -> int:
        """Dispatch everything due now."""
        return await self.dispatcher().run_due()

    def stay(self, ref: str = "R-1001", arrival: str = "2026-03-25", departure: str = "2026-03-28",
             status: str = "booked", guest: GuestData = ANN) -> None:
        """Create or update a reservation."""
        upsert_reservation(self.uow(), self.clock, reference=ref, guest=guest, room="412", arrival=arrival,
                           departure=departure, status=status, timing=self.timing)

    def link(self, ref: str = "R-1001", external_id: str = "1001") -> None:
        """Link the chat tg:<external_id> to the reservation's guest."""
        assert link_by_reservation(self.uow(), self.clock, "tg", external_id, ref).linked

    def check_out(self, ref: str = "R-1001", at: datetime | None = None) -> datetime | None:
        """Check the stay out (now, or at ``at``); return the invitation's due time."""
        return check_out(self.uow(), self.clock, reference=ref, checked_out_at=at, timing=self.timing).survey_due_at

    def row(self, key: str) -> FollowUp:
        """Return the follow-up with ``key``."""
        with self.sessions() as session:
            return session.query(FollowUp).filter(FollowUp.idempotency_key == key).one()

    def rows(self, model: Any, *criteria: Any) -> list[Any]:
        """Return rows by id."""
        with self.sessions() as session:
            return list(session.query(model).filter(*criteria).order_by(model.id))

    def invitation(self, ref: str = "R-1001") -> SurveyInvitation:
        """Return the stay's invitation."""
        with self.sessions() as session:
            return (session.query(SurveyInvitation).join(Stay, Stay.id == SurveyInvitation.stay_id)
                    .filter(Stay.reservation_ref == ref).one())

    def intents(self) -> list[tuple[str, str]]:
        """Return the (sender, intent) pairs triggered in Rasa."""
        return [(sender, intent) for sender, intent, _ in self.rasa.calls]


@pytest.fixture
def world(sessions, rasa) -> World:
    """Return a Berlin hotel on the Saturday before the spring-forward night, 16:00 local."""
    clock = FixedClock(datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc))
    return World(sessions, clock, rasa, survey_policy())


# ---------------------------------------------------------------- invitation timing


async def test_survey_invite_next_day_ten_across_dst_is_sent_once_with_reminder(world: World) -> None:
    world.stay()
    world.link()
    due = world.check_out()
    assert due == datetime(2026, 3, 29, 8, 0, tzinfo=timezone.utc)  # 10:00 CEST, the morning after the jump
    assert due.astimezone(BERLIN).hour == 10
    world.clock.set(due - timedelta(minutes=1))
    assert await world.run() == 0
    world.clock.set(due)
    await world.run()
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite")]
    invite = world.row("survey:R-1001")
    assert invite.status == FollowUpStatus.SENT
    assert invite.payload["result"] == "sent" and invite.payload["sender"] == "tg:1001"
    invitation = world.invitation()
    assert (invitation.status, invitation.sent_at) == (InvitationStatus.SENT, due)
    [message] = world.rows(OutboundMessage, OutboundMessage.channel == "tg")
    assert (message.recipient, message.body["source"]) == ("1001", "survey:R-1001")
    assert world.row("survey-reminder:R-1001").due_at == due + timedelta(days=2)
    world.clock.advance(timedelta(hours=1))
    assert await world.run() == 0
    assert len(world.rasa.calls) == 1


async def test_survey_invite_day_and_time_come_from_the_policy(sessions, rasa) -> None:
    clock = FixedClock(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc))
    w = World(sessions, clock, rasa, survey_policy(invite_day_offset=2, invite_time="18:30"))
    w.stay(arrival="2026-05-28", departure="2026-06-01")
    assert w.check_out() == datetime(2026, 6, 3, 16, 30, tzinfo=timezone.utc)


async def test_survey_invite_delay_policy_sends_within_seconds(sessions, rasa) -> None:
    clock = FixedClock(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc))
    w = World(sessions, clock, rasa, survey_policy(quiet=None, invite_delay="2s"))
    w.stay(arrival="2026-05-28", departure="2026-06-01")
    w.link()
    assert w.check_out() == clock.now() + timedelta(seconds=2)
    clock.advance(timedelta(seconds=2))
    await w.run()
    assert w.intents() == [("tg:1001", "EXTERNAL_survey_invite")]


async def test_survey_invite_in_quiet_hours_waits_for_their_end(sessions, rasa) -> None:
    clock = FixedClock(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc))
    w = World(sessions, clock, rasa, survey_policy(invite_time="07:00"))
    w.stay(arrival="2026-05-28", departure="2026-06-01")
    w.link()
    due = w.check_out()
    assert due == datetime(2026, 6, 2, 5, 0, tzinfo=timezone.utc)  # 07:00 CEST, inside 22:00-08:00
    clock.set(due)
    await w.run()
    assert w.rasa.calls == []
    end_of_quiet = datetime(2026, 6, 2, 6, 0, tzinfo=timezone.utc)  # 08:00 CEST
    assert w.row("survey:R-1001").due_at == end_of_quiet
    clock.set(end_of_quiet)
    await w.run()
    assert w.intents() == [("tg:1001", "EXTERNAL_survey_invite")]


async def test_survey_invite_late_import_is_caught_up_and_sent(world: World) -> None:
    world.stay(arrival="2026-03-22", departure="2026-03-26", status="checked_out")  # planned 03-27 10:00
    world.link()
    row = world.row("survey:R-1001")
    assert row.payload["caught_up"] is True and row.due_at == world.clock.now()
    await world.run()
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite")]
    assert world.invitation().status == InvitationStatus.SENT


async def test_survey_invite_more_than_three_days_late_is_cancelled_and_counted(world: World) -> None:
    world.stay(arrival="2026-03-18", departure="2026-03-21", status="checked_out")  # planned 03-22 10:00
    world.link()
    await world.run()
    assert world.rasa.calls == []
    row = world.row("survey:R-1001")
    assert (row.status, row.payload["result"]) == (FollowUpStatus.CANCELLED, "too_late")
    assert world.invitation().status == InvitationStatus.EXPIRED


async def test_survey_invite_scheduler_down_three_days_cancels_but_not_at_the_limit(world: World) -> None:
    world.stay()
    world.link()
    due = world.check_out()
    world.clock.set(due + timedelta(days=3))
    await world.run()
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite")]  # exactly three days late: still sent
    world.stay(ref="R-2002", arrival="2026-03-25", departure="2026-03-28",
               guest=GuestData(first_name="Bo", last_name="Ek", email="bo@example.se"))
    world.link(ref="R-2002", external_id="2002")
    world.clock.set(datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc))
    due2 = world.check_out(ref="R-2002")
    world.clock.set(due2 + timedelta(days=3, minutes=1))
    await world.run()
    assert world.row("survey:R-2002").payload["result"] == "too_late"
    assert len(world.rasa.calls) == 1


# ---------------------------------------------------------------- fatigue rules


async def test_survey_invite_second_survey_within_thirty_days_is_skipped(world: World) -> None:
    world.stay(ref="R-1001", arrival="2026-03-01", departure="2026-03-04")
    world.link()
    world.clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=timezone.utc))
    due = world.check_out(ref="R-1001")
    world.clock.set(due)
    await world.run()
    assert world.invitation("R-1001").status == InvitationStatus.SENT
    world.clock.set(datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc))  # 24 days later, the same guest again
    world.stay(ref="R-3003", arrival="2026-03-25", departure="2026-03-28")
    due = world.check_out(ref="R-3003")
    world.clock.set(due)
    await world.run()
    row = world.row("survey:R-3003")
    assert (row.status, row.payload["result"]) == (FollowUpStatus.CANCELLED, "recently_surveyed")
    assert world.invitation("R-3003").status == InvitationStatus.CANCELLED
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite")]


async def test_survey_invite_after_thirty_days_is_sent_again(world: World) -> None:
    world.stay(ref="R-1001", arrival="2026-02-20", departure="2026-02-24")
    world.link()
    world.clock.set(datetime(2026, 2, 24, 9, 0, tzinfo=timezone.utc))
    world.clock.set(world.check_out(ref="R-1001"))
    await world.run()
    world.clock.set(datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc))  # 32 days after that invitation
    world.stay(ref="R-3003", arrival="2026-03-25", departure="2026-03-28")
    world.clock.set(world.check_out(ref="R-3003"))
    await world.run()
    assert world.row("survey:R-3003").payload["result"] == "sent"
    assert len(world.rasa.calls) == 2


async def test_survey_invite_opted_out_guest_is_skipped(world: World) -> None:
    world.stay()
    world.link()
    consent.opt_out(world.uow(), world.clock, "tg", "1001", source="telegram:/stop")
    world.clock.set(world.check_out())
    await world.run()
    assert world.rasa.calls == []
    row = world.row("survey:R-1001")
    assert (row.status, row.payload["result"]) == (FollowUpStatus.CANCELLED, "opted_out")


async def test_survey_invite_guest_without_linked_chat_is_skipped(world: World) -> None:
    world.stay()
    world.clock.set(world.check_out())
    await world.run()
    assert world.rasa.calls == []
    assert world.row("survey:R-1001").payload["result"] == "no_identity"
    assert world.invitation().status == InvitationStatus.CANCELLED


async def test_survey_invite_rasa_down_is_retried_then_sent_once(world: World) -> None:
    world.stay()
    world.link()
    world.clock.set(world.check_out())
    world.rasa.failures = 1
    await world.run()
    row = world.row("survey:R-1001")
    assert (row.status, row.attempts) == (FollowUpStatus.PENDING, 1)
    world.clock.set(row.due_at)
    await world.run()
    assert world.row("survey:R-1001").status == FollowUpStatus.SENT
    assert len(world.rows(SurveyInvitation)) == 1
    assert len(world.rows(OutboundMessage, OutboundMessage.channel == "tg")) == 1


# ---------------------------------------------------------------- reminder


async def test_survey_reminder_goes_once_when_unanswered(world: World) -> None:
    world.stay()
    world.link()
    world.clock.set(world.check_out())
    await world.run()
    world.clock.advance(timedelta(days=2))
    await world.run()
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite"), ("tg:1001", "EXTERNAL_survey_reminder")]
    invitation = world.invitation()
    assert (invitation.status, invitation.reminded_at) == (InvitationStatus.REMINDED, world.clock.now())
    world.clock.advance(timedelta(days=5))
    await world.run()
    assert len(world.rasa.calls) == 2


async def test_survey_reminder_cancelled_when_the_guest_answers(world: World) -> None:
    world.stay()
    world.link()
    world.clock.set(world.check_out())
    await world.run()
    world.clock.advance(timedelta(hours=3))
    surveys.save_survey_answers(world.uow(), world.clock, "tg", "1001", answers={"nps": 9})
    assert world.row("survey-reminder:R-1001").status == FollowUpStatus.CANCELLED
    world.clock.advance(timedelta(days=2))
    await world.run()
    assert world.intents() == [("tg:1001", "EXTERNAL_survey_invite")]


async def test_survey_reminder_answered_meanwhile_is_skipped(world: World) -> None:
    world.stay()
    world.link()
    world.clock.set(world.check_out())
    await world.run()
    with world.sessions() as session:  # the reminder row is still pending (e.g. a race with the answer)
        session.execute(update(SurveyInvitation).values(status=InvitationStatus.ANSWERED))
        session.commit()
    world.clock.advance(timedelta(days=2))
    await world.run()
    row = world.row("survey-reminder:R-1001")
    assert (row.status, row.payload["result"]) == (FollowUpStatus.CANCELLED, "answered")
    assert len(world.rasa.calls) == 1


# ---------------------------------------------------------------- outcomes reach staff


async def test_survey_detractor_alerts_staff_with_answers_and_stay(world: World) -> None:
    world.stay()
    world.link()
    world.clock.set(world.check_out())
    await world.run()
    result = surveys.record_survey(world.uow(), world.clock, world.policy, "tg", "1001", nps=3, service=2,
                                   facilities=4, cleanliness=1, value=3, comment="dusty room",
                                   topics=["cleanliness"], sentiment="negative")
    await world.run()
    staff = world.rows(OutboundMessage, OutboundMessage.channel == "staff")
    kinds = sorted(m.body["type"] for m in staff)
    assert kinds == ["case_alert", "feedback_alert"]
    case = next(m for m in staff if m.body["type"] == "case_alert")
    assert (case.body["event"], case.body["reference"]) == ("complaint_opened", result.recovery_reference)
    alert = next(m.body for m in staff if m.body["type"] == "feedback_alert")
    assert alert["reference"] == result.recovery_reference and alert["nps"] == 3
    assert alert["aspects"] == {"service": 2, "facilities": 4, "cleanliness": 1, "value": 3}
    assert alert["comment"] == "dusty room" and alert["reasons"] == ["detractor", "low_service", "low_cleanliness"]
    assert (alert["reservation_ref"], alert["room"], alert["arrival"], alert["departure"]) == (
        "R-1001", "412", "2026-03-25", "2026-03-28")
    assert alert["guest"] == "Ann Lee"
    assert world.row(f"sla-ack:{result.recovery_reference}").status == FollowUpStatus.PENDING


# ---------------------------------------------------------------- pulse check


async def test_pulse_check_day_two_at_five_asks_and_low_score_alerts_staff(world: World) -> None:
    world.clock.set(datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc))
    world.stay(ref="R-5005", arrival="2026-06-01", departure="2026-06-04")
    world.link(ref="R-5005", external_id="5005")
    check_in(world.uow(), world.clock, reference="R-5005", timing=world.timing)
    row = world.row("pulse:R-5005")
    assert row.due_at == datetime(2026, 6, 2, 15, 0, tzinfo=timezone.utc)  # day 2, 17:00 CEST
    world.clock.set(row.due_at)
    await world.run()
    assert world.intents() == [("tg:5005", "EXTERNAL_pulse_check")]
    assert world.row("pulse:R-5005").payload["result"] == "sent"
    result = pulse.record_pulse(world.uow(), world.clock, world.policy, "tg", "5005", score=2)
    assert result.staff_alerted and result.reservation_ref == "R-5005"
    assert world.row("pulse:R-5005").payload["answer"] == 2
    await world.run()
    [alert] = [m for m in world.rows(OutboundMessage, OutboundMessage.channel == "staff")]
    assert alert.body["type"] == "feedback_alert" and alert.body["source"] == "pulse"
    assert (alert.body["score"], alert.body["room"], alert.body["in_house"]) == (2, "412", True)
    assert alert.recipient == "front_desk"


async def test_pulse_check_good_score_alerts_nobody(world: World) -> None:
    world.clock.set(datetime(2026, 6, 2, 15, 0, tzinfo=timezone.utc))
    world.stay(ref="R-5005", arrival="2026-06-01", departure="2026-06-05", status="in_house")
    world.link(ref="R-5005", external_id="5005")
    assert not pulse.record_pulse(world.uow(), world.clock, world.policy, "tg", "5005", score=4).staff_alerted
    assert world.rows(FollowUp, FollowUp.kind == "feedback_alert") == []


async def test_pulse_check_not_scheduled_for_two_nights(world: World) -> None:
    world.clock.set(datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc))
    world.stay(ref="R-5005", arrival="2026-06-01", departure="2026-06-03")
    check_in(world.uow(), world.clock, reference="R-5005", timing=world.timing)
    assert world.rows(FollowUp, FollowUp.kind == "pulse_check") == []


async def test_pulse_check_guest_gone_or_moved_is_cancelled_or_deferred(world: World) -> None:
    world.clock.set(datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc))
    world.stay(ref="R-5005", arrival="2026-06-01", departure="2026-06-04")
    world.link(ref="R-5005", external_id="5005")
    check_in(world.uow(), world.clock, reference="R-5005", timing=world.timing)
    world.stay(ref="R-5005", arrival="2026-06-02", departure="2026-06-06")  # the PMS moved the dates
    world.clock.set(datetime(2026, 6, 2, 15, 0, tzinfo=timezone.utc))
    await world.run()
    assert world.rasa.calls == []
    assert world.row("pulse:R-5005").due_at == datetime(2026, 6, 3, 15, 0, tzinfo=timezone.utc)
    check_out(world.uow(), world.clock, reference="R-5005", timing=world.timing)
    world.clock.set(datetime(2026, 6, 3, 15, 0, tzinfo=timezone.utc))
    await world.run()
    row = world.row("pulse:R-5005")
    assert (row.status, row.payload["result"]) == (FollowUpStatus.CANCELLED, "stay_over")
    assert ("tg:5005", "EXTERNAL_pulse_check") not in world.intents()
