"""Back the Telegram staff desk: who is staff, what a case card shows, where each card lives, who owns a chat.

The case lifecycle itself (acknowledge, resolve, escalate) lives in ``crm_store.services.cases``; this module only
reads complaints for their cards and remembers the cards (``StaffCard``: one per complaint, with its chat and
message id, how many photos were posted under it, the hand-off it is linked to, and the display names of the
staff who acted on it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from crm_store.clock import Clock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import (
    ChannelIdentity,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    HandoffStatus,
    HumanHandoff,
    StaffCard,
    StaffMember,
)
from crm_store.policy import SlaPolicy
from crm_store.services.cases import CaseInfo, case_info
from crm_store.services.guests import find_guest, full_name
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

LIVE_STATES: tuple[ComplaintStatus, ...] = (
    ComplaintStatus.OPEN,
    ComplaintStatus.REOPENED,
    ComplaintStatus.ACKNOWLEDGED,
)
NAME_MAX_LENGTH = 80
OPEN_CASES_LIMIT = 50


@dataclass(frozen=True)
class StaffInfo:
    """Describe an active StaffMember row."""

    telegram_user_id: int
    name: str
    role: str
    on_duty: bool


@dataclass(frozen=True)
class CardInfo:
    """Say where a complaint's card is and what was done with it."""

    reference: str
    chat_id: int
    message_id: int
    photos_posted: int
    handoff_id: int | None
    names: dict[str, str]


@dataclass(frozen=True)
class CaseCard:
    """Hold everything a case card shows, read in one transaction."""

    case: CaseInfo
    description: str
    guest_name: str | None
    guest_verified: bool
    photos: tuple[str, ...]
    events: tuple[tuple[str, str, datetime, dict[str, Any]], ...]
    card: CardInfo | None
    contact: tuple[str, str] | None
    handoff_owner: str | None


@dataclass(frozen=True)
class OwnedConversation:
    """Describe a guest conversation a human owns: the hand-off and the card to reply under (if any)."""

    handoff_id: int
    owner: str | None
    reference: str | None
    chat_id: int | None
    message_id: int | None


def _normalise(reference: str) -> str:
    value = reference.strip().upper() if isinstance(reference, str) else ""
    if not value:
        raise ValidationError("reference", "empty")
    return value


def _card_info(row: StaffCard) -> CardInfo:
    return CardInfo(
        reference=row.reference,
        chat_id=int(row.chat_id),
        message_id=int(row.message_id),
        photos_posted=int(row.photos_posted or 0),
        handoff_id=row.handoff_id,
        names=dict(row.names or {}),
    )


def _card_row(uow: SqlUnitOfWork, reference: str) -> StaffCard | None:
    return uow.session.execute(select(StaffCard).where(StaffCard.reference == reference)).scalar_one_or_none()


def _contact(uow: SqlUnitOfWork, guest_id: int) -> tuple[str, str] | None:
    """Return the guest's most recently linked (channel, external id), if any."""
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
    return (identity.channel, identity.external_id) if identity is not None else None


def staff_member(uow: SqlUnitOfWork, telegram_user_id: int) -> StaffInfo | None:
    """Return the active staff member with this Telegram user id, if any."""
    with uow:
        row = uow.session.execute(
            select(StaffMember).where(StaffMember.telegram_user_id == int(telegram_user_id))
        ).scalar_one_or_none()
        if row is None or not row.active:
            return None
        return StaffInfo(int(row.telegram_user_id), row.name, row.role, bool(row.on_duty))


def case_card(uow: SqlUnitOfWork, policy: SlaPolicy, reference: str) -> CaseCard:
    """Return what the card of complaint ``reference`` shows, or raise NotFound."""
    normalised = _normalise(reference)
    with uow:
        complaint = uow.complaints.get_by_reference(normalised)
        if complaint is None:
            raise NotFound("complaint", normalised)
        guest = uow.guests.get(complaint.guest_id)
        card = _card_row(uow, normalised)
        owner = None
        if card is not None and card.handoff_id is not None:
            handoff = uow.handoffs.get(card.handoff_id)
            if handoff is not None and handoff.status == HandoffStatus.CLAIMED:
                owner = handoff.owner
        return CaseCard(
            case=case_info(uow, policy, complaint),
            description=complaint.description,
            guest_name=full_name(guest) if guest is not None else None,
            guest_verified=bool(complaint.guest_verified or (guest is not None and guest.verified)),
            photos=tuple(a.file_ref for a in uow.complaints.attachments(complaint.id) if a.kind == "photo"),
            events=tuple(
                (e.kind, e.actor, e.at, dict(e.detail or {})) for e in uow.complaints.events(complaint.id)
            ),
            card=_card_info(card) if card is not None else None,
            contact=_contact(uow, complaint.guest_id),
            handoff_owner=owner,
        )


def get_card(uow: SqlUnitOfWork, reference: str) -> CardInfo | None:
    """Return the card of complaint ``reference``, if one was posted."""
    with uow:
        row = _card_row(uow, _normalise(reference))
        return _card_info(row) if row is not None else None


