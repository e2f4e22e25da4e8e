"""Decide and record survey invitations and their reminder: the scheduler's side of the survey.

The scheduler's ``survey_invite`` and ``survey_reminder`` handlers call ``plan_*`` (read only, before
triggering Rasa) and then ``record_*`` inside the transaction that settles the follow-up. Fatigue rules,
checked in this order, each counted by its reason in the follow-up's payload (``result``) and, for the
invitation, by a ``SurveyInvitation`` row with status ``cancelled`` (``expired`` when too late):

- ``opted_out``: the guest's latest ``automated_messages`` consent is a withdrawal (``/stop``);
- ``no_identity``: no chat is linked to the guest, so there is nobody to ask;
- ``recently_surveyed``: the guest was invited (or answered a survey) within ``fatigue_window``;
- ``too_late``: more than ``max_late`` after the planned time (``planned_at`` in the payload).

Other reasons: ``stay_gone``, ``not_checked_out``, ``already_invited``; for the reminder ``answered``
(the guest started or finished the survey) and ``stale``. Sent invitations have ``result: sent``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from crm_store.model import (
    InvitationStatus,
    StayStatus,
    SurveyInvitation,
    SurveyResponse,
)
from crm_store.recovery_policy import SurveyRules
from crm_store.services.consent import AUTOMATED_MESSAGES
from crm_store.services.feedback_alerts import guest_sender, note_followup
from crm_store.services.stays import SURVEY_KIND, survey_key
from crm_store.services.surveys import KIND_SURVEY_REMINDER, reminder_key
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

KIND_SURVEY_INVITE = SURVEY_KIND
SENT = "sent"
SKIP_OPTED_OUT = "opted_out"
SKIP_NO_IDENTITY = "no_identity"
SKIP_RECENTLY_SURVEYED = "recently_surveyed"
SKIP_TOO_LATE = "too_late"
SKIP_STAY_GONE = "stay_gone"
SKIP_NOT_CHECKED_OUT = "not_checked_out"
SKIP_ALREADY_INVITED = "already_invited"
SKIP_ANSWERED = "answered"
SKIP_STALE = "stale"
FATIGUE_REASONS: tuple[str, ...] = (SKIP_OPTED_OUT, SKIP_NO_IDENTITY, SKIP_RECENTLY_SURVEYED, SKIP_TOO_LATE)


@dataclass(frozen=True)
class InvitePlan:
    """Say whether to message the guest (``send``, to ``sender``) or why not (``reason``)."""

    send: bool
    reason: str | None = None
    sender: str | None = None

    @classmethod
    def skip(cls, reason: str) -> InvitePlan:
        """Return a do-not-send plan."""
        return cls(False, reason, None)


def parse_planned_at(value: object) -> datetime | None:
    """Return the payload's ``planned_at`` ISO timestamp as an aware datetime, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def opted_out(uow: SqlUnitOfWork, guest_id: int) -> bool:
    """Tell whether the guest's latest decision about automated messages withdrew consent."""
    latest = uow.consents.latest(guest_id, AUTOMATED_MESSAGES)
    return latest is not None and not latest.granted


def surveyed_since(uow: SqlUnitOfWork, guest_id: int, since: datetime, *, other_than_stay: int | None) -> bool:
    """Tell whether the guest was sent a survey, or finished one, at or after ``since``."""
    invited = uow.session.execute(
        select(SurveyInvitation.id).where(
            SurveyInvitation.guest_id == guest_id,
            SurveyInvitation.sent_at >= since,
            SurveyInvitation.stay_id != (other_than_stay or -1),
        ).limit(1)
    ).first()
    if invited is not None:
        return True
    answered = uow.session.execute(
        select(SurveyResponse.id).where(
            SurveyResponse.guest_id == guest_id,
            SurveyResponse.completed.is_(True),
            SurveyResponse.submitted_at >= since,
        ).limit(1)
    ).first()
    return answered is not None


def _invitation(uow: SqlUnitOfWork, stay_id: int) -> SurveyInvitation | None:
    return uow.session.execute(
        select(SurveyInvitation).where(SurveyInvitation.stay_id == stay_id)
    ).scalar_one_or_none()


def plan_invitation(
    uow: SqlUnitOfWork, now: datetime, reference: str, *, planned_at: datetime | None, rules: SurveyRules
) -> InvitePlan:
    """Decide whether the stay's guest gets the survey now, applying the fatigue rules (reads only)."""
    stay = uow.stays.get_by_reference(reference)
    if stay is None:
        return InvitePlan.skip(SKIP_STAY_GONE)
    if StayStatus(stay.status) is not StayStatus.CHECKED_OUT:
        return InvitePlan.skip(SKIP_NOT_CHECKED_OUT)
    existing = _invitation(uow, stay.id)
    if existing is not None and InvitationStatus(existing.status) is not InvitationStatus.PENDING:
        return InvitePlan.skip(SKIP_ALREADY_INVITED)
    if opted_out(uow, stay.guest_id):
        return InvitePlan.skip(SKIP_OPTED_OUT)
    sender = guest_sender(uow, stay.guest_id)
    if sender is None:
        return InvitePlan.skip(SKIP_NO_IDENTITY)
    if surveyed_since(uow, stay.guest_id, now - rules.fatigue_window, other_than_stay=stay.id):
        return InvitePlan.skip(SKIP_RECENTLY_SURVEYED)
    if planned_at is not None and now - planned_at > rules.max_late:
        return InvitePlan.skip(SKIP_TOO_LATE)
    return InvitePlan(True, None, sender)


