"""Declare the crm_store tables, their enums and the aware-UTC datetime column type."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import DateTime, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base: Any = declarative_base(metadata=metadata)


class UtcDateTime(TypeDecorator):
    """Store aware datetimes as UTC and always load them back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; convert to UTC (naive UTC on SQLite, which has no zone type)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """Return the wall-clock time in UTC (default for audit columns only)."""
    return datetime.now(timezone.utc)


def _enum(cls: type[enum.Enum], length: int) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class StayStatus(str, enum.Enum):
    """Name the states of a PMS reservation."""

    BOOKED = "booked"
    IN_HOUSE = "in_house"
    CHECKED_OUT = "checked_out"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class PreferenceStatus(str, enum.Enum):
    """Name the states of a stored preference."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DELETED = "deleted"


class ComplaintCategory(str, enum.Enum):
    """Name the complaint categories shared with hotel_nlu."""

    CLEANLINESS = "cleanliness"
    NOISE = "noise"
    MAINTENANCE = "maintenance"
    STAFF = "staff"
    BILLING = "billing"
    FOOD_BEVERAGE = "food_beverage"
    AMENITIES = "amenities"
    CHECK_IN = "check_in"
    SAFETY = "safety"
    OTHER = "other"


class Severity(str, enum.Enum):
    """Name complaint severities."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ComplaintStatus(str, enum.Enum):
    """Name the states of a complaint: open → acknowledged → resolved → confirmed | reopened."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    CLOSED_UNCONFIRMED = "closed_unconfirmed"


class InvitationStatus(str, enum.Enum):
    """Name the states of a survey invitation."""

    PENDING = "pending"
    SENT = "sent"
    REMINDED = "reminded"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class FollowUpStatus(str, enum.Enum):
    """Name the states of a scheduled follow-up: pending → claimed → sent | failed | cancelled."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboundStatus(str, enum.Enum):
    """Name the delivery states of an outbox message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class InboundStatus(str, enum.Enum):
    """Name the states of a guest message kept while the dialogue service was unreachable.

    ``received``: journalled when the gateway took the update and still being answered; the row is deleted
    once answered, or becomes ``pending`` if it has to wait (or if the gateway died while answering it).
    """

    RECEIVED = "received"
    PENDING = "pending"
    ANSWERED = "answered"
    FAILED = "failed"


class HandoffStatus(str, enum.Enum):
    """Name the states of a hand-off to a human."""

    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class TimestampMixin:
    """Add created_at / updated_at audit columns (aware UTC)."""

    created_at = Column(UtcDateTime(), nullable=False, default=utcnow)
    updated_at = Column(UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow)


class Guest(TimestampMixin, Base):
    """Hold one guest's identity and contact data."""

    __tablename__ = "guest"

    id = Column(Integer, primary_key=True)
    first_name = Column(String(80), nullable=True)
    last_name = Column(String(80), nullable=True)
    email = Column(String(254), nullable=True)
    phone = Column(String(32), nullable=True)
    language = Column(String(16), nullable=True)
    verified = Column(Boolean, nullable=False, default=False)