def save_card(uow: SqlUnitOfWork, clock: Clock, reference: str, chat_id: int, message_id: int) -> CardInfo:
    """Remember (or move) the card of complaint ``reference``; a re-posted card starts its photos again."""
    normalised = _normalise(reference)
    now = clock.now()
    with uow:
        row = _card_row(uow, normalised)
        if row is None:
            row = StaffCard(reference=normalised, names={}, photos_posted=0, created_at=now)
            uow.session.add(row)
        row.chat_id = int(chat_id)
        row.message_id = int(message_id)
        row.photos_posted = 0
        row.updated_at = now
        uow.session.flush()
        info = _card_info(row)
        uow.commit()
    return info


def _update_card(uow: SqlUnitOfWork, clock: Clock, reference: str, **values: Any) -> CardInfo | None:
    now = clock.now()
    with uow:
        row = _card_row(uow, _normalise(reference))
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        uow.session.flush()
        info = _card_info(row)
        uow.commit()
    return info


def set_photos_posted(uow: SqlUnitOfWork, clock: Clock, reference: str, count: int) -> CardInfo | None:
    """Record how many of the complaint's photos are already under its card."""
    return _update_card(uow, clock, reference, photos_posted=max(0, int(count)))


def link_handoff(uow: SqlUnitOfWork, clock: Clock, reference: str, handoff_id: int) -> CardInfo | None:
    """Link the card to the hand-off of its guest (the guest's messages are then posted under this card)."""
    return _update_card(uow, clock, reference, handoff_id=int(handoff_id))


def note_name(uow: SqlUnitOfWork, clock: Clock, reference: str, actor: str, name: str) -> CardInfo | None:
    """Remember the display name of the staff member behind ``actor`` (e.g. ``tg:42``) on the card."""
    cleaned = " ".join(str(name or "").split())[:NAME_MAX_LENGTH]
    if not cleaned:
        return get_card(uow, reference)
    now = clock.now()
    with uow:
        row = _card_row(uow, _normalise(reference))
        if row is None:
            return None
        names = dict(row.names or {})
        if names.get(actor) != cleaned:
            names[actor] = cleaned
            row.names = names
            row.updated_at = now
            uow.session.flush()
        info = _card_info(row)
        uow.commit()
    return info


def cards_for_handoff(uow: SqlUnitOfWork, handoff_id: int) -> list[CardInfo]:
    """Return the cards linked to a hand-off, most recently touched first."""
    with uow:
        rows = uow.session.execute(
            select(StaffCard)
            .where(StaffCard.handoff_id == int(handoff_id))
            .order_by(StaffCard.updated_at.desc(), StaffCard.id.desc())
        ).scalars()
        return [_card_info(row) for row in rows]


def owned_conversation(uow: SqlUnitOfWork, channel: str, external_id: str) -> OwnedConversation | None:
    """Return the conversation's claimed hand-off and the card to reply under, if a human owns it."""
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return None
        handoff = uow.handoffs.active_for(guest.id)
        if handoff is None or handoff.status != HandoffStatus.CLAIMED:
            return None
        card = (
            uow.session.execute(
                select(StaffCard)
                .where(StaffCard.handoff_id == handoff.id)
                .order_by(StaffCard.updated_at.desc(), StaffCard.id.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )
        return OwnedConversation(
            handoff_id=handoff.id,
            owner=handoff.owner,
            reference=card.reference if card is not None else None,
            chat_id=int(card.chat_id) if card is not None else None,
            message_id=int(card.message_id) if card is not None else None,
        )


def handoff_state(uow: SqlUnitOfWork, handoff_id: int) -> tuple[bool, tuple[str, str] | None] | None:
    """Return (whether a human still owns it, the guest's (channel, external id)) of a hand-off, or None."""
    with uow:
        row = uow.session.get(HumanHandoff, int(handoff_id))
        if row is None:
            return None
        return row.status == HandoffStatus.CLAIMED, _contact(uow, row.guest_id)


def open_cases(uow: SqlUnitOfWork, policy: SlaPolicy, limit: int = OPEN_CASES_LIMIT) -> list[CaseInfo]:
    """Return unresolved cases (open, reopened, acknowledged) by their next deadline, earliest first."""
    with uow:
        rows = list(
            uow.session.execute(select(Complaint).where(Complaint.status.in_(LIVE_STATES))).scalars()
        )
        infos = [case_info(uow, policy, row) for row in rows]
    infos.sort(key=lambda info: (next_deadline(info), info.reference))
    return infos[:limit]


def next_deadline(info: CaseInfo) -> datetime:
    """Return the deadline that applies now: acknowledgement until acknowledged, then resolution."""
    if info.status == ComplaintStatus.ACKNOWLEDGED.value and info.resolve_due_at is not None:
        return info.resolve_due_at
    return info.ack_due_at



def record_desk_event(uow: SqlUnitOfWork, clock: Clock, reference: str, kind: str, actor: str, **detail: Any) -> bool:
    """Append a staff-desk step (``staff_replied``, ``handed_back``) to the complaint's event trail, with who and when.

    The lifecycle transitions (acknowledged, resolved, escalated …) are written by ``cases``; these steps do not
    change the case's status. Returns False for an unknown reference.
    """
    now = clock.now()
    with uow:
        complaint = uow.complaints.get_by_reference(_normalise(reference))
        if complaint is None:
            return False
        uow.complaints.add_event(
            ComplaintEvent(
                complaint_id=complaint.id, kind=kind[:32], actor=actor[:64], detail=detail or None,
                at=now, created_at=now, updated_at=now,
            )
        )
        uow.commit()
    return True
