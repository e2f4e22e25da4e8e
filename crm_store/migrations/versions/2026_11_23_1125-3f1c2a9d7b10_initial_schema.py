"""Create the initial crm_store schema: guests, stays, preferences, complaints, surveys, follow-ups.

Revision ID: 3f1c2a9d7b10
Revises:
Create Date: 2026-11-23 11:25:40+00:00

Drafted with ``alembic revision --autogenerate`` and edited by hand. It does not import crm_store.model,
so later model changes cannot alter what this revision creates. Enum columns are plain VARCHARs
(the model uses non-native enums without CHECK constraints); datetimes are TIMESTAMP WITH TIME ZONE
on PostgreSQL and naive-UTC text on SQLite (see crm_store.model.UtcDateTime).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3f1c2a9d7b10"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def _audit() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    ]


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".", 1)[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    """Create every crm_store table and index."""
    op.create_table(
        "guest",
        _id(),
        sa.Column("first_name", sa.String(80), nullable=True),
        sa.Column("last_name", sa.String(80), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest")),
    )

    op.create_table(
        "channel_identity",
        _id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        *_audit(),
        _fk("channel_identity", "guest_id", "guest.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identity")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_identity_channel_external_id")
        ),
    )
    op.create_index(op.f("ix_channel_identity_guest_id"), "channel_identity", ["guest_id"])

    op.create_table(
        "stay",
        _id(),
        sa.Column("reservation_ref", sa.String(64), nullable=False),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(16), nullable=True),
        sa.Column("arrival", UTC, nullable=False),
        sa.Column("departure", UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # booked|in_house|checked_out|cancelled|no_show
        sa.Column("language", sa.String(16), nullable=True),
        *_audit(),
        _fk("stay", "guest_id", "guest.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stay")),
        sa.UniqueConstraint("reservation_ref", name=op.f("uq_stay_reservation_ref")),
    )
    op.create_index("ix_stay_guest_id_arrival", "stay", ["guest_id", "arrival"])

    op.create_table(
        "preference",
        _id(),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=True),
        sa.Column("captured_at", UTC, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # active|superseded|deleted
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        *_audit(),
        _fk("preference", "guest_id", "guest.id", "CASCADE"),
        _fk("preference", "superseded_by", "preference.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference")),
    )
    op.create_index(
        "ix_preference_guest_id_category_status", "preference", ["guest_id", "category", "status"]
    )

    op.create_table(
        "complaint",
        _id(),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),  # low|medium|high
        sa.Column("room", sa.String(16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        # open|acknowledged|resolved|confirmed|reopened|closed_unconfirmed
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("ack_due_at", UTC, nullable=False),
        sa.Column("resolve_due_at", UTC, nullable=True),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("guest_verified", sa.Boolean(), nullable=False),
        *_audit(),
        _fk("complaint", "guest_id", "guest.id", "CASCADE"),
        _fk("complaint", "stay_id", "stay.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint")),
        sa.UniqueConstraint("reference", name=op.f("uq_complaint_reference")),
    )
    op.create_index(op.f("ix_complaint_guest_id"), "complaint", ["guest_id"])
    op.create_index("ix_complaint_status_ack_due_at", "complaint", ["status", "ack_due_at"])

    op.create_table(
        "complaint_event",
        _id(),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        *_audit(),
        _fk("complaint_event", "complaint_id", "complaint.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_event")),
    )
    op.create_index(op.f("ix_complaint_event_complaint_id"), "complaint_event", ["complaint_id"])

    op.create_table(
        "complaint_attachment",
        _id(),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_ref", sa.String(512), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        *_audit(),
        _fk("complaint_attachment", "complaint_id", "complaint.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_attachment")),
    )
    op.create_index(
        op.f("ix_complaint_attachment_complaint_id"), "complaint_attachment", ["complaint_id"]
    )

    op.create_table(
        "survey_invitation",
        _id(),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=False),
        # pending|sent|reminded|answered|expired|cancelled
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("reminded_at", UTC, nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        *_audit(),
        _fk("survey_invitation", "guest_id", "guest.id", "CASCADE"),
        _fk("survey_invitation", "stay_id", "stay.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitation")),
        sa.UniqueConstraint("stay_id", name=op.f("uq_survey_invitation_stay_id")),
    )
    op.create_index(op.f("ix_survey_invitation_guest_id"), "survey_invitation", ["guest_id"])

    op.create_table(
        "survey_response",
        _id(),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("stay_id", sa.Integer(), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("service", sa.Integer(), nullable=True),
        sa.Column("facilities", sa.Integer(), nullable=True),
        sa.Column("cleanliness", sa.Integer(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column("sentiment", sa.String(16), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", UTC, nullable=True),
        sa.Column("recovery_reference", sa.String(16), nullable=True),
        *_audit(),
        _fk("survey_response", "guest_id", "guest.id", "CASCADE"),
        _fk("survey_response", "stay_id", "stay.id", "SET NULL"),
        _fk("survey_response", "invitation_id", "survey_invitation.id", "SET NULL"),
        _fk("survey_response", "recovery_reference", "complaint.reference", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
    )
    op.create_index(op.f("ix_survey_response_guest_id"), "survey_response", ["guest_id"])

    op.create_table(
        "follow_up",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending|claimed|sent|failed|cancelled
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(191), nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_follow_up_idempotency_key")),
    )
    op.create_index("ix_follow_up_status_due_at", "follow_up", ["status", "due_at"])

    op.create_table(
        "staff_member",
        _id(),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_member")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_staff_member_telegram_user_id")),
    )

    op.create_table(
        "consent_record",
        _id(),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("at", UTC, nullable=False),
        *_audit(),
        _fk("consent_record", "guest_id", "guest.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
    )
    op.create_index("ix_consent_record_guest_id_purpose", "consent_record", ["guest_id", "purpose"])

    op.create_table(
        "outbound_message",
        _id(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending|sent|failed
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_message")),
    )
    op.create_index("ix_outbound_message_status", "outbound_message", ["status"])

    op.create_table(
        "processed_update",
        _id(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_update")),
        sa.UniqueConstraint("source", "update_id", name=op.f("uq_processed_update_source_update_id")),
    )

    op.create_table(
        "human_handoff",
        _id(),
        sa.Column("guest_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # open|claimed|closed
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        *_audit(),
        _fk("human_handoff", "guest_id", "guest.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_handoff")),
    )
    op.create_index("ix_human_handoff_guest_id_status", "human_handoff", ["guest_id", "status"])


def downgrade() -> None:
    """Drop every crm_store table (indexes go with them)."""
    for table in (
        "human_handoff",
        "processed_update",
        "outbound_message",
        "consent_record",
        "staff_member",
        "follow_up",
        "survey_response",
        "survey_invitation",
        "complaint_attachment",
        "complaint_event",
        "complaint",
        "preference",
        "stay",
        "channel_identity",
        "guest",
    ):
        op.drop_table(table)
