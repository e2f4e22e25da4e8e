"""Run a complaint's recovery lifecycle: acknowledge, resolve, ask the guest, confirm or reopen, escalate.

Statuses: ``open → acknowledged → resolved → confirmed``; a guest who says "not fixed" reopens
(``reopened``, one rung up), and a guest who never answers leaves it ``closed_unconfirmed``.

Every transition locks the complaint row, writes its ComplaintEvent (who, when), cancels the follow-ups
that no longer apply and schedules the ones it causes, all in ONE transaction. Follow-up keys:

- ``sla-ack:<ref>:<cycle>:<level>``      (the very first one, written by open_complaint: ``sla-ack:<ref>``)
- ``sla-resolve:<ref>:<cycle>:<level>``
- ``recovery-ask:<ref>:<cycle>``
- ``recovery-autoclose:<ref>:<cycle>``
- ``staff-alert:<ref>:<event id>``        (a staff notification, delivered by the scheduler)

``cycle`` counts reopenings (0 for the first round); ``level`` is the escalation level, an index into
the complaint's ladder (``RecoveryPolicy.rungs``). Invalid transitions raise ``ValidationError``;
unknown references ``NotFound``.

Public functions own their transaction. The ``on_*`` functions are the scheduler's entry points: they
run inside the caller's open unit of work (the dispatcher's, which also marks the follow-up done) and
never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from crm_store.clock import Clock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import (
    ChannelIdentity,
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintStatus,
    FollowUp,
    FollowUpStatus,
    Severity,
)
from crm_store.policy import SlaPolicy
from crm_store.recovery_policy import RecoveryPolicy, as_recovery_policy
from crm_store.services.complaints import complaint_info, open_complaint_for_guest
from crm_store.services.guests import resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

KIND_SLA_ACK = "sla_ack"
KIND_SLA_RESOLVE = "sla_resolve"
KIND_RECOVERY_ASK = "recovery_ask"
KIND_RECOVERY_AUTOCLOSE = "recovery_autoclose"
KIND_STAFF_ALERT = "staff_alert"
CASE_KINDS: tuple[str, ...] = (
    KIND_SLA_ACK, KIND_SLA_RESOLVE, KIND_RECOVERY_ASK, KIND_RECOVERY_AUTOCLOSE, KIND_STAFF_ALERT,
)

# Staff alert events (the StaffNotifier method of each is named alike).
ALERT_OPENED = "complaint_opened"
ALERT_ESCALATED = "escalated"
ALERT_SLA_BREACHED = "sla_breached"
ALERT_REOPENED = "reopened"
ALERT_RESOLVED_CONFIRMED = "resolved_confirmed"
ALERT_CLOSED_UNCONFIRMED = "closed_unconfirmed"
ALERT_EVENTS: tuple[str, ...] = (
    ALERT_OPENED, ALERT_ESCALATED, ALERT_SLA_BREACHED, ALERT_REOPENED, ALERT_RESOLVED_CONFIRMED,
    ALERT_CLOSED_UNCONFIRMED,
)

OPEN_STATES = frozenset({ComplaintStatus.OPEN, ComplaintStatus.REOPENED})
LIVE_STATES = frozenset({ComplaintStatus.OPEN, ComplaintStatus.REOPENED, ComplaintStatus.ACKNOWLEDGED})
REOPENABLE = frozenset(
    {ComplaintStatus.RESOLVED, ComplaintStatus.CONFIRMED, ComplaintStatus.CLOSED_UNCONFIRMED}
)
CONFIRMABLE = frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED_UNCONFIRMED})
ACTOR_MAX_LENGTH = 64
GESTURE_MAX_LENGTH = 64
REASON_MAX_LENGTH = 200
EARLY_TOLERANCE = timedelta(milliseconds=500)


@dataclass(frozen=True)
class CaseInfo:
    """Describe a complaint's recovery state to staff and dialogue layers (a staff card)."""

    reference: str
    category: str
    severity: str
    room: str | None
    status: str
    escalation_level: int
    rung: str
    at_top: bool
    cycle: int
    opened_at: datetime
    ack_due_at: datetime
    resolve_due_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    suggested_gestures: tuple[str, ...]
    chosen_gesture: str | None


