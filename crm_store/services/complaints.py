"""Open complaints with their audit event and SLA follow-up, and look them up by reference."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_store.clock import Clock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintStatus,
    Guest,
    Severity,
    Stay,
)
from crm_store.policy import SlaPolicy
from crm_store.services.guests import resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

COMPLAINT_CATEGORIES: tuple[str, ...] = tuple(c.value for c in ComplaintCategory)
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
REFERENCE_ATTEMPTS = 20
DESCRIPTION_MAX_LENGTH = 4000
_ROOM = re.compile(r"^[0-9A-Z][0-9A-Z-]{0,9}$")


@dataclass(frozen=True)
class ComplaintInfo:
    """Describe one complaint to the dialogue and staff layers."""

    reference: str
    category: str
    severity: str
    room: str | None
    description: str
    status: str
    ack_due_at: datetime
    guest_verified: bool


def new_reference() -> str:
    """Return a random reference like ``C-7KQ4ZP`` (no 0/O/1/I)."""
    return "C-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def complaint_info(row: Complaint) -> ComplaintInfo:
    """Build the ComplaintInfo of a complaint row."""
    return ComplaintInfo(
        reference=row.reference,
        category=ComplaintCategory(row.category).value,
        severity=Severity(row.severity).value,
        room=row.room,
        description=row.description,
        status=ComplaintStatus(row.status).value,
        ack_due_at=row.ack_due_at,
        guest_verified=bool(row.guest_verified),
    )


def check_category(category: str) -> str:
    """Return the normalised complaint category or raise ValidationError."""
    normalised = category.strip().lower() if isinstance(category, str) else ""
    if normalised not in COMPLAINT_CATEGORIES:
        raise ValidationError("category", f"expected one of {', '.join(COMPLAINT_CATEGORIES)}")
    return normalised


def check_severity(severity: str) -> str:
    """Return the normalised severity or raise ValidationError."""
    normalised = severity.strip().lower() if isinstance(severity, str) else ""
    if normalised not in SEVERITIES:
        raise ValidationError("severity", f"expected one of {', '.join(SEVERITIES)}")
    return normalised


def check_room(room: str | None) -> str | None:
    """Return the normalised room number (upper-case) or raise ValidationError."""
    if room is None:
        return None
    normalised = str(room).strip().upper()
    if not normalised:
        return None
    if not _ROOM.match(normalised):
        raise ValidationError("room", "expected a room number such as 412 or 12B")
    return normalised


def check_description(description: str) -> str:
    """Return the trimmed description or raise ValidationError."""
    cleaned = description.strip() if isinstance(description, str) else ""
    if not cleaned:
        raise ValidationError("description", "empty")
    if len(cleaned) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError("description", f"longer than {DESCRIPTION_MAX_LENGTH} characters")
    return cleaned


def _unused_reference(uow: SqlUnitOfWork, factory: Callable[[], str]) -> str:
    for _ in range(REFERENCE_ATTEMPTS):
        candidate = factory()
        if not uow.complaints.reference_exists(candidate):
            return candidate
    raise RuntimeError("could not find an unused complaint reference")


def open_complaint_for_guest(
    uow: SqlUnitOfWork,
    now: datetime,
    policy: SlaPolicy,
    guest: Guest,
    *,
    category: str,
    severity: str,
    room: str | None,
    description: str,
    actor: str,
    stay: Stay | None = None,
    detail: dict[str, Any] | None = None,
) -> Complaint:
    """Write Complaint + ComplaintEvent("opened") + FollowUp("sla_ack") inside ``uow``, without committing.

    Validates its input; safety forces severity high; links ``stay`` (default: the guest's current
    stay) and takes its room when ``room`` is None.
    """
    category = check_category(category)
    severity = check_severity(severity)
    room = check_room(room)
    description = check_description(description)
    if category == ComplaintCategory.SAFETY.value:
        severity = Severity.HIGH.value
    if stay is None:
        stay = uow.stays.current_for(guest.id, now)
    if room is None and stay is not None:
        room = stay.room
    ack_due_at = now + policy.ack_deadline(category, severity)
    complaint = uow.complaints.add(
        Complaint(
            reference=_unused_reference(uow, new_reference),
            guest_id=guest.id,
            stay_id=stay.id if stay is not None else None,
            category=ComplaintCategory(category),
            severity=Severity(severity),
            room=room,
            description=description,
            status=ComplaintStatus.OPEN,
            opened_at=now,
            ack_due_at=ack_due_at,
            resolve_due_at=now + policy.resolve_deadline(category, severity),
            escalation_level=0,
            guest_verified=bool(guest.verified),
            created_at=now,
            updated_at=now,
        )
    )
    uow.complaints.add_event(
        ComplaintEvent(
            complaint_id=complaint.id,
            kind="opened",
            actor=actor,
            detail={"category": category, "severity": severity, "room": room, **(detail or {})},
            at=now,
            created_at=now,
            updated_at=now,
        )
    )
    uow.followups.schedule(
        kind="sla_ack",
        subject=complaint.reference,
        due_at=ack_due_at,
        idempotency_key=f"sla-ack:{complaint.reference}",
        payload={"reference": complaint.reference, "level": 0},
        now=now,
    )
    log.info(
        "complaint %s opened by %s: category=%s severity=%s guest=%s",
        complaint.reference,
        actor,
        category,
        severity,
        guest.id,
    )
    return complaint


def open_complaint(
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
) -> ComplaintInfo:
    """Open a complaint for the guest behind (channel, external_id) and schedule its SLA check."""
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        complaint = open_complaint_for_guest(
            uow,
            now,
            policy,
            guest,
            category=category,
            severity=severity,
            room=room,
            description=description,
            actor="guest",
        )
        info = complaint_info(complaint)
        uow.commit()
    return info


def get_complaint(uow: SqlUnitOfWork, reference: str) -> ComplaintInfo:
    """Return the complaint with ``reference`` (case-insensitive) or raise NotFound."""
    normalised = reference.strip().upper() if isinstance(reference, str) else ""
    with uow:
        row = uow.complaints.get_by_reference(normalised)
        if row is None:
            raise NotFound("complaint", normalised)
        return complaint_info(row)
