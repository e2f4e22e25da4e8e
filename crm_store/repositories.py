"""Read and write crm_store rows inside the caller's session; repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.model import (
    ChannelIdentity,
    Complaint,
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintStatus,
    ConsentRecord,
    FollowUp,
    FollowUpStatus,
    Guest,
    HandoffStatus,
    HumanHandoff,
    InboundMessage,
    InboundStatus,
    InvitationStatus,
    OutboundMessage,
    OutboundStatus,
    Preference,
    PreferenceStatus,
    ProcessedUpdate,
    Stay,
    StayStatus,
    SurveyInvitation,
    SurveyResponse,
)


def insert_ignoring_conflict(
    session: Session, entity: Any, values: dict[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """Insert one row unless it collides on ``conflict_columns``; return whether a row was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        statement = (
            module.insert(entity)
            .values(**values)
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
        )
        return session.execute(statement).rowcount == 1
    criteria = [getattr(entity, column) == values[column] for column in conflict_columns]
    if session.execute(select(entity.id).where(*criteria)).first() is not None:
        return False
    session.add(entity(**values))
    session.flush()
    return True


UNRESOLVED: tuple[ComplaintStatus, ...] = (
    ComplaintStatus.OPEN,
    ComplaintStatus.ACKNOWLEDGED,
    ComplaintStatus.REOPENED,
)


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Any) -> Any:
        """Stage ``row`` for insertion and flush so it gets its id."""
        self.session.add(row)
        self.session.flush()
        return row


class GuestRepository(_Repository):
    """Load and store guests."""

    def get(self, guest_id: int) -> Guest | None:
        """Return the guest with ``guest_id``, if any."""
        return self.session.get(Guest, guest_id)

    def lock(self, guest_id: int, now: datetime) -> None:
        """Serialise use cases of one guest: touch the row so concurrent writers wait until we commit."""
        self.session.execute(
            update(Guest)
            .where(Guest.id == guest_id)
            .values(updated_at=now)
            .execution_options(synchronize_session="evaluate")
        )

    def delete(self, guest: Guest) -> None:
        """Remove ``guest`` (used to undo a guest created in a lost race)."""
        self.session.delete(guest)
        self.session.flush()

    def reassign_rows(self, source_id: int, target_id: int, now: datetime) -> None:
        """Move every row that belongs to guest ``source_id`` over to guest ``target_id``."""
        for model in GUEST_OWNED_MODELS:
            self.session.execute(
                update(model)
                .where(model.guest_id == source_id)
                .values(guest_id=target_id, updated_at=now)
                .execution_options(synchronize_session="fetch")
            )


class IdentityRepository(_Repository):
    """Resolve channel identities to guests."""

    def find(self, channel: str, external_id: str) -> ChannelIdentity | None:
        """Return the identity for (channel, external_id), if any."""
        return self.session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).scalar_one_or_none()

    def find_guest(self, channel: str, external_id: str) -> Guest | None:
        """Return the guest behind (channel, external_id), if any."""
        return self.session.execute(
            select(Guest)
            .join(ChannelIdentity, ChannelIdentity.guest_id == Guest.id)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        ).scalar_one_or_none()

    def link_if_absent(self, channel: str, external_id: str, guest_id: int, now: datetime) -> bool:
        """Link (channel, external_id) to ``guest_id`` unless already linked; return whether linked now."""
        return insert_ignoring_conflict(
            self.session,
            ChannelIdentity,
            {
                "channel": channel,
                "external_id": external_id,
                "guest_id": guest_id,
                "linked_at": now,
                "created_at": now,
                "updated_at": now,
            },
            ("channel", "external_id"),
        )


