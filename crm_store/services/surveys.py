"""Record post-stay survey answers as they are given, complete the survey, and act on bad scores.

Answers are kept as they come: each answer updates the guest's draft ``SurveyResponse``
(``completed=False``), so a guest who stops half-way can come back and continue where they left off
(``get_survey_draft``). ``record_survey`` completes the draft (or stores a new response) and, in the
same transaction, marks the invitation answered, cancels its pending reminder and, for a detractor
(NPS 0–6) or any aspect scored 1–2, opens a recovery case (complaint + SLA follow-up + ``complaint_opened``
staff alert, as ``cases.open_case`` does) and schedules a ``feedback_alert`` carrying the answers and the
stay. The first answer to an invitation also cancels its reminder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import (
    FollowUp,
    FollowUpStatus,
    Guest,
    InvitationStatus,
    Stay,
    SurveyInvitation,
    SurveyResponse,
)
from crm_store.policy import SlaPolicy
from crm_store.recovery_policy import RecoveryPolicy, as_recovery_policy
from crm_store.services import cases
from crm_store.services.complaints import open_complaint_for_guest
from crm_store.services.feedback_alerts import SOURCE_SURVEY, schedule_feedback_alert, stay_facts
from crm_store.services.guests import find_guest, resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 4000
ASPECTS: tuple[str, ...] = ("service", "facilities", "cleanliness", "value")
ANSWER_FIELDS: tuple[str, ...] = ("nps", *ASPECTS, "comment")
ASPECT_TO_CATEGORY: dict[str, str] = {
    "service": "staff",
    "facilities": "amenities",
    "cleanliness": "cleanliness",
    "value": "billing",
}
LOW_ASPECT_MAX = 2  # an aspect scored 1 or 2 alerts staff whatever the NPS
DRAFT_MAX_AGE = timedelta(days=30)  # an older unfinished survey is not resumed
KIND_SURVEY_REMINDER = "survey_reminder"


@dataclass(frozen=True)
class SurveyResult:
    """Describe a recorded survey: its NPS group, the recovery complaint if one was opened, and why."""

    response_id: int
    nps: int
    nps_group: str
    recovery_reference: str | None
    alert_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SurveyDraft:
    """Hold the answers an unfinished survey already has (only the answered questions)."""

    response_id: int
    answers: dict[str, Any] = field(default_factory=dict)


def nps_group(nps: int) -> str:
    """Classify an NPS score: 9–10 promoter, 7–8 passive, 0–6 detractor."""
    if nps >= 9:
        return "promoter"
    if nps >= 7:
        return "passive"
    return "detractor"


def reminder_key(reference: str) -> str:
    """Return the idempotency key of the reminder of a reservation's survey invitation."""
    return f"survey-reminder:{reference}"


