"""Record post-stay survey answers and open a recovery complaint for detractors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import InvitationStatus, SurveyResponse
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import open_complaint_for_guest
from crm_store.services.guests import resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 4000
ASPECTS: tuple[str, ...] = ("service", "facilities", "cleanliness", "value")
ASPECT_TO_CATEGORY: dict[str, str] = {
    "service": "staff",
    "facilities": "amenities",
    "cleanliness": "cleanliness",
    "value": "billing",
}


@dataclass(frozen=True)
class SurveyResult:
    """Describe a recorded survey: its NPS group and the recovery complaint, if one was opened."""

    response_id: int
    nps: int
    nps_group: str
    recovery_reference: str | None


def nps_group(nps: int) -> str:
    """Classify an NPS score: 9–10 promoter, 7–8 passive, 0–6 detractor."""
    if nps >= 9:
        return "promoter"
    if nps >= 7:
        return "passive"
    return "detractor"


def _score(field: str, value: int | None, low: int, high: int, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise ValidationError(field, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"expected a whole number from {low} to {high}")
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


def recovery_category(aspects: dict[str, int | None]) -> str:
    """Return the complaint category of the single lowest aspect; a tie or no aspect gives ``other``."""
    given = {name: score for name, score in aspects.items() if score is not None}
    if not given:
        return "other"
    lowest = min(given.values())
    worst = [name for name, score in given.items() if score == lowest]
    return ASPECT_TO_CATEGORY[worst[0]] if len(worst) == 1 else "other"


def recovery_description(nps: int, aspects: dict[str, int | None], comment: str | None) -> str:
    """Summarise a detractor's scores and comment for staff."""
    scores = ", ".join(
        f"{name} {score}/5" if score is not None else f"{name} n/a" for name, score in aspects.items()
    )
    text = f"Survey detractor: NPS {nps}/10; {scores}."
    if comment:
        text += f" Comment: {comment}"
    return text


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
    """Store a completed survey; a detractor (NPS 0–6) opens a recovery complaint in the same transaction."""
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
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        stay = uow.stays.latest_started_for(guest.id, now)
        invitation = uow.surveys.open_invitation(guest.id, stay.id if stay else None)
        if invitation is None and stay is None:
            invitation = uow.surveys.open_invitation(guest.id, None)
        response = uow.surveys.add(
            SurveyResponse(
                guest_id=guest.id,
                stay_id=stay.id if stay else (invitation.stay_id if invitation else None),
                invitation_id=invitation.id if invitation else None,
                nps=checked_nps,
                comment=cleaned_comment,
                topics=topic_list,
                sentiment=sentiment,
                completed=True,
                submitted_at=now,
                created_at=now,
                updated_at=now,
                **aspects,
            )
        )
        if invitation is not None:
            invitation.status = InvitationStatus.ANSWERED
            invitation.answered_at = now
            invitation.updated_at = now
        recovery_reference: str | None = None
        if group == "detractor":
            complaint = open_complaint_for_guest(
                uow,
                now,
                policy,
                guest,
                category=recovery_category(aspects),
                severity="high" if checked_nps <= 3 else "medium",
                room=None,
                description=recovery_description(checked_nps, aspects, cleaned_comment),
                actor="survey",
                stay=stay,
                detail={"survey_response_id": response.id, "nps": checked_nps},
            )
            response.recovery_reference = complaint.reference
            recovery_reference = complaint.reference
        uow.session.flush()
        result = SurveyResult(
            response_id=response.id,
            nps=checked_nps,
            nps_group=group,
            recovery_reference=recovery_reference,
        )
        uow.commit()
    log.info("survey %s recorded: group=%s guest=%s", result.response_id, group, guest.id)
    return result