class StayRepository(_Repository):
    """Load reservations."""

    def get_by_reference(self, reservation_ref: str) -> Stay | None:
        """Return the stay with PMS reference ``reservation_ref``, if any."""
        return self.session.execute(
            select(Stay).where(Stay.reservation_ref == reservation_ref)
        ).scalar_one_or_none()

    def current_for(self, guest_id: int, now: datetime) -> Stay | None:
        """Return the guest's current stay: in house, or booked with arrival <= now <= departure."""
        in_window = and_(
            Stay.arrival <= now,
            Stay.departure >= now,
            Stay.status.in_([StayStatus.BOOKED, StayStatus.IN_HOUSE]),
        )
        return (
            self.session.execute(
                select(Stay)
                .where(Stay.guest_id == guest_id, or_(Stay.status == StayStatus.IN_HOUSE, in_window))
                .order_by((Stay.status == StayStatus.IN_HOUSE).desc(), Stay.arrival.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )

    def latest_started_for(self, guest_id: int, now: datetime) -> Stay | None:
        """Return the guest's most recent stay that has begun (current or past), if any."""
        return (
            self.session.execute(
                select(Stay)
                .where(
                    Stay.guest_id == guest_id,
                    Stay.arrival <= now,
                    Stay.status.notin_([StayStatus.CANCELLED, StayStatus.NO_SHOW]),
                )
                .order_by(Stay.arrival.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )

    def count_earlier(self, guest_id: int, now: datetime, exclude_id: int | None) -> int:
        """Count the guest's stays that began before now, other than ``exclude_id``."""
        statement = select(func.count(Stay.id)).where(
            Stay.guest_id == guest_id,
            Stay.arrival <= now,
            Stay.status.notin_([StayStatus.CANCELLED, StayStatus.NO_SHOW]),
        )
        if exclude_id is not None:
            statement = statement.where(Stay.id != exclude_id)
        return int(self.session.execute(statement).scalar_one())


class PreferenceRepository(_Repository):
    """Load and store preferences."""

    def active(self, guest_id: int, category: str | None = None) -> list[Preference]:
        """Return the guest's active preferences, oldest first, optionally of one category."""
        statement = select(Preference).where(
            Preference.guest_id == guest_id, Preference.status == PreferenceStatus.ACTIVE
        )
        if category is not None:
            statement = statement.where(Preference.category == category)
        return list(
            self.session.execute(statement.order_by(Preference.captured_at, Preference.id)).scalars()
        )

    def count_active(self, guest_id: int) -> int:
        """Count the guest's active preferences."""
        return int(
            self.session.execute(
                select(func.count(Preference.id)).where(
                    Preference.guest_id == guest_id, Preference.status == PreferenceStatus.ACTIVE
                )
            ).scalar_one()
        )


class ComplaintRepository(_Repository):
    """Load and store complaints, their events and attachments."""

    def get_by_reference(self, reference: str) -> Complaint | None:
        """Return the complaint with ``reference``, if any."""
        return self.session.execute(
            select(Complaint).where(Complaint.reference == reference)
        ).scalar_one_or_none()

    def reference_exists(self, reference: str) -> bool:
        """Tell whether ``reference`` is already taken."""
        return (
            self.session.execute(select(Complaint.id).where(Complaint.reference == reference)).first()
            is not None
        )

    def count_for_guest(self, guest_id: int) -> int:
        """Count the guest's complaints."""
        return int(
            self.session.execute(
                select(func.count(Complaint.id)).where(Complaint.guest_id == guest_id)
            ).scalar_one()
        )

    def add_event(self, event: ComplaintEvent) -> ComplaintEvent:
        """Append one audit event."""
        return self.add(event)

    def events(self, complaint_id: int) -> list[ComplaintEvent]:
        """Return a complaint's audit trail, oldest first."""
        return list(
            self.session.execute(
                select(ComplaintEvent)
                .where(ComplaintEvent.complaint_id == complaint_id)
                .order_by(ComplaintEvent.at, ComplaintEvent.id)
            ).scalars()
        )

    def add_attachment(self, attachment: ComplaintAttachment) -> ComplaintAttachment:
        """Attach evidence to a complaint."""
        return self.add(attachment)

    def attachments(self, complaint_id: int) -> list[ComplaintAttachment]:
        """Return a complaint's attachments, oldest first."""
        return list(
            self.session.execute(
                select(ComplaintAttachment)
                .where(ComplaintAttachment.complaint_id == complaint_id)
                .order_by(ComplaintAttachment.id)
            ).scalars()
        )

    def unresolved_for(self, guest_id: int) -> list[Complaint]:
        """Return the guest's complaints that are open, acknowledged or reopened, oldest first."""
        return list(
            self.session.execute(
                select(Complaint)
                .where(Complaint.guest_id == guest_id, Complaint.status.in_(UNRESOLVED))
                .order_by(Complaint.opened_at, Complaint.id)
            ).scalars()
        )

    def latest_unresolved_since(self, guest_id: int, since: datetime) -> Complaint | None:
        """Return the guest's newest complaint opened at or after ``since`` that is not resolved yet."""
        return (
            self.session.execute(
                select(Complaint)
                .where(
                    Complaint.guest_id == guest_id,
                    Complaint.opened_at >= since,
                    Complaint.status.in_(UNRESOLVED),
                )
                .order_by(Complaint.opened_at.desc(), Complaint.id.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )


class SurveyRepository(_Repository):
    """Load and store survey invitations and responses."""

    def open_invitation(self, guest_id: int, stay_id: int | None) -> SurveyInvitation | None:
        """Return the guest's newest unanswered invitation (for ``stay_id`` when given)."""
        statement = select(SurveyInvitation).where(
            SurveyInvitation.guest_id == guest_id,
            SurveyInvitation.status.in_(
                [InvitationStatus.PENDING, InvitationStatus.SENT, InvitationStatus.REMINDED]
            ),
        )
        if stay_id is not None:
            statement = statement.where(SurveyInvitation.stay_id == stay_id)
        return (
            self.session.execute(statement.order_by(SurveyInvitation.id.desc()).limit(1))
            .scalars()
            .first()
        )

    def count_responses(self, guest_id: int) -> int:
        """Count the guest's survey responses."""
        return int(
            self.session.execute(
                select(func.count(SurveyResponse.id)).where(SurveyResponse.guest_id == guest_id)
            ).scalar_one()
        )

    def get_response(self, response_id: int) -> SurveyResponse | None:
        """Return one survey response, if any."""
        return self.session.get(SurveyResponse, response_id)


class FollowUpRepository(_Repository):
    """Schedule and claim follow-ups idempotently."""

    def schedule(
        self,
        *,
        kind: str,
        subject: str,
        due_at: datetime,
        idempotency_key: str,
        now: datetime,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Insert a pending follow-up unless its key exists; return whether it was inserted."""
        return insert_ignoring_conflict(
            self.session,
            FollowUp,
            {
                "kind": kind,
                "subject": subject,
                "payload": payload,
                "due_at": due_at,
                "status": FollowUpStatus.PENDING,
                "attempts": 0,
                "idempotency_key": idempotency_key,
                "created_at": now,
                "updated_at": now,
            },
            ("idempotency_key",),
        )

    def get_by_key(self, idempotency_key: str) -> FollowUp | None:
        """Return the follow-up with ``idempotency_key``, if any."""
        return self.session.execute(
            select(FollowUp).where(FollowUp.idempotency_key == idempotency_key)
        ).scalar_one_or_none()

    def due(self, now: datetime, limit: int = 50) -> list[FollowUp]:
        """Return pending follow-ups due at or before ``now``, earliest first."""
        return list(
            self.session.execute(
                select(FollowUp)
                .where(FollowUp.status == FollowUpStatus.PENDING, FollowUp.due_at <= now)
                .order_by(FollowUp.due_at, FollowUp.id)
                .limit(limit)
            ).scalars()
        )

    def next_due_at(self) -> datetime | None:
        """Return the earliest due time among pending follow-ups."""
        return self.session.execute(
            select(func.min(FollowUp.due_at)).where(FollowUp.status == FollowUpStatus.PENDING)
        ).scalar_one()

    def claim(self, follow_up_id: int, worker: str, now: datetime) -> bool:
        """Move one follow-up from pending to claimed, only if still pending; return whether we won."""
        result = self.session.execute(
            update(FollowUp)
            .where(FollowUp.id == follow_up_id, FollowUp.status == FollowUpStatus.PENDING)
            .values(
                status=FollowUpStatus.CLAIMED,
                claimed_at=now,
                claimed_by=worker,
                attempts=FollowUp.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


class ConsentRepository(_Repository):
    """Store consent decisions."""

    def latest(self, guest_id: int, purpose: str) -> ConsentRecord | None:
        """Return the guest's latest consent decision for ``purpose``."""
        return (
            self.session.execute(
                select(ConsentRecord)
                .where(ConsentRecord.guest_id == guest_id, ConsentRecord.purpose == purpose)
                .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )


class HandoffRepository(_Repository):
    """Load and store hand-offs to humans."""

    def active_for(self, guest_id: int) -> HumanHandoff | None:
        """Return the guest's open or claimed hand-off, if any."""
        return (
            self.session.execute(
                select(HumanHandoff)
                .where(
                    HumanHandoff.guest_id == guest_id,
                    HumanHandoff.status.in_([HandoffStatus.OPEN, HandoffStatus.CLAIMED]),
                )
                .order_by(HumanHandoff.id.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )

    def get(self, handoff_id: int) -> HumanHandoff | None:
        """Return one hand-off, if any."""
        return self.session.get(HumanHandoff, handoff_id)


class ProcessedUpdateRepository(_Repository):
    """Remember which inbound updates were already handled."""

    def record(self, source: str, update_id: int, now: datetime) -> bool:
        """Record (source, update_id) unless present; return whether it is new."""
        return insert_ignoring_conflict(
            self.session,
            ProcessedUpdate,
            {"source": source, "update_id": update_id, "created_at": now, "updated_at": now},
            ("source", "update_id"),
        )


class OutboxRepository(_Repository):
    """Store outbound messages and their delivery outcome."""

    def get(self, message_id: int) -> OutboundMessage | None:
        """Return one outbound message, if any."""
        return self.session.get(OutboundMessage, message_id)

    def by_status(
        self, status: OutboundStatus, limit: int = 100, *, channel: str | None = None
    ) -> list[OutboundMessage]:
        """Return outbound messages in ``status`` (of ``channel`` if given), oldest first."""
        statement = select(OutboundMessage).where(OutboundMessage.status == status)
        if channel is not None:
            statement = statement.where(OutboundMessage.channel == channel)
        return list(self.session.execute(statement.order_by(OutboundMessage.id).limit(limit)).scalars())


class InboxRepository(_Repository):
    """Keep guest messages that could not be answered yet."""

    def get(self, message_id: int) -> InboundMessage | None:
        """Return one kept message, if any."""
        return self.session.get(InboundMessage, message_id)

    def pending(self, limit: int = 50) -> list[InboundMessage]:
        """Return pending messages, oldest first."""
        return list(
            self.session.execute(
                select(InboundMessage)
                .where(InboundMessage.status == InboundStatus.PENDING)
                .order_by(InboundMessage.received_at, InboundMessage.id)
                .limit(limit)
            ).scalars()
        )

    def requeue_received(self, now: datetime) -> int:
        """Turn every ``received`` row (its gateway stopped while answering it) into a ``pending`` one."""
        result = self.session.execute(
            update(InboundMessage)
            .where(InboundMessage.status == InboundStatus.RECEIVED)
            .values(status=InboundStatus.PENDING, last_error="gateway stopped while answering", updated_at=now)
        )
        return int(result.rowcount or 0)

    def count_pending_for(self, channel: str, external_id: str) -> int:
        """Count the pending messages of one conversation."""
        return int(
            self.session.execute(
                select(func.count(InboundMessage.id)).where(
                    InboundMessage.channel == channel,
                    InboundMessage.external_id == external_id,
                    InboundMessage.status == InboundStatus.PENDING,
                )
            ).scalar_one()
        )


GUEST_OWNED_MODELS: tuple[Any, ...] = (
    ChannelIdentity,
    Stay,
    Preference,
    Complaint,
    SurveyInvitation,
    SurveyResponse,
    ConsentRecord,
    HumanHandoff,
)
