"""The tables of the SQL repositories, as SQLAlchemy Core metadata.

The uniqueness rules of the repository contract live here as database constraints, so they
hold across processes and not only inside one. ``migrations/versions`` must create exactly
this (``tests/repository/test_sql_specific.py`` compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware instant in, an aware UTC instant out, on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time type, so the value is stored as
    naive UTC in SQLAlchemy's fixed-width text form: equal instants give equal text (so
    ``appointments_at`` matches exactly) and text order is time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: instants must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The one trusted identity a customer is matched by (``phone:...``, ``email:...``,
    # ``id:...``, ``call:...``); NULL for rows keyed by a spoken email before 0004.
    sa.Column("identity_key", sa.Text, nullable=True),
    # Whose caller: one number calling two businesses is two customers (0008).
    sa.Column("business_id", sa.Text, nullable=False, server_default=sa.text("'default'")),
    sa.UniqueConstraint("business_id", "phone"),
    sa.UniqueConstraint("business_id", "identity_key"),
)

appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("booking_uid", sa.Text, nullable=False, unique=True),
    sa.Column("event_type_id", sa.BigInteger, nullable=False),
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("rescheduled_from_uid", sa.Text, nullable=True),
    # The Cal.com time of the last webhook applied, so an older delivery never undoes it.
    sa.Column("calcom_event_at", UtcDateTime, nullable=True),
    # The code a caller can say to manage the booking; contact data given for it alone.
    sa.Column("booking_reference", sa.String(16), nullable=True, unique=True),
    sa.Column("attendee_name", sa.Text, nullable=True),
    sa.Column("contact_email", sa.Text, nullable=True),
    sa.Column("contact_phone", sa.Text, nullable=True),
    sa.Column("business_id", sa.Text, nullable=False, server_default=sa.text("'default'")),
    sa.Index(None, "event_type_id", "start_at"),
    sa.Index(None, "customer_id"),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("agent_id", sa.Text, nullable=True),
    sa.Column("from_number", sa.Text, nullable=True),
    sa.Column("to_number", sa.Text, nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("disconnection_reason", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("business_id", sa.Text, nullable=False, server_default=sa.text("'default'")),
)

# ``call_id`` is not a foreign key: a link may be recorded before the call itself is known.
# The unique constraint's index leads with ``call_id`` and serves lookups by call.
call_appointment_links = sa.Table(
    "call_appointment_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.Text, nullable=False),
    sa.Column("appointment_id", sa.Integer, sa.ForeignKey("appointments.id"), nullable=False),
    sa.Column("relationship", sa.String(32), nullable=False),
    sa.Column("linked_at", UtcDateTime, nullable=False),
    sa.Column("metadata", _json(), nullable=False),
    sa.UniqueConstraint("call_id", "appointment_id", "relationship"),
    sa.Index(None, "appointment_id"),
)

tool_calls = sa.Table(
    "tool_calls",
    metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("tool", sa.Text, primary_key=True),
    sa.Column("args_digest", sa.Text, primary_key=True),
    # Which invocation with these arguments in the call (0, 1, ...): see ToolCallKey.
    sa.Column("seq", sa.Integer, primary_key=True, server_default=sa.text("0")),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("abandoned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("result", _json(), nullable=True),
    # Retell's id of the invocation whose delivery claimed it first, when the call said.
    sa.Column("tool_call_id", sa.Text, nullable=True),
    # How many other tool calls of the call had finished when it was first claimed.
    sa.Column("finished_seen", sa.Integer, nullable=False, server_default=sa.text("0")),
    # The Cal.com booking its finish recorded as touched (ResultFacts.booking_uid).
    sa.Column("booking_uid", sa.Text, nullable=True),
)

# The free starts finished tool calls offered, per call (ResultFacts.offered): a later
# booking in the call refuses a start its listed-whole day did not offer. The primary key
# leads with ``call_id`` and serves the reads by call.
offered_starts = sa.Table(
    "offered_starts",
    metadata,
    sa.Column("call_id", sa.Text, primary_key=True),
    sa.Column("start_at", UtcDateTime, primary_key=True),
    sa.Column("listed_whole", sa.Boolean, primary_key=True),
)

# Wrong booking references, counted per call and per number to rate-limit guessing.
reference_misses = sa.Table(
    "reference_misses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.Text, nullable=False),
    sa.Column("number", sa.Text, nullable=True),
    sa.Column("missed_at", UtcDateTime, nullable=False),
    sa.Index(None, "call_id"),
    sa.Index(None, "number", "missed_at"),
)

# One Cal.com API key's requests of the last minute, and a block Cal.com announced; the key
# is named by a hash (retell_booking_tools.calcom.budget). Not part of the repository
# contract: only the PostgreSQL budget store uses them.
calcom_rate_budget = sa.Table(
    "calcom_rate_budget",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("write", sa.Boolean, nullable=False),
    sa.Index(None, "key", "at"),
)

calcom_rate_blocks = sa.Table(
    "calcom_rate_blocks",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)

# Free slots read from Cal.com per (event type, day, zone), shared by the replicas
# (retell_booking_tools.repository.slot_cache); instants are Unix seconds.
calcom_slot_reads = sa.Table(
    "calcom_slot_reads",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("event_type_id", sa.BigInteger, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("window_end", sa.Float, nullable=False),
    sa.Column("fetched_at", sa.Float, nullable=False),
    sa.Column("slots", sa.Text, nullable=False),
    sa.Column("taken", sa.Text, nullable=False),
    sa.Index(None, "event_type_id"),
)


def last_four(column: sa.ColumnElement[str | None]) -> sa.ColumnElement[str | None]:
    """The last four characters of a number, as indexed for the console's number search
    (the literal 3 is part of the indexed expression, so it is not a bound parameter)."""
    return sa.func.substr(column, sa.func.length(column) - sa.literal_column("3"))


# The support console's reads (``SupportReads``): the call list newest first, a search by
# the last four digits of the number a call came from, and function calls by when they
# ended (the ``at`` of ``ToolCallRecord``) for the daily numbers.
sa.Index("ix_calls_created_at_call_id", calls.c.created_at, calls.c.call_id)
sa.Index("ix_calls_from_number_last_four", last_four(calls.c.from_number))
sa.Index(
    "ix_tool_calls_ended_at", sa.func.coalesce(tool_calls.c.finished_at, tool_calls.c.claimed_at)
)
