"""Test partial survey answers (kept as given, resumed, completed), low-aspect outcomes and the survey policy keys."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from crm_store.errors import ValidationError
from crm_store.model import Complaint, FollowUp, FollowUpStatus, InvitationStatus, StayStatus, SurveyInvitation, SurveyResponse
from crm_store.recovery_policy import PolicyError, parse_policy
from crm_store.services.surveys import (
    get_survey_draft,
    record_survey,
    recovery_severity,
    save_survey_answers,
)


def _invite(db, guest_id, clock, ref="R-9"):
    stay_id = db.add_stay(guest_id, ref=ref, arrival=clock.now() - timedelta(days=4), nights=3,
                          status=StayStatus.CHECKED_OUT)
    with db.session_factory() as session:
        invitation = SurveyInvitation(guest_id=guest_id, stay_id=stay_id, status=InvitationStatus.SENT,
                                      sent_at=clock.now())
        session.add(invitation)
        session.add(FollowUp(kind="survey_reminder", subject=ref, due_at=clock.now() + timedelta(days=2),
                             idempotency_key=f"survey-reminder:{ref}", status=FollowUpStatus.PENDING, attempts=0))
        session.commit()
        return stay_id, invitation.id


def test_save_survey_answers_partial_round_trip_resumes_and_completes(uow, clock, policy, db, guest_id) -> None:
    stay_id, invitation_id = _invite(db, guest_id, clock)
    save_survey_answers(uow, clock, "tg", "1001", answers={"nps": 8})
    clock.advance(timedelta(minutes=1))
    save_survey_answers(uow, clock, "tg", "1001", answers={"service": 4, "facilities": None})
    [draft] = db.all(SurveyResponse)
    assert (draft.completed, draft.nps, draft.service, draft.facilities) == (False, 8, 4, None)
    assert (draft.stay_id, draft.invitation_id) == (stay_id, invitation_id)
    assert db.all(FollowUp)[0].status == FollowUpStatus.CANCELLED  # the reminder: the guest answered

    clock.advance(timedelta(days=1))  # the guest comes back the next day
    resumed = get_survey_draft(uow, clock, "tg", "1001")
    assert resumed is not None and resumed.answers == {"nps": 8, "service": 4}

    result = record_survey(uow, clock, policy, "tg", "1001", nps=8, service=4, facilities=5, cleanliness=5,
                           value=4, comment="Nice", topics=["staff"], sentiment="positive")
    [response] = db.all(SurveyResponse)
    assert response.id == result.response_id == draft.id
    assert (response.completed, response.submitted_at, response.facilities) == (True, clock.now(), 5)
    assert (response.topics, response.sentiment) == (["staff"], "positive")
    assert db.all(SurveyInvitation)[0].status == InvitationStatus.ANSWERED
    assert get_survey_draft(uow, clock, "tg", "1001") is None


def test_get_survey_draft_unknown_guest_or_nothing_answered_is_none(uow, clock, guest_id) -> None:
    assert get_survey_draft(uow, clock, "tg", "nobody") is None
    assert get_survey_draft(uow, clock, "tg", "1001") is None
    assert save_survey_answers(uow, clock, "tg", "1001", answers={"comment": "  "}).answers == {}


def test_get_survey_draft_older_than_thirty_days_is_not_resumed(uow, clock, guest_id) -> None:
    save_survey_answers(uow, clock, "tg", "1001", answers={"nps": 4})
    clock.advance(timedelta(days=31))
    assert get_survey_draft(uow, clock, "tg", "1001") is None


@pytest.mark.parametrize("answers", [{"nps": 11}, {"service": 0}, {"value": "5"}, {"mood": 3}, {"comment": "x" * 4001}])
def test_save_survey_answers_invalid_raises_and_writes_nothing(uow, clock, db, guest_id, answers) -> None:
    with pytest.raises(ValidationError):
        save_survey_answers(uow, clock, "tg", "1001", answers=answers)
    assert db.count(SurveyResponse) == 0


def test_record_survey_promoter_with_a_low_aspect_opens_a_case(uow, clock, policy, db, guest_id) -> None:
    result = record_survey(uow, clock, policy, "tg", "1001", nps=9, service=5, facilities=5, cleanliness=2,
                           value=5, comment=None)
    assert result.nps_group == "promoter"
    assert result.alert_reasons == ("low_cleanliness",)
    [complaint] = db.all(Complaint)
    assert (complaint.reference, complaint.category.value, complaint.severity.value) == (
        result.recovery_reference, "cleanliness", "low")
    assert complaint.description.startswith("Survey low score: NPS 9/10")
    keys = sorted(f.idempotency_key.split(":")[0] for f in db.all(FollowUp))
    assert keys == ["feedback-alert", "sla-ack", "staff-alert"]


def test_record_survey_passive_without_low_aspect_alerts_nobody(uow, clock, policy, db) -> None:
    result = record_survey(uow, clock, policy, "tg", "1001", nps=7, service=3, facilities=3, cleanliness=3,
                           value=3, comment=None)
    assert (result.recovery_reference, result.alert_reasons) == (None, ())
    assert db.count(FollowUp) == 0


@pytest.mark.parametrize(("nps", "aspects", "severity"), [
    (2, {"service": 5}, "high"), (5, {"service": 5}, "medium"), (8, {"service": 1}, "medium"),
    (8, {"service": 2}, "low"),
])
def test_recovery_severity_by_scores(nps, aspects, severity) -> None:
    assert recovery_severity(nps, aspects) == severity


def test_policy_surveys_section_defaults_and_values() -> None:
    default = parse_policy({}).surveys
    assert (default.invite_day_offset, default.invite_time, default.invite_delay) == (1, time(10, 0), None)
    assert (default.fatigue_window, default.max_late, default.pulse_day, default.pulse_min_nights) == (
        timedelta(days=30), timedelta(days=3), 2, 3)
    custom = parse_policy({"surveys": {"invite_day_offset": 0, "invite_time": "18:30", "invite_delay": "5s",
                                       "reminder_after": "1d", "pulse_delay": None}}).surveys
    assert (custom.invite_day_offset, custom.invite_time, custom.invite_delay, custom.reminder_after) == (
        0, time(18, 30), timedelta(seconds=5), timedelta(days=1))


@pytest.mark.parametrize(("section", "key"), [
    ({"invite_time": "25:00"}, "surveys.invite_time"),
    ({"invite_day_offset": -1}, "surveys.invite_day_offset"),
    ({"reminder_after": "soon"}, "surveys.reminder_after"),
    ({"pulse_day": 4}, "surveys.pulse_day"),
    ({"colour": "blue"}, "surveys.colour"),
])
def test_policy_surveys_bad_value_names_the_key(section, key) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        parse_policy({"surveys": section})
