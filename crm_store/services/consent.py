"""Record a guest's consent decisions and tell whether automated messages are allowed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import ConsentRecord
from crm_store.services.guests import find_guest, resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

AUTOMATED_MESSAGES = "automated_messages"
PURPOSE_MAX_LENGTH = 32


@dataclass(frozen=True)
class ConsentInfo:
    """Describe one consent decision."""

    purpose: str
    granted: bool
    source: str
    at: datetime


def record_consent(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    external_id: str,
    *,
    purpose: str,
    granted: bool,
    source: str,
) -> ConsentInfo:
    """Append a consent decision for the guest behind (channel, external_id)."""
    purpose = purpose.strip().lower() if isinstance(purpose, str) else ""
    if not purpose or len(purpose) > PURPOSE_MAX_LENGTH:
        raise ValidationError("purpose", f"expected 1 to {PURPOSE_MAX_LENGTH} characters")
    source = (source or "unknown").strip()[:32]
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        row = uow.consents.add(
            ConsentRecord(
                guest_id=guest.id,
                purpose=purpose,
                granted=bool(granted),
                source=source,
                at=now,
                created_at=now,
                updated_at=now,
            )
        )
        info = ConsentInfo(purpose=row.purpose, granted=row.granted, source=row.source, at=row.at)
        uow.commit()
    log.info("guest %s consent %s granted=%s", guest.id, purpose, bool(granted))
    return info


def opt_out(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, *, source: str) -> ConsentInfo:
    """Record that the guest wants no automated messages."""
    return record_consent(
        uow, clock, channel, external_id, purpose=AUTOMATED_MESSAGES, granted=False, source=source
    )


def opt_in(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, *, source: str) -> ConsentInfo:
    """Record that the guest accepts automated messages again."""
    return record_consent(
        uow, clock, channel, external_id, purpose=AUTOMATED_MESSAGES, granted=True, source=source
    )


def is_opted_out(
    uow: SqlUnitOfWork, channel: str, external_id: str, purpose: str = AUTOMATED_MESSAGES
) -> bool:
    """Tell whether the guest's latest decision for ``purpose`` withdrew consent (no decision: not opted out)."""
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return False
        latest = uow.consents.latest(guest.id, purpose)
        return latest is not None and not latest.granted
