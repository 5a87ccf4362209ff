"""Free slots read from Cal.com, shared by every replica on one PostgreSQL store.

One row per (business, event type, local day or range of days asked about, time zone): each
business reads its own Cal.com account, so two businesses never share a read, even of
an event type id they both use (the row's key starts with the business id). The window
read, when, the free starts, and the bookings made since through any replica (their starts
are left out). A change that cannot be applied that way (a refusal, a cancellation, a
reschedule, a webhook) deletes the rows whose window it touches. Used by
:class:`~retell_booking_tools.availability.SlotReads`; see migration ``0005``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from retell_booking_tools.domain import DEFAULT_BUSINESS_ID
from retell_booking_tools.repository.postgres import retrying_statement
from retell_booking_tools.repository.schema import calcom_slot_reads

__all__ = ["PostgresSlotCache"]


def _ts(instant: datetime) -> float:
    return instant.timestamp()


def _instant(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _locked_in_key_order(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The rows matching ``conditions``, locked in the order of their keys first.

    A booking updates every read whose window holds it, and a change deletes them: two such
    statements locking overlapping rows in the orders they happened to find them in can
    deadlock, which PostgreSQL notices only after ``deadlock_timeout`` (a second), holding
    both connections meanwhile. Locked in one order, the later one simply waits.
    """
    locked = (
        sa.select(calcom_slot_reads.c.key)
        .where(*conditions)
        .order_by(calcom_slot_reads.c.key)
        .with_for_update()
    )
    return calcom_slot_reads.c.key.in_(locked.scalar_subquery())


class PostgresSlotCache:
    """The shared half of :class:`~retell_booking_tools.availability.SlotReads`, for the
    reads of business ``business_id`` (its Cal.com account) only."""

    def __init__(self, engine: AsyncEngine, *, business_id: str = DEFAULT_BUSINESS_ID) -> None:
        self._engine = engine
        self._prefix = f"{business_id}|"
        self.business_id = business_id

    def _row(self, key: str) -> str:
        return self._prefix + key

    def _own(self) -> sa.ColumnElement[bool]:
        return calcom_slot_reads.c.key.startswith(self._prefix, autoescape=True)

    async def get(
        self, key: str, *, fresh_after: datetime
    ) -> tuple[tuple[datetime, ...], list[tuple[datetime, datetime]]] | None:
        """The free starts read for ``key`` after ``fresh_after`` and the bookings since."""
        query = sa.select(calcom_slot_reads.c.slots, calcom_slot_reads.c.taken).where(
            calcom_slot_reads.c.key == self._row(key),
            calcom_slot_reads.c.fetched_at > _ts(fresh_after),
        )

        def read(conn: sa.Connection) -> Any:
            return conn.execute(query).one_or_none()

        row = await retrying_statement(self._engine, "read shared slots", read)
        if row is None:
            return None
        slots = tuple(_instant(value) for value in json.loads(row.slots))
        taken = [(_instant(a), _instant(b)) for a, b in json.loads(row.taken)]
        return slots, taken

    async def put(
        self,
        key: str,
        *,
        event_type_id: int,
        window: tuple[datetime, datetime],
        slots: tuple[datetime, ...],
        fetched_at: datetime,
    ) -> None:
        values = {
            "key": self._row(key),
            "event_type_id": event_type_id,
            "window_start": _ts(window[0]),
            "window_end": _ts(window[1]),
            "fetched_at": _ts(fetched_at),
            "slots": json.dumps([_ts(slot) for slot in slots]),
            "taken": "[]",
        }
        statement = postgresql.insert(calcom_slot_reads).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[calcom_slot_reads.c.key],
            set_={name: statement.excluded[name] for name in values if name != "key"},
        )
        await self._execute("share slots", statement)

    async def booked(self, start: datetime, end: datetime, event_type_id: int) -> None:
        """Leave ``[start, end)`` out of every shared read of the event type that holds it."""
        entry = sa.bindparam("entry", [[_ts(start), _ts(end)]], type_=postgresql.JSONB)
        statement = (
            sa.update(calcom_slot_reads)
            .where(
                _locked_in_key_order(
                    self._own(),
                    calcom_slot_reads.c.event_type_id == event_type_id,
                    calcom_slot_reads.c.window_start - (_ts(end) - _ts(start)) <= _ts(start),
                    calcom_slot_reads.c.window_end >= _ts(start),
                )
            )
            .values(
                taken=sa.cast(
                    sa.cast(calcom_slot_reads.c.taken, postgresql.JSONB).op("||")(entry),
                    sa.Text,
                )
            )
        )
        await self._execute("mark a shared slot booked", statement)

    async def touched(self, instant: datetime, event_type_id: int | None) -> None:
        """Forget every shared read whose window holds ``instant`` (a day's margin before)."""
        conditions = [
            self._own(),
            calcom_slot_reads.c.window_start - timedelta(days=1).total_seconds() <= _ts(instant),
            calcom_slot_reads.c.window_end >= _ts(instant),
        ]
        if event_type_id is not None:
            conditions.append(calcom_slot_reads.c.event_type_id == event_type_id)
        statement = sa.delete(calcom_slot_reads).where(_locked_in_key_order(*conditions))
        await self._execute("forget shared slots", statement)

    async def _execute(self, action: str, statement: sa.Executable) -> None:
        """One statement in autocommit: every booking of the event type updates the reads
        whose window holds it, so their row locks must not wait for a ``COMMIT`` round trip
        (a repeated statement adds a start already left out, or deletes nothing more)."""

        def work(conn: sa.Connection) -> None:
            conn.execute(statement)

        await retrying_statement(self._engine, action, work)