def _score(field_name: str, value: int | None, low: int, high: int, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise ValidationError(field_name, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field_name, f"expected a whole number from {low} to {high}")
    return value


def _clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValidationError("comment", "expected text")
    cleaned = comment.strip()
    if len(cleaned) > COMMENT_MAX_LENGTH:
        raise ValidationError("comment", f"longer than {COMMENT_MAX_LENGTH} characters")
    return cleaned or None


def check_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a partial set of answers (None values are dropped); raise ValidationError on a bad one."""
    checked: dict[str, Any] = {}
    for name, value in answers.items():
        if name not in ANSWER_FIELDS:
            raise ValidationError(name, f"unknown survey question (expected one of {', '.join(ANSWER_FIELDS)})")
        if value is None:
            continue
        if name == "nps":
            checked[name] = _score(name, value, 0, 10, required=True)
        elif name == "comment":
            cleaned = _clean_comment(value)
            if cleaned is not None:
                checked[name] = cleaned
        else:
            checked[name] = _score(name, value, 1, 5, required=True)
    return checked


def recovery_category(aspects: dict[str, int | None]) -> str:
    """Return the complaint category of the single lowest aspect; a tie or no aspect gives ``other``."""
    given = {name: score for name, score in aspects.items() if score is not None}
    if not given:
        return "other"
    lowest = min(given.values())
    worst = [name for name, score in given.items() if score == lowest]
    return ASPECT_TO_CATEGORY[worst[0]] if len(worst) == 1 else "other"


def alert_reasons(nps: int, aspects: Mapping[str, int | None]) -> tuple[str, ...]:
    """Return why a survey needs staff: ``detractor`` and/or ``low_<aspect>`` for each aspect scored 1–2."""
    reasons = ["detractor"] if nps_group(nps) == "detractor" else []
    reasons.extend(f"low_{name}" for name, score in aspects.items() if score is not None and score <= LOW_ASPECT_MAX)
    return tuple(reasons)


def recovery_severity(nps: int, aspects: Mapping[str, int | None]) -> str:
    """Return the recovery case's severity: NPS 0–3 high, other detractors medium; else medium for a 1, low."""
    if nps <= 3:
        return "high"
    if nps_group(nps) == "detractor":
        return "medium"
    return "medium" if any(score == 1 for score in aspects.values()) else "low"


def recovery_description(nps: int, aspects: dict[str, int | None], comment: str | None) -> str:
    """Summarise a detractor's (or a low aspect's) scores and comment for staff."""
    scores = ", ".join(
        f"{name} {score}/5" if score is not None else f"{name} n/a" for name, score in aspects.items()
    )
    label = "Survey detractor" if nps_group(nps) == "detractor" else "Survey low score"
    text = f"{label}: NPS {nps}/10; {scores}."
    if comment:
        text += f" Comment: {comment}"
    return text


# ---------------------------------------------------------------- inside a unit of work


def _survey_context(uow: SqlUnitOfWork, guest: Guest, now: datetime) -> tuple[Stay | None, SurveyInvitation | None]:
    """Return the stay the survey is about (latest begun) and its open invitation, if any."""
    stay = uow.stays.latest_started_for(guest.id, now)
    invitation = uow.surveys.open_invitation(guest.id, stay.id if stay else None)
    if invitation is None and stay is None:
        invitation = uow.surveys.open_invitation(guest.id, None)
    if stay is None and invitation is not None:
        stay = uow.session.get(Stay, invitation.stay_id)
    return stay, invitation


def open_draft(uow: SqlUnitOfWork, guest_id: int, now: datetime) -> SurveyResponse | None:
    """Return the guest's newest unfinished survey started within DRAFT_MAX_AGE, if any."""
    return (
        uow.session.execute(
            select(SurveyResponse)
            .where(
                SurveyResponse.guest_id == guest_id,
                SurveyResponse.completed.is_(False),
                SurveyResponse.created_at >= now - DRAFT_MAX_AGE,
            )
            .order_by(SurveyResponse.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def _answers_of(row: SurveyResponse) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ANSWER_FIELDS if getattr(row, name) is not None}


def cancel_reminder(uow: SqlUnitOfWork, now: datetime, invitation: SurveyInvitation | None) -> int:
    """Cancel the pending reminder of ``invitation`` (the guest answered); return how many were cancelled."""
    if invitation is None:
        return 0
    stay = uow.session.get(Stay, invitation.stay_id)
    if stay is None:
        return 0
    result = uow.session.execute(
        update(FollowUp)
        .where(
            FollowUp.idempotency_key == reminder_key(stay.reservation_ref),
            FollowUp.status == FollowUpStatus.PENDING,
        )
        .values(status=FollowUpStatus.CANCELLED, updated_at=now, last_error="guest answered")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


# ---------------------------------------------------------------- use cases (one transaction each)


def save_survey_answers(
    uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, *, answers: Mapping[str, Any]
) -> SurveyDraft:
    """Keep the answers given so far in the guest's unfinished survey (created on the first answer).

    Validates each answer (None values are ignored) and cancels the invitation's pending reminder.
    """
    checked = check_answers(answers)
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        draft = open_draft(uow, guest.id, now)
        if draft is None:
            if not checked:
                return SurveyDraft(response_id=0, answers={})
            stay, invitation = _survey_context(uow, guest, now)
            draft = uow.surveys.add(
                SurveyResponse(
                    guest_id=guest.id,
                    stay_id=stay.id if stay else None,
                    invitation_id=invitation.id if invitation else None,
                    completed=False,
                    created_at=now,
                    updated_at=now,
                )
            )
        for name, value in checked.items():
            setattr(draft, name, value)
        draft.updated_at = now
        invitation = uow.session.get(SurveyInvitation, draft.invitation_id) if draft.invitation_id else None
        cancel_reminder(uow, now, invitation)
        uow.session.flush()
        result = SurveyDraft(response_id=draft.id, answers=_answers_of(draft))
        uow.commit()
    log.debug("survey draft %s saved (%d answers)", result.response_id, len(result.answers))
    return result


def get_survey_draft(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str) -> SurveyDraft | None:
    """Return the answers of the guest's unfinished survey, or None (no guest, no draft, or none answered)."""
    now = clock.now()
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return None
        draft = open_draft(uow, guest.id, now)
        if draft is None:
            return None
        answers = _answers_of(draft)
        return SurveyDraft(response_id=draft.id, answers=answers) if answers else None


def _open_recovery_case(
    uow: SqlUnitOfWork,
    now: datetime,
    recovery: RecoveryPolicy,
    guest: Guest,
    stay: Stay | None,
    response: SurveyResponse,
    nps: int,
    aspects: dict[str, int | None],
    comment: str | None,
) -> str:
    """Open the recovery complaint with its SLA clock and ``complaint_opened`` staff alert (as open_case)."""
    complaint = open_complaint_for_guest(
        uow,
        now,
        recovery,
        guest,
        category=recovery_category(aspects),
        severity=recovery_severity(nps, aspects),
        room=None,
        description=recovery_description(nps, aspects, comment),
        actor="survey",
        stay=stay,
        detail={"survey_response_id": response.id, "nps": nps},
    )
    opened = cases._last_event(uow, complaint, "opened")  # noqa: SLF001 - same step as cases.open_case
    assert opened is not None
    cases._alert(uow, now, recovery, complaint, opened, cases.ALERT_OPENED)  # noqa: SLF001
    return str(complaint.reference)


def record_survey(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: SlaPolicy,
    channel: str,
    external_id: str,
    *,
    nps: int,
    service: int | None,
    facilities: int | None,
    cleanliness: int | None,
    value: int | None,
    comment: str | None,
    topics: Sequence[str] | None = None,
    sentiment: str | None = None,
) -> SurveyResult:
    """Complete the guest's survey; a detractor or a low aspect opens a recovery case and alerts staff.

    Everything (response, invitation answered, reminder cancelled, complaint, SLA follow-up, staff alerts)
    is written in ONE transaction.
    """
    checked_nps = _score("nps", nps, 0, 10, required=True)
    assert checked_nps is not None
    aspects = {
        "service": _score("service", service, 1, 5, required=False),
        "facilities": _score("facilities", facilities, 1, 5, required=False),
        "cleanliness": _score("cleanliness", cleanliness, 1, 5, required=False),
        "value": _score("value", value, 1, 5, required=False),
    }
    cleaned_comment = _clean_comment(comment)
    topic_list = sorted({str(t).strip() for t in topics if str(t).strip()}) if topics else None
    if sentiment is not None and (not isinstance(sentiment, str) or len(sentiment) > 16):
        raise ValidationError("sentiment", "expected a short label")
    group = nps_group(checked_nps)
    reasons = alert_reasons(checked_nps, aspects)
    recovery = as_recovery_policy(policy)
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        response = open_draft(uow, guest.id, now)
        if response is not None and response.invitation_id is not None:
            invitation = uow.session.get(SurveyInvitation, response.invitation_id)
            stay = uow.session.get(Stay, response.stay_id) if response.stay_id else None
        else:
            stay, invitation = _survey_context(uow, guest, now)
        if response is None:
            response = uow.surveys.add(
                SurveyResponse(guest_id=guest.id, completed=False, created_at=now, updated_at=now)
            )
        response.stay_id = stay.id if stay else response.stay_id
        response.invitation_id = invitation.id if invitation else response.invitation_id
        response.nps = checked_nps
        for name, score in aspects.items():
            setattr(response, name, score)
        response.comment = cleaned_comment
        response.topics = topic_list
        response.sentiment = sentiment
        response.completed = True
        response.submitted_at = now
        response.updated_at = now
        uow.session.flush()
        if invitation is not None:
            invitation.status = InvitationStatus.ANSWERED
            invitation.answered_at = now
            invitation.updated_at = now
            cancel_reminder(uow, now, invitation)
        recovery_reference: str | None = None
        if reasons:
            recovery_reference = _open_recovery_case(
                uow, now, recovery, guest, stay, response, checked_nps, aspects, cleaned_comment
            )
            response.recovery_reference = recovery_reference
            complaint = uow.complaints.get_by_reference(recovery_reference)
            assert complaint is not None
            schedule_feedback_alert(
                uow,
                now,
                key=f"survey:{response.id}",
                subject=recovery_reference,
                payload={
                    "source": SOURCE_SURVEY,
                    "reference": recovery_reference,
                    "rung": recovery.rung(complaint.category, complaint.severity, 0),
                    "reasons": list(reasons),
                    "nps": checked_nps,
                    "nps_group": group,
                    "aspects": aspects,
                    "comment": cleaned_comment,
                    "topics": topic_list or [],
                    "sentiment": sentiment,
                    "survey_response_id": response.id,
                    **stay_facts(uow, guest, stay, recovery.tz),
                },
            )
        uow.session.flush()
        result = SurveyResult(
            response_id=response.id,
            nps=checked_nps,
            nps_group=group,
            recovery_reference=recovery_reference,
            alert_reasons=reasons,
        )
        uow.commit()
    log.info("survey %s recorded: group=%s guest=%s alerts=%s", result.response_id, group, guest.id, ",".join(reasons))
    return result
