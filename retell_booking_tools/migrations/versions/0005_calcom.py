"""Cal.com rate budget: one request log per API key, shared by every replica.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01

Cal.com lets an API key make 120 requests a minute and blocks it for 60 seconds once it
goes over. ``calcom_rate_budget`` logs the requests of the last minute per key (named by a
hash, never the key itself); ``calcom_rate_blocks`` holds a block Cal.com announced (see
``retell_booking_tools.calcom.budget``). ``calcom_slot_reads`` shares the free slots read
per event type and day between replicas (``retell_booking_tools.repository.slot_cache``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calcom_rate_budget",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("write", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calcom_rate_budget"),
    )
    op.create_index("ix_calcom_rate_budget_key_at", "calcom_rate_budget", ["key", "at"])
    op.create_table(
        "calcom_rate_blocks",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_calcom_rate_blocks"),
    )
    op.create_table(
        "calcom_slot_reads",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event_type_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("window_end", sa.Float(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.Column("slots", sa.Text(), nullable=False),
        sa.Column("taken", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_calcom_slot_reads"),
    )
    op.create_index("ix_calcom_slot_reads_event_type_id", "calcom_slot_reads", ["event_type_id"])


def downgrade() -> None:
    op.drop_index("ix_calcom_slot_reads_event_type_id", table_name="calcom_slot_reads")
    op.drop_table("calcom_slot_reads")
    op.drop_table("calcom_rate_blocks")
    op.drop_index("ix_calcom_rate_budget_key_at", table_name="calcom_rate_budget")
    op.drop_table("calcom_rate_budget")
