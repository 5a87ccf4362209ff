"""Invocations: one ledger row per tool invocation, not per (call, tool, arguments).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A call may invoke a tool twice with the same arguments (look up, book, look up again);
``seq`` tells those invocations apart. ``tool_call_id`` keeps Retell's id of the
invocation that claimed a row, ``finished_seen`` how many other tool calls of the call had
finished by then, so a later delivery can tell a retry from a new invocation. Existing
rows become the first invocation (``seq`` 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KEY = ["call_id", "tool", "args_digest"]


def upgrade() -> None:
    with op.batch_alter_table("tool_calls", recreate="auto") as batch:
        batch.add_column(
            sa.Column("seq", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("tool_call_id", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("finished_seen", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.drop_constraint("pk_tool_calls", type_="primary")
        batch.create_primary_key("pk_tool_calls", [*_OLD_KEY, "seq"])


def downgrade() -> None:
    # Later invocations with the same arguments have no place in the old key.
    op.execute(sa.text("DELETE FROM tool_calls WHERE seq <> 0"))
    with op.batch_alter_table("tool_calls", recreate="auto") as batch:
        batch.drop_constraint("pk_tool_calls", type_="primary")
        batch.create_primary_key("pk_tool_calls", _OLD_KEY)
        batch.drop_column("finished_seen")
        batch.drop_column("tool_call_id")
        batch.drop_column("seq")
