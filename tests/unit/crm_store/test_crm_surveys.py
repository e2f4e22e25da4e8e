"""Test recording surveys and the detractor recovery complaint."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.errors import ValidationError
from crm_store.model import (
    Complaint,
    ComplaintEvent,
    FollowUp,
    InvitationStatus,
    StayStatus,
    SurveyInvitation,
    SurveyResponse,
)
from crm_store.services import surveys as surveys_module
from crm_store.services.complaints import get_complaint
from crm_store.services.surveys import nps_group, record_survey


def _survey(uow, clock, policy, **overrides):
    arguments = {"nps": 9, "service": 5, "facilities": 4, "cleanliness": 5, "value": 4, "comment": "Lovely"}
    arguments.update(overrides)
    return record_survey(uow, clock, policy, "tg", "1001", **arguments)


@pytest.mark.parametrize(
    ("nps", "group"), [(10, "promoter"), (9, "promoter"), (8, "passive"), (7, "passive"), (6, "detractor"), (0, "detractor")]
)
def test_nps_group_score_gives_group(nps, group) -> None:
    assert nps_group(nps) == group


def test_record_survey_promoter_stores_completed_response_without_complaint(uow, clock, policy, db) -> None:
    result = _survey(uow, clock, policy, comment="  Lovely stay!  ")
    assert (result.nps, result.nps_group, result.recovery_reference) == (9, "promoter", None)
    response = db.all(SurveyResponse)[0]
    assert response.completed is True
    assert response.comment == "Lovely stay!"
    assert (response.service, response.facilities, response.cleanliness, response.value) == (5, 4, 5, 4)
    assert response.submitted_at == clock.now()
    assert db.count(Complaint) == 0
    assert db.count(FollowUp) == 0


def test_record_survey_passive_opens_no_complaint(uow, clock, policy, db) -> None:
    assert _survey(uow, clock, policy, nps=7).recovery_reference is None
    assert db.count(Complaint) == 0


def test_record_survey_detractor_opens_recovery_complaint_same_transaction(uow, clock, policy, db) -> None:
    result = _survey(uow, clock, policy, nps=5, service=2, facilities=4, cleanliness=3, value=4, comment="Rude desk")
    assert result.nps_group == "detractor"
    assert result.recovery_reference is not None
    complaint = get_complaint(uow, result.recovery_reference)
    assert complaint.category == "staff"
    assert complaint.severity == "medium"
    assert "NPS 5/10" in complaint.description and "service 2/5" in complaint.description
    assert "Rude desk" in complaint.description
    response = db.all(SurveyResponse)[0]
    assert response.recovery_reference == result.recovery_reference
    events = db.all(ComplaintEvent)
    assert [(e.kind, e.actor) for e in events] == [("opened", "survey")]
    assert events[0].detail["survey_response_id"] == result.response_id
    ref = result.recovery_reference
    assert [f.idempotency_key for f in db.all(FollowUp)] == [
        f"sla-ack:{ref}", f"staff-alert:{ref}:{events[0].id}", f"feedback-alert:survey:{result.response_id}"]


@pytest.mark.parametrize(
    ("scores", "category"),
    [
        ({"service": 4, "facilities": 1, "cleanliness": 3, "value": 3}, "amenities"),
        ({"service": 4, "facilities": 4, "cleanliness": 2, "value": 3}, "cleanliness"),
        ({"service": 4, "facilities": 4, "cleanliness": 4, "value": 1}, "billing"),
        ({"service": 2, "facilities": 2, "cleanliness": 4, "value": 4}, "other"),
        ({"service": None, "facilities": None, "cleanliness": None, "value": None}, "other"),
        ({"service": None, "facilities": 3, "cleanliness": None, "value": None}, "amenities"),
    ],
)
def test_record_survey_detractor_lowest_aspect_gives_category(uow, clock, policy, scores, category) -> None:
    result = _survey(uow, clock, policy, nps=6, **scores)
    assert get_complaint(uow, result.recovery_reference).category == category


@pytest.mark.parametrize(("nps", "severity"), [(0, "high"), (3, "high"), (4, "medium"), (6, "medium")])
def test_record_survey_detractor_score_gives_severity(uow, clock, policy, nps, severity) -> None:
    result = _survey(uow, clock, policy, nps=nps)
    assert get_complaint(uow, result.recovery_reference).severity == severity


@pytest.mark.parametrize(
    "overrides",
    [
        {"nps": 11},
        {"nps": -1},
        {"nps": None},
        {"nps": True},
        {"nps": 7.5},
        {"service": 0},
        {"facilities": 6},
        {"cleanliness": "5"},
        {"comment": "x" * 4001},
    ],
)
def test_record_survey_out_of_range_raises_and_writes_nothing(uow, clock, policy, db, overrides) -> None:
    with pytest.raises(ValidationError):
        _survey(uow, clock, policy, **overrides)
    assert db.count(SurveyResponse) == 0


def test_record_survey_blank_comment_stored_as_none(uow, clock, policy, db) -> None:
    _survey(uow, clock, policy, comment="   ")
    assert db.all(SurveyResponse)[0].comment is None


def test_record_survey_open_invitation_marked_answered(uow, clock, policy, db, guest_id) -> None:
    stay_id = db.add_stay(
        guest_id, ref="R-9", arrival=clock.now() - timedelta(days=4), nights=3, status=StayStatus.CHECKED_OUT
    )
    with db.session_factory() as session:
        session.add(SurveyInvitation(guest_id=guest_id, stay_id=stay_id, status=InvitationStatus.SENT, sent_at=clock.now()))
        session.commit()
    result = _survey(uow, clock, policy, nps=2, topics=["noise", "breakfast", "noise"], sentiment="negative")
    invitation = db.all(SurveyInvitation)[0]
    assert invitation.status == InvitationStatus.ANSWERED
    assert invitation.answered_at == clock.now()
    response = db.all(SurveyResponse)[0]
    assert (response.stay_id, response.invitation_id) == (stay_id, invitation.id)
    assert response.topics == ["breakfast", "noise"]
    assert response.sentiment == "negative"
    complaint = db.all(Complaint)[0]
    assert complaint.reference == result.recovery_reference
    assert complaint.stay_id == stay_id
    assert complaint.room == "412"


def test_record_survey_recovery_failure_rolls_back_response(uow, clock, policy, db, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("complaint store down")

    monkeypatch.setattr(surveys_module, "open_complaint_for_guest", broken)
    with pytest.raises(RuntimeError):
        _survey(uow, clock, policy, nps=1)
    assert db.count(SurveyResponse) == 0
    assert db.count(Complaint) == 0
