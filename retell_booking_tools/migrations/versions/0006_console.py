"""Support console: the call list newest first, function calls by when they ended.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01

``/console/calls`` pages through calls by ``(created_at, call_id)`` and finds them by the
last four digits of the number they came from, and ``/console/stats``
counts function calls by ``coalesce(finished_at, claimed_at)`` over thirty days; both stay
fast on a long history with these indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_calls_created_at_call_id", "calls", ["created_at", "call_id"])
    op.create_index(
        "ix_calls_from_number_last_four",
        "calls",
        [sa.text("substr(from_number, length(from_number) - 3)")],
    )
    op.create_index(
        "ix_tool_calls_ended_at",
        "tool_calls",
        [sa.text("coalesce(finished_at, claimed_at)")],
    )


def downgrade() -> None:
    op.drop_index("ix_tool_calls_ended_at", table_name="tool_calls")
    op.drop_index("ix_calls_from_number_last_four", table_name="calls")
    op.drop_index("ix_calls_created_at_call_id", table_name="calls")
