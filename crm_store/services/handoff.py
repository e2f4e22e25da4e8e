"""Hand a guest's conversation to a human and tell whether a human owns it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from crm_store.clock import Clock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import HandoffStatus, HumanHandoff
from crm_store.services.guests import find_guest, resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

REASON_MAX_LENGTH = 64


@dataclass(frozen=True)
class HandoffInfo:
    """Describe a hand-off: its id, status (``open``, ``claimed`` or ``closed``) and owner (who claimed it)."""

    id: int
    status: str
    owner: str | None = None


def _info(row: HumanHandoff) -> HandoffInfo:
    return HandoffInfo(id=row.id, status=HandoffStatus(row.status).value, owner=row.owner)


def request_human(
    uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, *, reason: str
) -> HandoffInfo:
    """Open a hand-off for the guest, or return the one already open."""
    cleaned = reason.strip().lower() if isinstance(reason, str) else ""
    if not cleaned or len(cleaned) > REASON_MAX_LENGTH:
        raise ValidationError("reason", f"expected 1 to {REASON_MAX_LENGTH} characters")
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        row = uow.handoffs.active_for(guest.id)
        if row is None:
            row = uow.handoffs.add(
                HumanHandoff(
                    guest_id=guest.id,
                    reason=cleaned,
                    status=HandoffStatus.OPEN,
                    created_at=now,
                    updated_at=now,
                )
            )
            log.info("hand-off %s opened for guest %s (reason %s)", row.id, guest.id, cleaned)
        info = _info(row)
        uow.commit()
    return info


def active_handoff(uow: SqlUnitOfWork, channel: str, external_id: str) -> HandoffInfo | None:
    """Return the guest's open or claimed hand-off, if a human owns the conversation."""
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return None
        row = uow.handoffs.active_for(guest.id)
        return _info(row) if row is not None else None


def close_handoff(uow: SqlUnitOfWork, clock: Clock, handoff_id: int, *, owner: str | None = None) -> HandoffInfo:
    """Close a hand-off so the assistant answers the guest again."""
    now = clock.now()
    with uow:
        row = uow.handoffs.get(handoff_id)
        if row is None:
            raise NotFound("handoff", str(handoff_id))
        if row.status != HandoffStatus.CLOSED:
            row.status = HandoffStatus.CLOSED
            row.closed_at = now
            row.updated_at = now
            if owner:
                row.owner = owner[:64]
        info = _info(row)
        uow.commit()
    return info


def claim_handoff(
    uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, *, owner: str, reason: str = "staff_reply"
) -> tuple[HandoffInfo, bool]:
    """Give the guest's conversation to ``owner`` (a human), opening a hand-off if none is active.

    Returns the hand-off and whether its owner changed (a new owner should introduce themselves).
    """
    owner = owner.strip()[:64] if isinstance(owner, str) else ""
    if not owner:
        raise ValidationError("owner", "empty")
    cleaned = reason.strip().lower() if isinstance(reason, str) else ""
    if not cleaned or len(cleaned) > REASON_MAX_LENGTH:
        raise ValidationError("reason", f"expected 1 to {REASON_MAX_LENGTH} characters")
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        row = uow.handoffs.active_for(guest.id)
        if row is None:
            row = uow.handoffs.add(
                HumanHandoff(guest_id=guest.id, reason=cleaned, status=HandoffStatus.CLAIMED, owner=owner,
                             created_at=now, updated_at=now)
            )
            changed = True
        else:
            changed = row.owner != owner or row.status != HandoffStatus.CLAIMED
            row.status = HandoffStatus.CLAIMED
            row.owner = owner
            row.updated_at = now
            flag_modified(row, "updated_at")  # written even if unchanged, so the column's onupdate does not apply
        uow.session.flush()
        info = _info(row)
        uow.commit()
    if changed:
        log.info("hand-off %s claimed by %s", info.id, owner)
    return info, changed


def touch_handoff(uow: SqlUnitOfWork, clock: Clock, handoff_id: int) -> None:
    """Record activity on a hand-off (its idle time starts again)."""
    now = clock.now()
    with uow:
        row = uow.handoffs.get(handoff_id)
        if row is None:
            raise NotFound("handoff", str(handoff_id))
        row.updated_at = now
        flag_modified(row, "updated_at")  # written even if unchanged, so the column's onupdate does not apply
        uow.commit()


def idle_handoffs(uow: SqlUnitOfWork, clock: Clock, idle_for: timedelta) -> list[HandoffInfo]:
    """Return claimed hand-offs with no activity for ``idle_for`` or longer, oldest first."""
    cutoff = clock.now() - idle_for
    with uow:
        rows = uow.session.execute(
            select(HumanHandoff)
            .where(HumanHandoff.status == HandoffStatus.CLAIMED, HumanHandoff.updated_at <= cutoff)
            .order_by(HumanHandoff.updated_at, HumanHandoff.id)
        ).scalars()
        return [_info(row) for row in rows]
