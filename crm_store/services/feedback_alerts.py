"""Tell staff about a guest's feedback (a bad survey or pulse score) through a ``feedback_alert`` follow-up.

The alert is a follow-up like the case alerts of ``cases``: written in the same transaction as the answer
that causes it (so the action server, which must not import ``bot``, causes it exactly once), then
delivered by the scheduler, which stages one staff outbox row (``type: feedback_alert``) addressed to the
rung in the payload. The payload carries the answers and the stay, as JSON-ready values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from crm_store.model import ChannelIdentity, FollowUp, Guest, Stay
from crm_store.services.guests import full_name
from crm_store.unit_of_work import SqlUnitOfWork

KIND_FEEDBACK_ALERT = "feedback_alert"
SOURCE_SURVEY = "survey"
SOURCE_PULSE = "pulse"


def stay_facts(uow: SqlUnitOfWork, guest: Guest, stay: Stay | None, tz: Any) -> dict[str, Any]:
    """Return what staff need to find the guest: name, room, reservation and its hotel-local dates."""
    facts: dict[str, Any] = {"guest": full_name(guest), "guest_id": guest.id}
    if stay is not None:
        facts.update(
            reservation_ref=stay.reservation_ref,
            room=stay.room,
            arrival=stay.arrival.astimezone(tz).date().isoformat(),
            departure=stay.departure.astimezone(tz).date().isoformat(),
            stay_status=str(getattr(stay.status, "value", stay.status)),
        )
    return facts


def schedule_feedback_alert(
    uow: SqlUnitOfWork, now: datetime, *, key: str, subject: str, payload: dict[str, Any]
) -> bool:
    """Insert a ``feedback_alert`` follow-up due now (no-op if ``key`` exists); return whether inserted."""
    return uow.followups.schedule(
        kind=KIND_FEEDBACK_ALERT,
        subject=subject[:128],
        due_at=now,
        idempotency_key=f"feedback-alert:{key}"[:191],
        payload=payload,
        now=now,
    )


def guest_sender(uow: SqlUnitOfWork, guest_id: int) -> str | None:
    """Return the Rasa sender id (``<channel>:<external id>``) of the guest's most recently linked chat."""
    identity = (
        uow.session.execute(
            select(ChannelIdentity)
            .where(ChannelIdentity.guest_id == guest_id)
            .order_by(ChannelIdentity.linked_at.desc(), ChannelIdentity.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    return f"{identity.channel}:{identity.external_id}" if identity is not None else None


def note_followup(uow: SqlUnitOfWork, key: str, now: datetime, **values: Any) -> bool:
    """Merge ``values`` into the payload of the follow-up with ``key`` (the record of what it did)."""
    row = uow.session.execute(select(FollowUp).where(FollowUp.idempotency_key == key)).scalar_one_or_none()
    if row is None:
        return False
    row.payload = {**(row.payload or {}), **values}
    row.updated_at = now
    uow.session.flush()
    return True
