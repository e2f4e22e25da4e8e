"""Add staff_card: the Telegram staff-desk card of each complaint, so it is edited rather than re-posted.

Revision ID: c4d7e2a19f05
Revises: 8b2e5d41c7a3
Create Date: 2026-11-26 10:00:00+00:00

Written by hand; like the earlier revisions it does not import crm_store.model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c4d7e2a19f05"
down_revision = "8b2e5d41c7a3"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the staff_card table."""
    op.create_table(
        "staff_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("photos_posted", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("names", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["reference"], ["complaint.reference"], name=op.f("fk_staff_card_reference_complaint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["human_handoff.id"], name=op.f("fk_staff_card_handoff_id_human_handoff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_card")),
        sa.UniqueConstraint("reference", name=op.f("uq_staff_card_reference")),
    )
    op.create_index(op.f("ix_staff_card_handoff_id"), "staff_card", ["handoff_id"])


def downgrade() -> None:
    """Drop the staff_card table."""
    op.drop_index(op.f("ix_staff_card_handoff_id"), table_name="staff_card")
    op.drop_table("staff_card")
