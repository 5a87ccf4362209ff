"""Result facts: the booking a tool call touched and the starts it offered, as columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A later tool call of the same call reads what an earlier one offered or booked from typed
columns instead of its answer's JSON: ``tool_calls.booking_uid`` (the booking a finished
tool call touched) and ``offered_starts`` (each free start offered in a call, and whether
its day was listed whole). The facts of tool calls finished before are filled in from the
results they stored, as the code before this revision read them: a read-only tool
(``check_availability``, ``find_appointments``) touched no booking; the ``slots`` of a
``check_availability`` answer were offered, its days listed whole unless ``more_slots``
counted some left out. A downgrade drops both; the results stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_READ_ONLY = ("check_availability", "find_appointments")
_OFFERING = "check_availability"
_BATCH = 1000

_tool_calls = sa.table(
    "tool_calls",
    sa.column("call_id", sa.Text()),
    sa.column("tool", sa.Text()),
    sa.column("args_digest", sa.Text()),
    sa.column("seq", sa.Integer()),
    sa.column("finished_at", sa.DateTime(timezone=True)),
    sa.column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.column("booking_uid", sa.Text()),
)


def upgrade() -> None:
    op.add_column("tool_calls", sa.Column("booking_uid", sa.Text(), nullable=True))
    offered = op.create_table(
        "offered_starts",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listed_whole", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "start_at", "listed_whole", name="pk_offered_starts"),
    )
    _backfill(op.get_bind(), offered)


def downgrade() -> None:
    op.drop_table("offered_starts")
    # SQLite has dropped columns in place since 3.35; no table rebuild, indexes stay.
    op.execute("ALTER TABLE tool_calls DROP COLUMN booking_uid")


def _backfill(conn: sa.Connection, offered: sa.Table) -> None:
    touched: list[dict[str, Any]] = []
    starts: set[tuple[str, datetime, bool]] = set()
    finished = sa.select(
        _tool_calls.c.call_id,
        _tool_calls.c.tool,
        _tool_calls.c.args_digest,
        _tool_calls.c.seq,
        _tool_calls.c.result,
    ).where(_tool_calls.c.finished_at.is_not(None))
    for row in conn.execute(finished).all():
        result = row.result if isinstance(row.result, dict) else {}
        uid = _booking_uid(result) if row.tool not in _READ_ONLY else None
        if uid is not None:
            touched.append(
                {
                    "key_call_id": row.call_id,
                    "key_tool": row.tool,
                    "key_args_digest": row.args_digest,
                    "key_seq": row.seq,
                    "uid": uid,
                }
            )
        if row.tool == _OFFERING:
            whole = not result.get("more_slots")
            starts.update((row.call_id, start, whole) for start in _slots(result))
    if touched:
        conn.execute(
            sa.update(_tool_calls)
            .where(
                _tool_calls.c.call_id == sa.bindparam("key_call_id"),
                _tool_calls.c.tool == sa.bindparam("key_tool"),
                _tool_calls.c.args_digest == sa.bindparam("key_args_digest"),
                _tool_calls.c.seq == sa.bindparam("key_seq"),
            )
            .values(booking_uid=sa.bindparam("uid")),
            touched,
        )
    sqlite = conn.dialect.name == "sqlite"
    rows = [
        {
            "call_id": call_id,
            # As the store writes instants: naive UTC text on SQLite, timestamptz elsewhere.
            "start_at": start.replace(tzinfo=None) if sqlite else start,
            "listed_whole": whole,
        }
        for call_id, start, whole in sorted(starts)
    ]
    for first in range(0, len(rows), _BATCH):
        conn.execute(offered.insert(), rows[first : first + _BATCH])


def _booking_uid(result: dict[str, Any]) -> str | None:
    appointment = result.get("appointment")
    if isinstance(appointment, dict) and appointment.get("booking_uid"):
        return str(appointment["booking_uid"])
    return None


def _slots(result: dict[str, Any]) -> Iterator[datetime]:
    for slot in result.get("slots") or ():
        if not isinstance(slot, str):
            continue
        try:
            start = datetime.fromisoformat(slot)
        except ValueError:
            continue
        if start.tzinfo is not None:
            yield start.astimezone(UTC)