class ChannelIdentity(TimestampMixin, Base):
    """Map a (channel, external id) pair, e.g. ("tg", chat id), to a guest."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    external_id = Column(String(128), nullable=False)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False, index=True)
    linked_at = Column(UtcDateTime(), nullable=False)


class Stay(TimestampMixin, Base):
    """Hold one PMS reservation of a guest."""

    __tablename__ = "stay"
    __table_args__ = (Index("ix_stay_guest_id_arrival", "guest_id", "arrival"),)

    id = Column(Integer, primary_key=True)
    reservation_ref = Column(String(64), nullable=False, unique=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False)
    room = Column(String(16), nullable=True)
    arrival = Column(UtcDateTime(), nullable=False)
    departure = Column(UtcDateTime(), nullable=False)
    status = Column(_enum(StayStatus, 16), nullable=False, default=StayStatus.BOOKED)
    language = Column(String(16), nullable=True)


class Preference(TimestampMixin, Base):
    """Hold one typed guest preference and its provenance."""

    __tablename__ = "preference"
    __table_args__ = (
        Index("ix_preference_guest_id_category_status", "guest_id", "category", "status"),
    )

    id = Column(Integer, primary_key=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False)
    category = Column(String(32), nullable=False)
    value = Column(String(128), nullable=False)
    source_text = Column(Text, nullable=True)
    captured_at = Column(UtcDateTime(), nullable=False)
    confidence = Column(Float, nullable=False, default=1.0)
    status = Column(_enum(PreferenceStatus, 16), nullable=False, default=PreferenceStatus.ACTIVE)
    superseded_by = Column(Integer, ForeignKey("preference.id", ondelete="SET NULL"), nullable=True)


class Complaint(TimestampMixin, Base):
    """Hold one complaint, its triage and its service-level clock."""

    __tablename__ = "complaint"
    __table_args__ = (Index("ix_complaint_status_ack_due_at", "status", "ack_due_at"),)

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False, index=True)
    stay_id = Column(Integer, ForeignKey("stay.id", ondelete="SET NULL"), nullable=True)
    category = Column(_enum(ComplaintCategory, 16), nullable=False)
    severity = Column(_enum(Severity, 8), nullable=False)
    room = Column(String(16), nullable=True)
    description = Column(Text, nullable=False)
    status = Column(_enum(ComplaintStatus, 20), nullable=False, default=ComplaintStatus.OPEN)
    opened_at = Column(UtcDateTime(), nullable=False)
    ack_due_at = Column(UtcDateTime(), nullable=False)
    resolve_due_at = Column(UtcDateTime(), nullable=True)
    acknowledged_at = Column(UtcDateTime(), nullable=True)
    resolved_at = Column(UtcDateTime(), nullable=True)
    escalation_level = Column(Integer, nullable=False, default=0)
    guest_verified = Column(Boolean, nullable=False, default=False)


class ComplaintEvent(TimestampMixin, Base):
    """Record one step of a complaint's audit trail: who did what, when."""

    __tablename__ = "complaint_event"

    id = Column(Integer, primary_key=True)
    complaint_id = Column(
        Integer, ForeignKey("complaint.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(32), nullable=False)
    actor = Column(String(64), nullable=False)
    detail = Column(JSON, nullable=True)
    at = Column(UtcDateTime(), nullable=False)


class ComplaintAttachment(TimestampMixin, Base):
    """Reference evidence attached to a complaint (a photo's Telegram file id, a stored file)."""

    __tablename__ = "complaint_attachment"

    id = Column(Integer, primary_key=True)
    complaint_id = Column(
        Integer, ForeignKey("complaint.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(16), nullable=False)
    file_ref = Column(String(512), nullable=False)
    caption = Column(Text, nullable=True)


class SurveyInvitation(TimestampMixin, Base):
    """Track the survey invitation sent for one stay."""

    __tablename__ = "survey_invitation"

    id = Column(Integer, primary_key=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False, index=True)
    stay_id = Column(Integer, ForeignKey("stay.id", ondelete="CASCADE"), nullable=False, unique=True)
    status = Column(_enum(InvitationStatus, 16), nullable=False, default=InvitationStatus.PENDING)
    sent_at = Column(UtcDateTime(), nullable=True)
    reminded_at = Column(UtcDateTime(), nullable=True)
    answered_at = Column(UtcDateTime(), nullable=True)


class SurveyResponse(TimestampMixin, Base):
    """Hold a guest's survey answers (partial answers allowed until completed)."""

    __tablename__ = "survey_response"

    id = Column(Integer, primary_key=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False, index=True)
    stay_id = Column(Integer, ForeignKey("stay.id", ondelete="SET NULL"), nullable=True)
    invitation_id = Column(
        Integer, ForeignKey("survey_invitation.id", ondelete="SET NULL"), nullable=True
    )
    nps = Column(Integer, nullable=True)
    service = Column(Integer, nullable=True)
    facilities = Column(Integer, nullable=True)
    cleanliness = Column(Integer, nullable=True)
    value = Column(Integer, nullable=True)
    comment = Column(Text, nullable=True)
    topics = Column(JSON, nullable=True)
    sentiment = Column(String(16), nullable=True)
    completed = Column(Boolean, nullable=False, default=False)
    submitted_at = Column(UtcDateTime(), nullable=True)
    recovery_reference = Column(
        String(16), ForeignKey("complaint.reference", ondelete="SET NULL"), nullable=True
    )


class FollowUp(TimestampMixin, Base):
    """Hold one thing to do later; the unique idempotency key makes re-inserting a no-op."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_status_due_at", "status", "due_at"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(32), nullable=False)
    subject = Column(String(128), nullable=False)
    payload = Column(JSON, nullable=True)
    due_at = Column(UtcDateTime(), nullable=False)
    status = Column(_enum(FollowUpStatus, 16), nullable=False, default=FollowUpStatus.PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    claimed_at = Column(UtcDateTime(), nullable=True)
    claimed_by = Column(String(64), nullable=True)
    last_error = Column(Text, nullable=True)
    idempotency_key = Column(String(191), nullable=False, unique=True)
    sent_at = Column(UtcDateTime(), nullable=True)


class StaffMember(TimestampMixin, Base):
    """Hold one allow-listed staff member of the Telegram staff desk."""

    __tablename__ = "staff_member"

    id = Column(Integer, primary_key=True)
    telegram_user_id = Column(BigInteger, nullable=False, unique=True)
    name = Column(String(80), nullable=False)
    role = Column(String(32), nullable=False, default="staff")
    on_duty = Column(Boolean, nullable=False, default=False)
    active = Column(Boolean, nullable=False, default=True)


class ConsentRecord(TimestampMixin, Base):
    """Record that a guest granted or withdrew consent for a purpose."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_record_guest_id_purpose", "guest_id", "purpose"),)

    id = Column(Integer, primary_key=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False)
    purpose = Column(String(32), nullable=False)
    granted = Column(Boolean, nullable=False)
    source = Column(String(32), nullable=False)
    at = Column(UtcDateTime(), nullable=False)


class OutboundMessage(TimestampMixin, Base):
    """Hold one message waiting in the outbox, with its delivery attempts."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_message_status", "status"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    recipient = Column(String(128), nullable=False)
    body = Column(JSON, nullable=False)
    status = Column(_enum(OutboundStatus, 16), nullable=False, default=OutboundStatus.PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text, nullable=True)
    sent_at = Column(UtcDateTime(), nullable=True)


class ProcessedUpdate(TimestampMixin, Base):
    """Remember an inbound update id already handled (idempotent webhooks)."""

    __tablename__ = "processed_update"
    __table_args__ = (UniqueConstraint("source", "update_id"),)

    id = Column(Integer, primary_key=True)
    source = Column(String(32), nullable=False)
    update_id = Column(BigInteger, nullable=False)


class InboundMessage(TimestampMixin, Base):
    """Hold a guest message received while Rasa was unreachable, until it has been answered."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_status_received_at", "status", "received_at"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    external_id = Column(String(128), nullable=False)
    text = Column(Text, nullable=False)
    status = Column(_enum(InboundStatus, 16), nullable=False, default=InboundStatus.PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text, nullable=True)
    received_at = Column(UtcDateTime(), nullable=False)
    answered_at = Column(UtcDateTime(), nullable=True)


class HumanHandoff(TimestampMixin, Base):
    """Track a guest's conversation handed to a human."""

    __tablename__ = "human_handoff"
    __table_args__ = (Index("ix_human_handoff_guest_id_status", "guest_id", "status"),)

    id = Column(Integer, primary_key=True)
    guest_id = Column(Integer, ForeignKey("guest.id", ondelete="CASCADE"), nullable=False)
    reason = Column(String(64), nullable=False)
    status = Column(_enum(HandoffStatus, 16), nullable=False, default=HandoffStatus.OPEN)
    owner = Column(String(64), nullable=True)
    closed_at = Column(UtcDateTime(), nullable=True)


class StaffCard(TimestampMixin, Base):
    """Remember the staff-desk card of a complaint (one per case) so it can be edited as the case moves."""

    __tablename__ = "staff_card"

    id = Column(Integer, primary_key=True)
    reference = Column(
        String(16), ForeignKey("complaint.reference", ondelete="CASCADE"), nullable=False, unique=True
    )
    chat_id = Column(BigInteger, nullable=False)
    message_id = Column(BigInteger, nullable=False)
    photos_posted = Column(Integer, nullable=False, default=0)
    handoff_id = Column(
        Integer, ForeignKey("human_handoff.id", ondelete="SET NULL"), nullable=True, index=True
    )
    names = Column(JSON, nullable=True)