def record_invitation_sent(
    uow: SqlUnitOfWork, now: datetime, reference: str, sender: str, *, rules: SurveyRules
) -> bool:
    """Record the invitation as sent and schedule its one reminder; False if it no longer applies."""
    stay = uow.stays.get_by_reference(reference)
    if stay is None:
        return False
    invitation = _invitation(uow, stay.id)
    if invitation is not None and InvitationStatus(invitation.status) is not InvitationStatus.PENDING:
        return False
    if invitation is None:
        invitation = uow.surveys.add(
            SurveyInvitation(guest_id=stay.guest_id, stay_id=stay.id, created_at=now, updated_at=now)
        )
    invitation.status = InvitationStatus.SENT
    invitation.sent_at = now
    invitation.updated_at = now
    reminder_at = now + rules.reminder_after
    uow.followups.schedule(
        kind=KIND_SURVEY_REMINDER,
        subject=stay.reservation_ref,
        due_at=reminder_at,
        idempotency_key=reminder_key(stay.reservation_ref),
        payload={
            "reservation_ref": stay.reservation_ref,
            "stay_id": stay.id,
            "guest_id": stay.guest_id,
            "sender": sender,
            "planned_at": reminder_at.isoformat(),
        },
        now=now,
    )
    note_followup(uow, survey_key(stay.reservation_ref), now, result=SENT, sender=sender, sent_at=now.isoformat())
    uow.session.flush()
    log.info("survey invitation sent for stay %s", stay.id)
    return True


def record_invitation_skipped(uow: SqlUnitOfWork, now: datetime, reference: str, reason: str) -> None:
    """Record why the stay's guest was not invited (payload ``result`` and a closed invitation row)."""
    stay = uow.stays.get_by_reference(reference)
    if stay is not None and reason not in (SKIP_ALREADY_INVITED, SKIP_NOT_CHECKED_OUT):
        invitation = _invitation(uow, stay.id)
        if invitation is None:
            invitation = uow.surveys.add(
                SurveyInvitation(guest_id=stay.guest_id, stay_id=stay.id, created_at=now, updated_at=now)
            )
        invitation.status = InvitationStatus.EXPIRED if reason == SKIP_TOO_LATE else InvitationStatus.CANCELLED
        invitation.updated_at = now
    note_followup(uow, survey_key(reference), now, result=reason)
    uow.session.flush()
    log.info("survey invitation for stay %s not sent: %s", stay.id if stay else "-", reason)


def plan_reminder(
    uow: SqlUnitOfWork, now: datetime, reference: str, *, planned_at: datetime | None, rules: SurveyRules,
    sender: str | None = None,
) -> InvitePlan:
    """Decide whether to remind the guest: still unanswered, not opted out, not too late (reads only)."""
    stay = uow.stays.get_by_reference(reference)
    if stay is None:
        return InvitePlan.skip(SKIP_STAY_GONE)
    invitation = _invitation(uow, stay.id)
    if invitation is None:
        return InvitePlan.skip(SKIP_STALE)
    status = InvitationStatus(invitation.status)
    if status is InvitationStatus.ANSWERED:
        return InvitePlan.skip(SKIP_ANSWERED)
    if status is not InvitationStatus.SENT:
        return InvitePlan.skip(SKIP_STALE)
    started = uow.session.execute(
        select(SurveyResponse.id).where(SurveyResponse.invitation_id == invitation.id).limit(1)
    ).first()
    if started is not None:
        return InvitePlan.skip(SKIP_ANSWERED)
    if opted_out(uow, stay.guest_id):
        return InvitePlan.skip(SKIP_OPTED_OUT)
    target = sender or guest_sender(uow, stay.guest_id)
    if target is None:
        return InvitePlan.skip(SKIP_NO_IDENTITY)
    if planned_at is not None and now - planned_at > rules.max_late:
        return InvitePlan.skip(SKIP_TOO_LATE)
    return InvitePlan(True, None, target)


def record_reminder_sent(uow: SqlUnitOfWork, now: datetime, reference: str, sender: str) -> bool:
    """Mark the invitation reminded; False if it was answered (or closed) meanwhile."""
    stay = uow.stays.get_by_reference(reference)
    invitation = _invitation(uow, stay.id) if stay is not None else None
    if invitation is None or InvitationStatus(invitation.status) is not InvitationStatus.SENT:
        return False
    invitation.status = InvitationStatus.REMINDED
    invitation.reminded_at = now
    invitation.updated_at = now
    note_followup(uow, reminder_key(reference), now, result=SENT, sender=sender, sent_at=now.isoformat())
    uow.session.flush()
    log.info("survey reminder sent for stay %s", stay.id if stay else "-")
    return True


def record_reminder_skipped(uow: SqlUnitOfWork, now: datetime, reference: str, reason: str) -> None:
    """Record why no reminder went out."""
    note_followup(uow, reminder_key(reference), now, result=reason)


__all__ = [
    "FATIGUE_REASONS",
    "InvitePlan",
    "KIND_SURVEY_INVITE",
    "KIND_SURVEY_REMINDER",
    "parse_planned_at",
    "plan_invitation",
    "plan_reminder",
    "record_invitation_sent",
    "record_invitation_skipped",
    "record_reminder_sent",
    "record_reminder_skipped",
]
