"""Appointment lifecycle: the time of the last Cal.com webhook applied to an appointment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Cal.com delivers webhooks more than once and out of order; ``calcom_event_at`` lets the
store ignore an event older than the one that set the current state.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "appointments",
        sa.Column("calcom_event_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("calcom_event_at")
