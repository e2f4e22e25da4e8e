"""Add inbound_message: guest messages kept while Rasa was unreachable, answered when it is back.

Revision ID: 8b2e5d41c7a3
Revises: 3f1c2a9d7b10
Create Date: 2026-11-24 09:00:00+00:00

Written by hand; like the initial revision it does not import crm_store.model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8b2e5d41c7a3"
down_revision = "3f1c2a9d7b10"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the inbound_message table and its status index."""
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending|answered|failed
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
    )
    op.create_index(
        "ix_inbound_message_status_received_at", "inbound_message", ["status", "received_at"]
    )


def downgrade() -> None:
    """Drop the inbound_message table."""
    op.drop_index("ix_inbound_message_status_received_at", table_name="inbound_message")
    op.drop_table("inbound_message")