@dataclass(frozen=True)
class ClockOutcome:
    """Say what a deadline follow-up did: ``escalated``, ``breached``, ``stale`` or ``deferred`` (with until)."""

    result: str
    until: datetime | None = None


# ---------------------------------------------------------------- helpers


def _status(row: Complaint) -> ComplaintStatus:
    return ComplaintStatus(row.status)


def _check_actor(actor: str) -> str:
    cleaned = actor.strip() if isinstance(actor, str) else ""
    if not cleaned:
        raise ValidationError("actor", "empty")
    return cleaned[:ACTOR_MAX_LENGTH]


def _normalise_reference(reference: str) -> str:
    normalised = reference.strip().upper() if isinstance(reference, str) else ""
    if not normalised:
        raise ValidationError("reference", "empty")
    return normalised


def lock_complaint(uow: SqlUnitOfWork, reference: str, now: datetime) -> Complaint:
    """Lock the complaint row for this transaction (write first, then read) or raise NotFound."""
    normalised = _normalise_reference(reference)
    uow.session.execute(
        update(Complaint)
        .where(Complaint.reference == normalised)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    row = uow.session.execute(
        select(Complaint).where(Complaint.reference == normalised).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("complaint", normalised)
    return row


def _cycle(uow: SqlUnitOfWork, complaint: Complaint) -> int:
    """Return how many times the complaint was reopened."""
    return int(
        uow.session.execute(
            select(func.count(ComplaintEvent.id)).where(
                ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == "reopened"
            )
        ).scalar_one()
    )


def _last_event(uow: SqlUnitOfWork, complaint: Complaint, kind: str) -> ComplaintEvent | None:
    return (
        uow.session.execute(
            select(ComplaintEvent)
            .where(ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == kind)
            .order_by(ComplaintEvent.at.desc(), ComplaintEvent.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def _event(
    uow: SqlUnitOfWork, now: datetime, complaint: Complaint, kind: str, actor: str, **detail: Any
) -> ComplaintEvent:
    return uow.complaints.add_event(
        ComplaintEvent(
            complaint_id=complaint.id,
            kind=kind,
            actor=actor,
            detail=detail or None,
            at=now,
            created_at=now,
            updated_at=now,
        )
    )


def _schedule(
    uow: SqlUnitOfWork, now: datetime, kind: str, key: str, due_at: datetime, payload: dict[str, Any]
) -> bool:
    return uow.followups.schedule(
        kind=kind, subject=payload["reference"], due_at=due_at, idempotency_key=key, payload=payload, now=now
    )


def cancel_followups(uow: SqlUnitOfWork, now: datetime, reference: str, kinds: tuple[str, ...]) -> int:
    """Cancel the complaint's pending follow-ups of ``kinds``; return how many were cancelled."""
    result = uow.session.execute(
        update(FollowUp)
        .where(
            FollowUp.subject == reference,
            FollowUp.kind.in_(kinds),
            FollowUp.status == FollowUpStatus.PENDING,
        )
        .values(status=FollowUpStatus.CANCELLED, updated_at=now, last_error="no longer applies")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _alert(
    uow: SqlUnitOfWork,
    now: datetime,
    policy: RecoveryPolicy,
    complaint: Complaint,
    event: ComplaintEvent,
    alert: str,
    **detail: Any,
) -> None:
    """Schedule a staff notification, due now, keyed by the event that caused it."""
    category, severity = _cat_sev(complaint)
    payload = {
        "reference": complaint.reference,
        "event": alert,
        "level": int(complaint.escalation_level),
        "rung": policy.rung(category, severity, int(complaint.escalation_level)),
        **detail,
    }
    _schedule(uow, now, KIND_STAFF_ALERT, f"staff-alert:{complaint.reference}:{event.id}", now, payload)


def _cat_sev(complaint: Complaint) -> tuple[str, str]:
    return ComplaintCategory(complaint.category).value, Severity(complaint.severity).value


def _sender_of(uow: SqlUnitOfWork, complaint: Complaint) -> str | None:
    """Return the Rasa sender id of the guest's most recently linked channel, if any."""
    identity = (
        uow.session.execute(
            select(ChannelIdentity)
            .where(ChannelIdentity.guest_id == complaint.guest_id)
            .order_by(ChannelIdentity.linked_at.desc(), ChannelIdentity.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    return f"{identity.channel}:{identity.external_id}" if identity is not None else None


def _check_owner(uow: SqlUnitOfWork, complaint: Complaint, sender: tuple[str, str] | None) -> None:
    """Refuse a guest acting on someone else's complaint (reported as not found)."""
    if sender is None:
        return
    guest = uow.identities.find_guest(*sender)
    if guest is None or guest.id != complaint.guest_id:
        raise NotFound("complaint", complaint.reference)


def _schedule_clock(
    uow: SqlUnitOfWork, now: datetime, policy: RecoveryPolicy, complaint: Complaint, cycle: int
) -> None:
    """Schedule the deadline check that applies now: acknowledgement if unacknowledged, else resolution."""
    level = int(complaint.escalation_level)
    ref = complaint.reference
    if _status(complaint) in OPEN_STATES:
        _schedule(
            uow, now, KIND_SLA_ACK, f"sla-ack:{ref}:{cycle}:{level}", complaint.ack_due_at,
            {"reference": ref, "cycle": cycle, "level": level},
        )
    elif _status(complaint) == ComplaintStatus.ACKNOWLEDGED and complaint.resolve_due_at is not None:
        _schedule(
            uow, now, KIND_SLA_RESOLVE, f"sla-resolve:{ref}:{cycle}:{level}", complaint.resolve_due_at,
            {"reference": ref, "cycle": cycle, "level": level},
        )


def case_info(uow: SqlUnitOfWork, policy: SlaPolicy, complaint: Complaint) -> CaseInfo:
    """Build the CaseInfo (staff card) of a complaint row."""
    recovery = as_recovery_policy(policy)
    category, severity = _cat_sev(complaint)
    level = int(complaint.escalation_level)
    gesture = _last_event(uow, complaint, "gesture_chosen")
    return CaseInfo(
        reference=complaint.reference,
        category=category,
        severity=severity,
        room=complaint.room,
        status=_status(complaint).value,
        escalation_level=level,
        rung=recovery.rung(category, severity, level),
        at_top=level >= recovery.top_level(category, severity),
        cycle=_cycle(uow, complaint),
        opened_at=complaint.opened_at,
        ack_due_at=complaint.ack_due_at,
        resolve_due_at=complaint.resolve_due_at,
        acknowledged_at=complaint.acknowledged_at,
        resolved_at=complaint.resolved_at,
        suggested_gestures=recovery.gestures(category, severity),
        chosen_gesture=(gesture.detail or {}).get("gesture") if gesture is not None else None,
    )


# ---------------------------------------------------------------- transitions inside a transaction


def escalate_within(
    uow: SqlUnitOfWork,
    now: datetime,
    policy: RecoveryPolicy,
    complaint: Complaint,
    *,
    actor: str,
    reason: str,
    alert: bool = True,
    cycle: int | None = None,
) -> bool:
    """Move the complaint one rung up, record it and alert staff; at the top, record a breach instead.

    Schedules the next deadline check (ack if unacknowledged, resolution if acknowledged). Returns
    whether it climbed a rung. Runs inside the caller's transaction.
    """
    category, severity = _cat_sev(complaint)
    level = int(complaint.escalation_level)
    cycle = _cycle(uow, complaint) if cycle is None else cycle
    from_rung = policy.rung(category, severity, level)
    if level >= policy.top_level(category, severity):
        event = _event(uow, now, complaint, "sla_breached", actor, rung=from_rung, reason=reason, cycle=cycle)
        _alert(uow, now, policy, complaint, event, ALERT_SLA_BREACHED, reason=reason)
        log.warning("complaint %s: %s at the top rung %s", complaint.reference, reason, from_rung)
        return False
    complaint.escalation_level = level + 1
    to_rung = policy.rung(category, severity, level + 1)
    if _status(complaint) in OPEN_STATES:
        complaint.ack_due_at = policy.ack_due(category, severity, now)
    elif _status(complaint) == ComplaintStatus.ACKNOWLEDGED:
        complaint.resolve_due_at = policy.resolve_due(category, severity, now)
    complaint.updated_at = now
    uow.session.flush()
    event = _event(
        uow, now, complaint, "escalated", actor,
        from_rung=from_rung, to_rung=to_rung, level=level + 1, reason=reason, cycle=cycle,
    )
    if alert:
        _alert(uow, now, policy, complaint, event, ALERT_ESCALATED, reason=reason, from_rung=from_rung)
    _schedule_clock(uow, now, policy, complaint, cycle)
    log.info("complaint %s escalated %s -> %s (%s) by %s", complaint.reference, from_rung, to_rung, reason, actor)
    return True


def on_ack_deadline(
    uow: SqlUnitOfWork, now: datetime, policy: SlaPolicy, reference: str, *, cycle: int, level: int
) -> ClockOutcome:
    """Handle an acknowledgement deadline: escalate one rung if still unacknowledged at ``level``."""
    recovery = as_recovery_policy(policy)
    complaint = lock_complaint(uow, reference, now)
    if (
        _status(complaint) not in OPEN_STATES
        or _cycle(uow, complaint) != cycle
        or int(complaint.escalation_level) != level
    ):
        return ClockOutcome("stale")
    due = complaint.ack_due_at
    category, severity = _cat_sev(complaint)
    if cycle == 0 and level == 0 and recovery.rule(category, severity).business_hours_only:
        due = recovery.ack_due(category, severity, complaint.opened_at)
        complaint.ack_due_at = due
    if now + EARLY_TOLERANCE < due:
        return ClockOutcome("deferred", due)
    climbed = escalate_within(uow, now, recovery, complaint, actor="scheduler", reason="ack_overdue", cycle=cycle)
    return ClockOutcome("escalated" if climbed else "breached")


def on_resolve_deadline(
    uow: SqlUnitOfWork, now: datetime, policy: SlaPolicy, reference: str, *, cycle: int, level: int
) -> ClockOutcome:
    """Handle a resolution deadline: escalate one rung if acknowledged but still unresolved at ``level``."""
    recovery = as_recovery_policy(policy)
    complaint = lock_complaint(uow, reference, now)
    if (
        _status(complaint) != ComplaintStatus.ACKNOWLEDGED
        or _cycle(uow, complaint) != cycle
        or int(complaint.escalation_level) != level
    ):
        return ClockOutcome("stale")
    if complaint.resolve_due_at is not None and now + EARLY_TOLERANCE < complaint.resolve_due_at:
        return ClockOutcome("deferred", complaint.resolve_due_at)
    climbed = escalate_within(
        uow, now, recovery, complaint, actor="scheduler", reason="resolve_overdue", cycle=cycle
    )
    return ClockOutcome("escalated" if climbed else "breached")


def recovery_target(uow: SqlUnitOfWork, reference: str, cycle: int) -> str | None:
    """Return the sender id to ask if the complaint still awaits its follow-up in ``cycle``, else None."""
    complaint = uow.complaints.get_by_reference(_normalise_reference(reference))
    if complaint is None or _status(complaint) != ComplaintStatus.RESOLVED or _cycle(uow, complaint) != cycle:
        return None
    return _sender_of(uow, complaint)


def on_guest_asked(
    uow: SqlUnitOfWork, now: datetime, policy: SlaPolicy, reference: str, *, cycle: int
) -> bool:
    """Record that the guest was asked whether the fix holds and schedule the auto-close; False if stale."""
    recovery = as_recovery_policy(policy)
    complaint = lock_complaint(uow, reference, now)
    if _status(complaint) != ComplaintStatus.RESOLVED or _cycle(uow, complaint) != cycle:
        return False
    category, severity = _cat_sev(complaint)
    _event(uow, now, complaint, "guest_asked", "scheduler", cycle=cycle)
    ref = complaint.reference
    _schedule(
        uow, now, KIND_RECOVERY_AUTOCLOSE, f"recovery-autoclose:{ref}:{cycle}",
        recovery.auto_close_due(category, severity, now), {"reference": ref, "cycle": cycle},
    )
    return True


def on_auto_close(
    uow: SqlUnitOfWork, now: datetime, policy: SlaPolicy, reference: str, *, cycle: int, reason: str = "no_answer"
) -> bool:
    """Close a resolved complaint the guest never confirmed as ``closed_unconfirmed``; False if stale."""
    recovery = as_recovery_policy(policy)
    complaint = lock_complaint(uow, reference, now)
    if _status(complaint) != ComplaintStatus.RESOLVED or _cycle(uow, complaint) != cycle:
        return False
    complaint.status = ComplaintStatus.CLOSED_UNCONFIRMED
    cancel_followups(uow, now, complaint.reference, (KIND_RECOVERY_ASK, KIND_RECOVERY_AUTOCLOSE))
    uow.session.flush()
    event = _event(uow, now, complaint, "closed_unconfirmed", "scheduler", reason=reason, cycle=cycle)
    _alert(uow, now, recovery, complaint, event, ALERT_CLOSED_UNCONFIRMED, reason=reason)
    log.info("complaint %s closed as not confirmed (%s)", complaint.reference, reason)
    return True


# ---------------------------------------------------------------- public use cases


def open_case(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: SlaPolicy,
    channel: str,
    external_id: str,
    *,
    category: str,
    severity: str,
    room: str | None,
    description: str,
) -> CaseInfo:
    """Open a complaint like ``open_complaint`` and also alert staff (``complaint_opened``) in the same transaction."""
    recovery = as_recovery_policy(policy)
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        complaint = open_complaint_for_guest(
            uow, now, recovery, guest, category=category, severity=severity, room=room,
            description=description, actor="guest",
        )
        event = _last_event(uow, complaint, "opened")
        assert event is not None
        _alert(uow, now, recovery, complaint, event, ALERT_OPENED)
        info = case_info(uow, recovery, complaint)
        uow.commit()
    return info


def get_case(uow: SqlUnitOfWork, policy: SlaPolicy, reference: str) -> CaseInfo:
    """Return the recovery state of the complaint with ``reference`` or raise NotFound."""
    with uow:
        complaint = uow.complaints.get_by_reference(_normalise_reference(reference))
        if complaint is None:
            raise NotFound("complaint", _normalise_reference(reference))
        return case_info(uow, policy, complaint)


def acknowledge(
    uow: SqlUnitOfWork, clock: Clock, policy: SlaPolicy, reference: str, *, actor: str
) -> CaseInfo:
    """Mark an open or reopened complaint acknowledged: stop the ack clock, start the resolution clock."""
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        if _status(complaint) not in OPEN_STATES:
            raise ValidationError("status", f"cannot acknowledge a {_status(complaint).value} complaint")
        category, severity = _cat_sev(complaint)
        cycle = _cycle(uow, complaint)
        started = complaint.opened_at
        if cycle:
            last = _last_event(uow, complaint, "reopened")
            started = last.at if last is not None else now
        complaint.status = ComplaintStatus.ACKNOWLEDGED
        complaint.acknowledged_at = now
        complaint.resolve_due_at = recovery.resolve_due(category, severity, started)
        cancel_followups(uow, now, complaint.reference, (KIND_SLA_ACK,))
        uow.session.flush()
        _event(uow, now, complaint, "acknowledged", actor, cycle=cycle,
               rung=recovery.rung(category, severity, int(complaint.escalation_level)))
        _schedule_clock(uow, now, recovery, complaint, cycle)
        info = case_info(uow, recovery, complaint)
        uow.commit()
    log.info("complaint %s acknowledged by %s", info.reference, actor)
    return info


def resolve(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: SlaPolicy,
    reference: str,
    *,
    actor: str,
    gesture: str | None = None,
) -> CaseInfo:
    """Mark a live complaint resolved (recording an offered gesture) and schedule the guest follow-up."""
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        status = _status(complaint)
        if status not in LIVE_STATES:
            raise ValidationError("status", f"cannot resolve a {status.value} complaint")
        category, severity = _cat_sev(complaint)
        cycle = _cycle(uow, complaint)
        if gesture is not None:
            _record_gesture(uow, now, recovery, complaint, actor, gesture)
        complaint.status = ComplaintStatus.RESOLVED
        complaint.resolved_at = now
        if complaint.acknowledged_at is None:
            complaint.acknowledged_at = now
        cancel_followups(uow, now, complaint.reference, (KIND_SLA_ACK, KIND_SLA_RESOLVE))
        uow.session.flush()
        _event(uow, now, complaint, "resolved", actor, cycle=cycle, implicit_ack=status in OPEN_STATES)
        ref = complaint.reference
        sender = _sender_of(uow, complaint)
        ask_at = recovery.follow_up_due(category, severity, now)
        if sender is not None:
            _schedule(
                uow, now, KIND_RECOVERY_ASK, f"recovery-ask:{ref}:{cycle}", ask_at,
                {"reference": ref, "cycle": cycle, "sender": sender},
            )
        else:
            _schedule(
                uow, now, KIND_RECOVERY_AUTOCLOSE, f"recovery-autoclose:{ref}:{cycle}",
                recovery.auto_close_due(category, severity, ask_at),
                {"reference": ref, "cycle": cycle, "reason": "guest_unreachable"},
            )
        info = case_info(uow, recovery, complaint)
        uow.commit()
    log.info("complaint %s resolved by %s", info.reference, actor)
    return info


def confirm_fixed(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: SlaPolicy,
    reference: str,
    *,
    actor: str = "guest",
    sender: tuple[str, str] | None = None,
) -> CaseInfo:
    """Close a resolved (or unconfirmed-closed) complaint as confirmed by the guest, and tell staff.

    ``sender`` (channel, external id) restricts the call to the complaint's own guest.
    """
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        _check_owner(uow, complaint, sender)
        status = _status(complaint)
        if status not in CONFIRMABLE:
            raise ValidationError("status", f"cannot confirm a {status.value} complaint")
        complaint.status = ComplaintStatus.CONFIRMED
        cancel_followups(uow, now, complaint.reference, (KIND_RECOVERY_ASK, KIND_RECOVERY_AUTOCLOSE))
        uow.session.flush()
        event = _event(uow, now, complaint, "confirmed", actor, cycle=_cycle(uow, complaint),
                       late=status == ComplaintStatus.CLOSED_UNCONFIRMED)
        _alert(uow, now, recovery, complaint, event, ALERT_RESOLVED_CONFIRMED)
        info = case_info(uow, recovery, complaint)
        uow.commit()
    log.info("complaint %s confirmed fixed by %s", info.reference, actor)
    return info


def reopen(
    uow: SqlUnitOfWork,
    clock: Clock,
    policy: SlaPolicy,
    reference: str,
    *,
    actor: str,
    reason: str = "not_fixed",
    sender: tuple[str, str] | None = None,
) -> CaseInfo:
    """Reopen a resolved or closed complaint one rung up, restart its clocks and tell staff.

    ``sender`` (channel, external id) restricts the call to the complaint's own guest.
    """
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    reason = (reason.strip() if isinstance(reason, str) else "")[:REASON_MAX_LENGTH] or "not_fixed"
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        _check_owner(uow, complaint, sender)
        status = _status(complaint)
        if status not in REOPENABLE:
            raise ValidationError("status", f"cannot reopen a {status.value} complaint")
        category, severity = _cat_sev(complaint)
        cancel_followups(uow, now, complaint.reference, CASE_KINDS[:4])
        complaint.status = ComplaintStatus.REOPENED
        complaint.acknowledged_at = None
        complaint.resolved_at = None
        complaint.ack_due_at = recovery.ack_due(category, severity, now)
        complaint.resolve_due_at = recovery.resolve_due(category, severity, now)
        uow.session.flush()
        cycle = _cycle(uow, complaint) + 1
        event = _event(uow, now, complaint, "reopened", actor, reason=reason, cycle=cycle, previous=status.value)
        climbed = False
        if int(complaint.escalation_level) < recovery.top_level(category, severity):
            climbed = escalate_within(
                uow, now, recovery, complaint, actor=actor, reason="reopened", alert=False, cycle=cycle
            )
        else:
            _schedule_clock(uow, now, recovery, complaint, cycle)
        _alert(uow, now, recovery, complaint, event, ALERT_REOPENED, reason=reason, escalated=climbed)
        info = case_info(uow, recovery, complaint)
        uow.commit()
    log.info("complaint %s reopened by %s (%s)", info.reference, actor, reason)
    return info


def escalate(
    uow: SqlUnitOfWork, clock: Clock, policy: SlaPolicy, reference: str, *, actor: str, reason: str = "manual"
) -> CaseInfo:
    """Move a live complaint one rung up by hand (e.g. from the staff desk); ValidationError at the top."""
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        status = _status(complaint)
        if status not in LIVE_STATES:
            raise ValidationError("status", f"cannot escalate a {status.value} complaint")
        category, severity = _cat_sev(complaint)
        if int(complaint.escalation_level) >= recovery.top_level(category, severity):
            raise ValidationError("escalation", "already at the top of the ladder")
        if status in OPEN_STATES:
            cancel_followups(uow, now, complaint.reference, (KIND_SLA_ACK,))
        else:
            cancel_followups(uow, now, complaint.reference, (KIND_SLA_RESOLVE,))
        escalate_within(uow, now, recovery, complaint, actor=actor, reason=reason[:REASON_MAX_LENGTH] or "manual")
        info = case_info(uow, recovery, complaint)
        uow.commit()
    return info


def _record_gesture(
    uow: SqlUnitOfWork, now: datetime, policy: RecoveryPolicy, complaint: Complaint, actor: str, gesture: str
) -> str:
    cleaned = gesture.strip().lower().replace(" ", "_") if isinstance(gesture, str) else ""
    if not cleaned:
        raise ValidationError("gesture", "empty")
    if len(cleaned) > GESTURE_MAX_LENGTH:
        raise ValidationError("gesture", f"longer than {GESTURE_MAX_LENGTH} characters")
    category, severity = _cat_sev(complaint)
    _event(uow, now, complaint, "gesture_chosen", actor, gesture=cleaned,
           suggested=cleaned in policy.gestures(category, severity))
    return cleaned


def record_gesture_choice(
    uow: SqlUnitOfWork, clock: Clock, policy: SlaPolicy, reference: str, *, actor: str, gesture: str
) -> CaseInfo:
    """Record the recovery gesture staff chose to offer (suggested by policy or not)."""
    recovery = as_recovery_policy(policy)
    actor = _check_actor(actor)
    now = clock.now()
    with uow:
        complaint = lock_complaint(uow, reference, now)
        _record_gesture(uow, now, recovery, complaint, actor, gesture)
        info = case_info(uow, recovery, complaint)
        uow.commit()
    return info


def case_events(uow: SqlUnitOfWork, reference: str) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """Return the complaint's audit trail as (kind, actor, at, detail), oldest first."""
    with uow:
        complaint = uow.complaints.get_by_reference(_normalise_reference(reference))
        if complaint is None:
            raise NotFound("complaint", _normalise_reference(reference))
        return [(e.kind, e.actor, e.at, dict(e.detail or {})) for e in uow.complaints.events(complaint.id)]


__all__ = [
    "ALERT_EVENTS",
    "CASE_KINDS",
    "CaseInfo",
    "ClockOutcome",
    "acknowledge",
    "case_events",
    "case_info",
    "complaint_info",
    "confirm_fixed",
    "escalate",
    "get_case",
    "on_ack_deadline",
    "on_auto_close",
    "on_guest_asked",
    "on_resolve_deadline",
    "open_case",
    "record_gesture_choice",
    "recovery_target",
    "reopen",
    "resolve",
]
