"""The repository on SQLAlchemy Core, shared by the SQLite and PostgreSQL backends.

Uniqueness is carried by database constraints (``schema.py``). Writes that can race use
``INSERT ... ON CONFLICT DO NOTHING`` and then read the row that won, and tool-call
takeovers are conditional ``UPDATE``\\ s, so every rule holds across processes. Subclasses
supply only the dialect's ``INSERT`` construct, the named lock and the engine.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Self, TypeAlias, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    NO_FACTS,
    Appointment,
    AppointmentStatus,
    Call,
    CallLink,
    Customer,
    Invocation,
    NewAppointment,
    OfferedStart,
    Relationship,
    ResultFacts,
    ToolCallBusy,
    ToolCallClaim,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
    ToolCallRecord,
    ToolStatus,
    customer_key,
    new_booking_reference,
)
from retell_booking_tools.errors import ConfigurationError, RepositoryError
from retell_booking_tools.repository.protocol import CallCursor, CallEntry, PeriodOutcomes
from retell_booking_tools.repository.schema import (
    appointments,
    call_appointment_links,
    calls,
    customers,
    last_four,
    offered_starts,
    reference_misses,
    tool_calls,
)

__all__ = [
    "SqlRepository",
    "UpsertInsert",
    "masked_url",
    "parse_url",
    "translate_errors",
]

UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert
"""An ``INSERT`` that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""

_T = TypeVar("_T")
_Owned = TypeVar("_Owned", Customer, Appointment, Call)

_CALL_FIELDS = (
    "customer_id",
    "agent_id",
    "from_number",
    "to_number",
    "started_at",
    "ended_at",
    "disconnection_reason",
)
_LINK_KEY = (
    call_appointment_links.c.call_id,
    call_appointment_links.c.appointment_id,
    call_appointment_links.c.relationship,
)
_TOOL_CALL_KEY = (
    tool_calls.c.call_id,
    tool_calls.c.tool,
    tool_calls.c.args_digest,
    tool_calls.c.seq,
)
_CLAIM_INVOCATION_ATTEMPTS = 3
_UPSERT_CUSTOMER_ATTEMPTS = 3
_ADD_APPOINTMENT_ATTEMPTS = 5
"""A fresh booking reference colliding with a stored one is retried with another."""

_URL_PASSWORD = re.compile(r"^([A-Za-z0-9+.\-]+://[^:/@?#]*):[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def masked_url(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for messages and logs."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", url))


def parse_url(url: str, *, backends: tuple[str, ...], what: str) -> URL:
    """``url`` parsed, or :class:`ConfigurationError` (password masked) if not for ``backends``."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() not in backends:
        raise ConfigurationError(f"not a {what} URL: {masked_url(url)!r}")
    return parsed


@contextlib.contextmanager
def translate_errors(action: str, *, secret: str | None = None) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors into :class:`RepositoryError` without credentials.

    Only connection-level failures stay ``retryable``; a violated constraint will not heal.
    """
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        cause: BaseException = exc
        if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:
            cause = exc.orig
        detail = (str(cause).strip().splitlines() or [""])[0]
        message = f"{action} failed: {type(cause).__name__}: {detail}".rstrip(": ")
        if secret:
            message = message.replace(secret, "***")
        error = RepositoryError(masked_url(message))
        error.retryable = isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError
        )
        raise error from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _customer(row: sa.Row[Any]) -> Customer:
    return Customer(
        id=row.id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        identity_key=row.identity_key,
        business_id=row.business_id,
    )


def _appointment(row: sa.Row[Any]) -> Appointment:
    return Appointment(
        id=row.id,
        customer_id=row.customer_id,
        booking_uid=row.booking_uid,
        event_type_id=row.event_type_id,
        start=row.start_at,
        end=row.end_at,
        timezone=row.timezone,
        status=AppointmentStatus(row.status),
        created_at=row.created_at,
        rescheduled_from_uid=row.rescheduled_from_uid,
        calcom_event_at=row.calcom_event_at,
        booking_reference=row.booking_reference,
        attendee_name=row.attendee_name,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        business_id=row.business_id,
    )


def _call(row: sa.Row[Any]) -> Call:
    fields = {name: getattr(row, name) for name in _CALL_FIELDS}
    return Call(call_id=row.call_id, business_id=row.business_id, **fields)


def _link(row: sa.Row[Any]) -> CallLink:
    return CallLink(
        call_id=row.call_id,
        appointment_id=row.appointment_id,
        relationship=Relationship(row.relationship),
        linked_at=row.linked_at,
        metadata=row._mapping["metadata"],
    )


def _tool_call_record(row: sa.Row[Any]) -> ToolCallRecord:
    return ToolCallRecord(
        key=ToolCallKey(
            call_id=row.call_id, tool=row.tool, args_digest=row.args_digest, seq=row.seq
        ),
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
        abandoned=bool(row.abandoned) and row.finished_at is None,
        result=row.result if row.finished_at is not None else None,
        booking_uid=row.booking_uid if row.finished_at is not None else None,
        business_id=row._mapping.get("business_id") or DEFAULT_BUSINESS_ID,
    )


def _business_of_call(call_id: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The business of the call ``call_id`` names (``default`` while it is not stored)."""
    return sa.func.coalesce(
        sa.select(calls.c.business_id).where(calls.c.call_id == call_id).scalar_subquery(),
        sa.literal(DEFAULT_BUSINESS_ID),
    )


# The hot path's statements are built once: a statement object reused with new parameters
# skips SQLAlchemy's construction and cache-key work, which cost more than SQLite itself.
_CUSTOMER_BY_KEY = sa.select(customers).where(
    customers.c.identity_key == sa.bindparam("key"),
    customers.c.business_id == sa.bindparam("business_id"),
)
_APPOINTMENTS_AT = (
    sa.select(appointments)
    .where(
        appointments.c.event_type_id == sa.bindparam("event_type_id"),
        appointments.c.start_at == sa.bindparam("start"),
    )
    .order_by(appointments.c.id)
)
_APPOINTMENT_BY_UID = sa.select(appointments).where(
    appointments.c.booking_uid == sa.bindparam("booking_uid")
)
_APPOINTMENT_BY_REFERENCE = sa.select(appointments).where(
    appointments.c.booking_reference == sa.bindparam("booking_reference")
)
_LINK_BY_KEY = sa.select(call_appointment_links).where(
    *(column == sa.bindparam(column.key) for column in _LINK_KEY)
)
_LINKS_OF_APPOINTMENT = (
    sa.select(call_appointment_links)
    .where(call_appointment_links.c.appointment_id == sa.bindparam("appointment_id"))
    .order_by(call_appointment_links.c.id)
)
_TOOL_CALL_RESULTS = (
    sa.select(tool_calls.c.result)
    .where(
        tool_calls.c.call_id == sa.bindparam("call_id"),
        tool_calls.c.tool == sa.bindparam("tool"),
        tool_calls.c.finished_at.is_not(None),
    )
    .order_by(tool_calls.c.finished_at, tool_calls.c.args_digest, tool_calls.c.seq)
)
_OFFERED_STARTS = (
    sa.select(offered_starts.c.start_at, offered_starts.c.listed_whole)
    .where(offered_starts.c.call_id == sa.bindparam("call_id"))
    .order_by(offered_starts.c.start_at, offered_starts.c.listed_whole)
)


_finished_of_call = tool_calls.alias("finished_of_call")
_FINISHED_IN_CALL = (
    sa.select(sa.func.count())
    .select_from(_finished_of_call)
    .where(
        _finished_of_call.c.call_id == sa.bindparam("of_call"),
        _finished_of_call.c.finished_at.is_not(None),
    )
    .scalar_subquery()
)
"""How many tool calls of the call ``of_call`` have finished."""
_LATEST_INVOCATION = (
    sa.select(
        tool_calls.c.seq,
        tool_calls.c.claimed_at,
        tool_calls.c.finished_at,
        tool_calls.c.result,
        tool_calls.c.tool_call_id,
        tool_calls.c.finished_seen,
        _FINISHED_IN_CALL.label("finished_now"),
    )
    .where(
        tool_calls.c.call_id == sa.bindparam("call_id"),
        tool_calls.c.tool == sa.bindparam("tool"),
        tool_calls.c.args_digest == sa.bindparam("args_digest"),
    )
    .order_by(tool_calls.c.seq.desc())
    .limit(1)
)


def _tool_call_is(key: ToolCallKey) -> sa.ColumnElement[bool]:
    return sa.and_(
        tool_calls.c.call_id == key.call_id,
        tool_calls.c.tool == key.tool,
        tool_calls.c.args_digest == key.args_digest,
        tool_calls.c.seq == key.seq,
    )


class SqlRepository(abc.ABC):
    """The :class:`~retell_booking_tools.repository.protocol.Repository` on SQLAlchemy Core.

    Every method is one short transaction, written as a plain function of a connection
    and handed to :meth:`_transact`; the backend decides how to run it (SQLite on its own
    thread in one hop, PostgreSQL on the async driver). The pool is free while the caller
    waits on Cal.com. Subclasses provide :meth:`_transact`, :meth:`_insert`, :meth:`lock`
    and :meth:`close`.

    The store is the business ``default``'s; :meth:`for_business` is another business's
    view over the same engine (rows carry ``business_id``; lookups filter by it).
    """

    business_id: str = DEFAULT_BUSINESS_ID

    def for_business(self, business_id: str) -> Self:
        """Business ``business_id``'s view of this store: same engine and pools, never closed
        on its own."""
        view = copy.copy(self)
        view.business_id = business_id
        return view

    def _own(self, row: _Owned | None) -> _Owned | None:
        """``row`` when it is this business's, else None."""
        return row if row is not None and row.business_id == self.business_id else None

    def __init__(self, url: URL) -> None:
        self._url = url
        self._secret = url.password
        self._upsert_call_statement = self._merging_upsert(calls, [calls.c.call_id], _CALL_FIELDS)
        self._insert_customer = (
            self._insert(customers).on_conflict_do_nothing().returning(*customers.c)
        )
        # No conflict target: a clash on the uid or on the reference both insert nothing.
        self._insert_appointment = (
            self._insert(appointments).on_conflict_do_nothing().returning(*appointments.c)
        )
        self._insert_link = (
            self._insert(call_appointment_links)
            .on_conflict_do_nothing(index_elements=list(_LINK_KEY))
            .returning(*call_appointment_links.c)
        )
        self._insert_claim = (
            self._insert(tool_calls)
            .values(finished_seen=_FINISHED_IN_CALL)
            .on_conflict_do_nothing(index_elements=list(_TOOL_CALL_KEY))
            .returning(tool_calls.c.call_id)
        )
        finish = self._insert(tool_calls)
        replaced = ("claimed_at", "finished_at", "abandoned", "result", "booking_uid")
        self._finish_claim = finish.on_conflict_do_update(
            index_elements=list(_TOOL_CALL_KEY),
            set_={name: finish.excluded[name] for name in replaced},
        )
        self._insert_offered = self._insert(offered_starts).on_conflict_do_nothing()

    def _merging_upsert(
        self, table: sa.Table, key: list[sa.Column[Any]], fields: tuple[str, ...]
    ) -> sa.Executable:
        """An upsert where a stored field survives unless the new row brings a value for it."""
        insert = self._insert(table)
        merged = {name: sa.func.coalesce(insert.excluded[name], table.c[name]) for name in fields}
        return insert.on_conflict_do_update(index_elements=key, set_=merged).returning(*table.c)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url.render_as_string(hide_password=True)!r})"

    @abc.abstractmethod
    def _insert(self, table: sa.Table) -> UpsertInsert:
        """The dialect's ``INSERT`` construct, which knows ``ON CONFLICT``."""

    @abc.abstractmethod
    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold a named lock shared by every user of this database."""

    @abc.abstractmethod
    async def _transact(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in one transaction, committed if it returns; errors translated."""

    async def _idempotent(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work``, whose statements are each atomic alone and right without a
        transaction around them: a read, or writes that are each idempotent (an insert that
        does nothing on a conflict, a merging upsert, a conditional update), a step that
        reads relying only on rows that are never deleted. A backend may run it without
        ``BEGIN`` and ``COMMIT`` and repeat it whole after a lost connection; an interrupted
        run leaves a first part of what a complete one writes, which must be consistent
        alone. By default it is one transaction like any other."""
        return await self._transact(action, work)

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every pooled connection; the repository cannot be used afterwards."""

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        with translate_errors(action, secret=self._secret):
            yield

    async def run_sync(self, action: str, fn: Callable[[sa.Connection], _T]) -> _T:
        """Run ``fn`` on one connection in one transaction (for Alembic)."""
        return await self._transact(action, fn)

    async def upsert_customer(
        self,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        call_id: str | None = None,
        key: str | None = None,
    ) -> Customer:
        email = email.lower() if email is not None else None
        key = key or customer_key(phone, email)

        def work(conn: sa.Connection) -> Customer:
            customer = find_or_insert(conn)
            if call_id is not None:
                self._upsert_call(conn, Call(call_id=call_id, customer_id=customer.id))
            return customer

        def find_or_insert(conn: sa.Connection) -> Customer:
            for _ in range(_UPSERT_CUSTOMER_ATTEMPTS):
                found = _find_customer(conn, key, self.business_id)
                if found is not None:
                    return _fill_in_customer(conn, found, name=name, email=email)
                inserted = conn.execute(
                    self._insert_customer,
                    {
                        "name": name,
                        "phone": phone,
                        "email": email,
                        "identity_key": key,
                        "created_at": _now(),
                        "business_id": self.business_id,
                    },
                )
                row = inserted.one_or_none()
                if row is not None:
                    return _customer(row)
                # Another process inserted the same identity first: find theirs.
            raise RepositoryError("upsert_customer failed: the customer kept changing; try again")

        return await self._idempotent("upsert_customer", work)

    async def get_customer(self, customer_id: int) -> Customer | None:
        def work(conn: sa.Connection) -> Customer | None:
            query = sa.select(customers).where(customers.c.id == customer_id)
            row = conn.execute(query).one_or_none()
            return None if row is None else _customer(row)

        return self._own(await self._idempotent("get_customer", work))

    async def add_appointment(self, new: NewAppointment) -> tuple[Appointment, bool]:
        def work(conn: sa.Connection) -> tuple[Appointment, bool]:
            for _ in range(_ADD_APPOINTMENT_ATTEMPTS):
                inserted = conn.execute(
                    self._insert_appointment,
                    {
                        "customer_id": new.customer_id,
                        "booking_uid": new.booking_uid,
                        "event_type_id": new.event_type_id,
                        "start_at": new.start,
                        "end_at": new.end,
                        "timezone": new.timezone,
                        "status": new.status.value,
                        "created_at": _now(),
                        "rescheduled_from_uid": new.rescheduled_from_uid,
                        "booking_reference": new.booking_reference or new_booking_reference(),
                        "attendee_name": new.attendee_name,
                        "contact_email": new.contact_email,
                        "contact_phone": new.contact_phone,
                        "business_id": self.business_id,
                    },
                )
                row = inserted.one_or_none()
                if row is not None:
                    return _appointment(row), True
                held = conn.execute(_APPOINTMENT_BY_UID, {"booking_uid": new.booking_uid})
                found = held.one_or_none()
                if found is not None:
                    return _appointment(found), False
                if new.booking_reference is not None:
                    break
            raise RepositoryError("add_appointment failed: the booking reference is taken")

        return await self._idempotent("add_appointment", work)

    async def _appointments(
        self, action: str, query: sa.Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Appointment]:
        def work(conn: sa.Connection) -> list[Appointment]:
            return [_appointment(row) for row in conn.execute(query, parameters)]

        return await self._idempotent(action, work)

    async def get_appointment(self, appointment_id: int) -> Appointment | None:
        query = sa.select(appointments).where(appointments.c.id == appointment_id)
        found = await self._appointments("get_appointment", query)
        return self._own(found[0]) if found else None

    async def get_appointment_by_uid(self, booking_uid: str) -> Appointment | None:
        found = await self._appointments(
            "get_appointment_by_uid", _APPOINTMENT_BY_UID, {"booking_uid": booking_uid}
        )
        return self._own(found[0]) if found else None

    async def get_appointment_by_reference(self, booking_reference: str) -> Appointment | None:
        found = await self._appointments(
            "get_appointment_by_reference",
            _APPOINTMENT_BY_REFERENCE,
            {"booking_reference": booking_reference},
        )
        return self._own(found[0]) if found else None

    async def record_reference_miss(
        self, *, call_id: str, number: str | None, at: datetime
    ) -> None:
        statement = sa.insert(reference_misses).values(call_id=call_id, number=number, missed_at=at)
        await self._transact("record_reference_miss", lambda conn: conn.execute(statement))

    async def reference_misses(
        self,
        *,
        since: datetime,
        call_id: str | None = None,
        number: str | None = None,
        business_id: str | None = None,
    ) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(reference_misses)
            .where(reference_misses.c.missed_at >= since)
        )
        if call_id is not None:
            query = query.where(reference_misses.c.call_id == call_id)
        if number is not None:
            query = query.where(reference_misses.c.number == number)
        if business_id is not None:
            query = query.where(_business_of_call(reference_misses.c.call_id) == business_id)
        return await self._transact(
            "reference_misses", lambda conn: int(conn.execute(query).scalar_one())
        )

    async def list_customers(self) -> list[Customer]:
        query = sa.select(customers).order_by(customers.c.id)
        return await self._transact(
            "list_customers", lambda conn: [_customer(row) for row in conn.execute(query)]
        )

    async def appointments_at(self, *, event_type_id: int, start: datetime) -> list[Appointment]:
        parameters = {"event_type_id": event_type_id, "start": start}
        found = await self._appointments("appointments_at", _APPOINTMENTS_AT, parameters)
        return [a for a in found if a.business_id == self.business_id]

    async def appointments_for_customer(self, customer_id: int) -> list[Appointment]:
        query = (
            sa.select(appointments)
            .where(appointments.c.customer_id == customer_id)
            .order_by(appointments.c.start_at, appointments.c.id)
        )
        return await self._appointments("appointments_for_customer", query)

    async def set_appointment_status(
        self, appointment_id: int, status: AppointmentStatus
    ) -> Appointment:
        """Like the in-memory store, an unknown id raises :class:`KeyError`."""
        return await self._update_appointment(
            "set_appointment_status", appointment_id, status=status.value
        )

    async def record_calcom_change(
        self, appointment_id: int, status: AppointmentStatus, *, event_at: datetime
    ) -> Appointment:
        """Like the in-memory store, an unknown id raises :class:`KeyError`."""
        return await self._update_appointment(
            "record_calcom_change", appointment_id, status=status.value, calcom_event_at=event_at
        )

    async def _update_appointment(
        self, action: str, appointment_id: int, **values: Any
    ) -> Appointment:
        def work(conn: sa.Connection) -> sa.Row[Any] | None:
            updated = conn.execute(
                sa.update(appointments)
                .where(appointments.c.id == appointment_id)
                .values(**values)
                .returning(*appointments.c)
            )
            return updated.one_or_none()

        row = await self._transact(action, work)
        if row is None:
            raise KeyError(appointment_id)
        return _appointment(row)

    async def upsert_call(self, call: Call) -> Call:
        return await self._idempotent("upsert_call", lambda conn: self._upsert_call(conn, call))

    def _upsert_call(self, conn: sa.Connection, call: Call) -> Call:
        values = {name: getattr(call, name) for name in _CALL_FIELDS}
        # The business is written once, with the row; a later upsert never moves the call.
        parameters = {
            "call_id": call.call_id,
            "created_at": _now(),
            "business_id": self.business_id,
            **values,
        }
        return _call(conn.execute(self._upsert_call_statement, parameters).one())

    async def get_call(self, call_id: str) -> Call | None:
        def work(conn: sa.Connection) -> Call | None:
            row = conn.execute(sa.select(calls).where(calls.c.call_id == call_id)).one_or_none()
            return None if row is None else _call(row)

        return self._own(await self._idempotent("get_call", work))

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        def work(conn: sa.Connection) -> tuple[CallLink, bool]:
            key = {
                "call_id": link.call_id,
                "appointment_id": link.appointment_id,
                "relationship": link.relationship.value,
            }
            inserted = conn.execute(
                self._insert_link,
                {**key, "linked_at": link.linked_at, "metadata": dict(link.metadata)},
            )
            row = inserted.one_or_none()
            if row is not None:
                return _link(row), True
            return _link(conn.execute(_LINK_BY_KEY, key).one()), False

        return await self._idempotent("link", work)

    async def _links(self, action: str, condition: sa.ColumnElement[bool]) -> list[CallLink]:
        query = (
            sa.select(call_appointment_links).where(condition).order_by(call_appointment_links.c.id)
        )
        return await self._idempotent(action, lambda conn: _links_of(conn, query))

    async def links_for_call(self, call_id: str) -> list[CallLink]:
        """Oldest first means in the order they were stored."""
        return await self._links("links_for_call", call_appointment_links.c.call_id == call_id)

    async def links_for_appointment(self, appointment_id: int) -> list[CallLink]:
        """Oldest first means in the order they were stored."""
        parameters = {"appointment_id": appointment_id}
        return await self._idempotent(
            "links_for_appointment",
            lambda conn: _links_of(conn, _LINKS_OF_APPOINTMENT, parameters),
        )

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta, call: Call | None = None
    ) -> ToolCallClaim:
        # Take an existing row over only if nobody finished it and its owner gave up or
        # outlived the lease.
        def stale() -> sa.ColumnElement[bool]:
            return sa.or_(tool_calls.c.abandoned, tool_calls.c.claimed_at <= now - lease)

        return await self._claim_tool_call(key, now=now, create=True, take_over_if=stale, call=call)

    async def _claim_tool_call(
        self,
        key: ToolCallKey,
        *,
        now: datetime,
        create: bool,
        take_over_if: Callable[[], sa.ColumnElement[bool]],
        call: Call | None = None,
    ) -> ToolCallClaim:
        """Record ``call``, then insert the claim (if ``create``), else take an unfinished one
        over if the condition holds; the ``WHERE`` makes the takeover atomic between processes.

        The condition is built only when a takeover is tried, which a fresh call never needs.
        Every write is atomic alone, so no transaction is needed (:meth:`_idempotent`); a run
        repeated after a lost connection that had already taken a claim over may find it
        taken and answer busy, which books nothing.
        """

        def work(conn: sa.Connection) -> ToolCallClaim:
            if call is not None:
                self._upsert_call(conn, call)
            if create and self._insert_row(conn, key, now=now, tool_call_id=None):
                return ToolCallClaimed(resumed=False)
            if _take_over(conn, key, now=now, condition=take_over_if()):
                return ToolCallClaimed(resumed=True)
            query = sa.select(tool_calls.c.finished_at, tool_calls.c.result).where(
                _tool_call_is(key)
            )
            row = conn.execute(query).one_or_none()
            if row is not None and row.finished_at is not None:
                return ToolCallFinished(result=row.result)
            return ToolCallBusy()

        return await self._idempotent("claim_tool_call", work)

    def _insert_row(
        self, conn: sa.Connection, key: ToolCallKey, *, now: datetime, tool_call_id: str | None
    ) -> bool:
        """Insert an unfinished row for ``key``; False if it exists already."""
        inserted = conn.execute(
            self._insert_claim,
            {
                "call_id": key.call_id,
                "tool": key.tool,
                "args_digest": key.args_digest,
                "seq": key.seq,
                "claimed_at": now,
                "abandoned": False,
                "tool_call_id": tool_call_id,
                "of_call": key.call_id,
            },
        )
        return inserted.one_or_none() is not None

    async def claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: datetime,
        lease: timedelta,
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        def stale() -> sa.ColumnElement[bool]:
            return sa.or_(tool_calls.c.abandoned, tool_calls.c.claimed_at <= now - lease)

        return await self._claim_invocation(
            key, invocation, now=now, lease=lease, create=True, take_over_if=stale, call=call
        )

    async def _claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: datetime,
        lease: timedelta,
        create: bool,
        take_over_if: Callable[[], sa.ColumnElement[bool]],
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        """Like :meth:`_claim_tool_call` for the invocation's row (see the protocol).

        A first invocation costs one ``INSERT``; otherwise the latest row decides, and a new
        row is inserted only if ``create`` (else the answer is busy, and the caller asks
        again). A lost insert race reads the winner's row. As :meth:`_claim_tool_call`, it
        runs as :meth:`_idempotent`.
        """
        first = attrs.evolve(key, seq=0)

        def work(conn: sa.Connection) -> tuple[ToolCallKey, ToolCallClaim]:
            if call is not None:
                self._upsert_call(conn, call)
            tool_call_id = invocation.tool_call_id
            if create and self._insert_row(conn, first, now=now, tool_call_id=tool_call_id):
                return first, ToolCallClaimed(resumed=False)
            parameters = {
                "call_id": key.call_id,
                "tool": key.tool,
                "args_digest": key.args_digest,
                "of_call": key.call_id,
            }
            following = first
            for _ in range(_CLAIM_INVOCATION_ATTEMPTS):
                row = conn.execute(_LATEST_INVOCATION, parameters).one_or_none()
                if row is None:
                    return first, ToolCallBusy()
                latest = attrs.evolve(key, seq=row.seq)
                if row.finished_at is None:
                    if _take_over(conn, latest, now=now, condition=take_over_if()):
                        return latest, ToolCallClaimed(resumed=True)
                    return latest, ToolCallBusy()
                if invocation.replays(
                    latest.seq,
                    claimed_by=row.tool_call_id,
                    finished_seen=row.finished_seen,
                    finished_now=row.finished_now - 1,
                    finished_at=row.finished_at,
                    now=now,
                    window=lease,
                ):
                    return latest, ToolCallFinished(result=row.result)
                following = attrs.evolve(key, seq=row.seq + 1)
                if not create:
                    return following, ToolCallBusy()
                if self._insert_row(conn, following, now=now, tool_call_id=tool_call_id):
                    return following, ToolCallClaimed(resumed=False)
            return following, ToolCallBusy()

        return await self._idempotent("claim_invocation", work)

    async def finish_tool_call(
        self,
        key: ToolCallKey,
        result: dict[str, Any],
        *,
        now: datetime,
        facts: ResultFacts = NO_FACTS,
    ) -> None:
        """One statement, and one more for the offered starts when there are any."""
        parameters = {
            "call_id": key.call_id,
            "tool": key.tool,
            "args_digest": key.args_digest,
            "seq": key.seq,
            "claimed_at": now,
            "finished_at": now,
            "abandoned": False,
            "result": result,
            "booking_uid": facts.booking_uid,
        }
        offered = [
            {"call_id": key.call_id, "start_at": start, "listed_whole": facts.listed_whole}
            for start in dict.fromkeys(facts.offered)
        ]
        if not offered:
            await self._idempotent(
                "finish_tool_call", lambda conn: conn.execute(self._finish_claim, parameters)
            )
            return

        def work(conn: sa.Connection) -> None:
            conn.execute(self._finish_claim, parameters)
            conn.execute(self._insert_offered, offered)

        await self._idempotent("finish_tool_call", work)

    async def offered_starts(self, call_id: str) -> list[OfferedStart]:
        def work(conn: sa.Connection) -> list[OfferedStart]:
            rows = conn.execute(_OFFERED_STARTS, {"call_id": call_id})
            return [OfferedStart(row.start_at, bool(row.listed_whole)) for row in rows]

        return await self._idempotent("offered_starts", work)

    async def tool_call_results(self, call_id: str, tool: str) -> list[dict[str, Any]]:
        parameters = {"call_id": call_id, "tool": tool}

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(_TOOL_CALL_RESULTS, parameters)
            return [dict(row.result) for row in rows if row.result is not None]

        return await self._idempotent("tool_call_results", work)

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        statement = (
            sa.update(tool_calls)
            .where(_tool_call_is(key), tool_calls.c.finished_at.is_(None))
            .values(abandoned=True)
        )
        await self._transact("abandon_tool_call", lambda conn: conn.execute(statement))

    async def find_customer(
        self, *, phone: str | None, email: str | None, key: str | None = None
    ) -> Customer | None:
        key = key or customer_key(phone, email.lower() if email else None)
        return await self._idempotent(
            "find_customer", lambda conn: _find_customer(conn, key, self.business_id)
        )

    async def list_appointments(self, *, ending_after: datetime | None = None) -> list[Appointment]:
        query = sa.select(appointments).order_by(appointments.c.start_at, appointments.c.id)
        if ending_after is not None:
            query = query.where(appointments.c.end_at > ending_after)
        return await self._appointments("list_appointments", query)

    async def list_links(self, *, since: datetime | None = None) -> list[CallLink]:
        condition = sa.true() if since is None else call_appointment_links.c.linked_at >= since
        return await self._links("list_links", condition)

    async def tool_call_records(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[ToolCallRecord]:
        at = sa.func.coalesce(tool_calls.c.finished_at, tool_calls.c.claimed_at)
        query = sa.select(
            tool_calls, _business_of_call(tool_calls.c.call_id).label("business_id")
        ).order_by(at, *_TOOL_CALL_KEY)
        if since is not None:
            query = query.where(at >= since)
        if until is not None:
            query = query.where(at < until)

        def work(conn: sa.Connection) -> list[ToolCallRecord]:
            return [_tool_call_record(row) for row in conn.execute(query)]

        return await self._transact("tool_call_records", work)

    async def tool_outcome_counts(
        self, *, business_id: str | None = None
    ) -> dict[tuple[str, str], int]:
        status = sa.case(
            (tool_calls.c.finished_at.is_not(None), tool_calls.c.result["status"].as_string()),
            (tool_calls.c.abandoned, sa.literal(ToolStatus.ERROR.value)),
            else_=sa.null(),
        ).label("status")
        query = sa.select(tool_calls.c.tool, status, sa.func.count().label("n")).group_by(
            tool_calls.c.tool, status
        )
        if business_id is not None:
            query = query.where(_business_of_call(tool_calls.c.call_id) == business_id)

        def work(conn: sa.Connection) -> dict[tuple[str, str], int]:
            rows = conn.execute(query).all()
            return {(row.tool, row.status): row.n for row in rows if row.status is not None}

        return await self._transact("tool_outcome_counts", work)

    # -- the support console's reads (SupportReads) ---------------------------------------

    async def recent_calls(
        self,
        *,
        limit: int,
        after: CallCursor | None = None,
        call_id: str | None = None,
        number_suffix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CallEntry]:
        """Served by the ``(created_at, call_id)`` index; a number search of four digits or
        more by the index of the from numbers' last four (a shorter one scans the calls)."""
        query = (
            sa.select(calls)
            .order_by(calls.c.created_at.desc(), calls.c.call_id.desc())
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                sa.or_(
                    calls.c.created_at < after.recorded_at,
                    sa.and_(
                        calls.c.created_at == after.recorded_at, calls.c.call_id < after.call_id
                    ),
                )
            )
        if call_id is not None:
            query = query.where(calls.c.call_id == call_id)
        if number_suffix is not None:
            query = query.where(_number_ends_with(number_suffix))
        if since is not None:
            query = query.where(calls.c.created_at >= since)
        if until is not None:
            query = query.where(calls.c.created_at < until)
        return await self._transact("recent_calls", lambda conn: _call_entries(conn, query))

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[CallEntry]:
        query = sa.select(calls).where(calls.c.call_id.in_(list(call_ids)))
        return await self._transact("calls_by_id", lambda conn: _call_entries(conn, query))

    async def tool_calls_of(self, call_ids: Sequence[str]) -> list[ToolCallRecord]:
        at = sa.func.coalesce(tool_calls.c.finished_at, tool_calls.c.claimed_at)
        query = (
            sa.select(tool_calls)
            .where(tool_calls.c.call_id.in_(list(call_ids)))
            .order_by(tool_calls.c.call_id, at, tool_calls.c.tool, tool_calls.c.args_digest)
        )

        def work(conn: sa.Connection) -> list[ToolCallRecord]:
            return [_tool_call_record(row) for row in conn.execute(query)]

        return await self._transact("tool_calls_of", work)

    async def links_of_calls(self, call_ids: Sequence[str]) -> list[CallLink]:
        return await self._links(
            "links_of_calls", call_appointment_links.c.call_id.in_(list(call_ids))
        )

    async def appointments_by_id(self, appointment_ids: Sequence[int]) -> list[Appointment]:
        query = (
            sa.select(appointments)
            .where(appointments.c.id.in_(list(appointment_ids)))
            .order_by(appointments.c.start_at, appointments.c.id)
        )
        return await self._appointments("appointments_by_id", query)

    async def appointments_by_uid(self, booking_uids: Sequence[str]) -> list[Appointment]:
        query = (
            sa.select(appointments)
            .where(appointments.c.booking_uid.in_(list(booking_uids)))
            .order_by(appointments.c.start_at, appointments.c.id)
        )
        return await self._appointments("appointments_by_uid", query)

    async def customers_by_id(self, customer_ids: Sequence[int]) -> list[Customer]:
        query = (
            sa.select(customers)
            .where(customers.c.id.in_(list(customer_ids)))
            .order_by(customers.c.id)
        )

        def work(conn: sa.Connection) -> list[Customer]:
            return [_customer(row) for row in conn.execute(query)]

        return await self._transact("customers_by_id", work)

    async def period_outcomes(self, edges: Sequence[datetime]) -> list[PeriodOutcomes]:
        """Two grouped queries over the ``coalesce(finished_at, claimed_at)`` index."""
        if len(edges) < 2 or any(a >= b for a, b in itertools.pairwise(edges)):
            raise ValueError("period_outcomes needs at least two ascending edges")
        per_record = _period_records(edges).subquery()
        by_status = (
            sa.select(per_record.c.period, per_record.c.status, sa.func.count().label("n"))
            .where(per_record.c.status.is_not(None))
            .group_by(per_record.c.period, per_record.c.status)
        )
        orphan_call = sa.case((per_record.c.orphan == 1, per_record.c.call_id), else_=sa.null())
        by_period = sa.select(
            per_record.c.period,
            sa.func.count(sa.distinct(per_record.c.call_id)).label("calls"),
            sa.func.count(sa.distinct(orphan_call)).label("orphaned"),
        ).group_by(per_record.c.period)
        periods = list(itertools.pairwise(edges))

        def work(conn: sa.Connection) -> list[PeriodOutcomes]:
            if conn.dialect.name == "postgresql":
                # Compiling these to machine code costs more than running them.
                conn.execute(sa.text("SET LOCAL jit = off"))
            statuses: list[dict[str, int]] = [{} for _ in periods]
            for row in conn.execute(by_status):
                statuses[row.period][row.status] = row.n
            totals = {row.period: (row.calls, row.orphaned) for row in conn.execute(by_period)}
            return [
                PeriodOutcomes(
                    start=start,
                    end=end,
                    calls=totals.get(i, (0, 0))[0],
                    statuses=statuses[i],
                    orphaned_calls=totals.get(i, (0, 0))[1],
                )
                for i, (start, end) in enumerate(periods)
            ]

        return await self._transact("period_outcomes", work)


def _number_ends_with(suffix: str) -> sa.ColumnElement[bool]:
    matches = calls.c.from_number.endswith(suffix, autoescape=True)
    if len(suffix) < 4:
        return matches
    return sa.and_(last_four(calls.c.from_number) == suffix[-4:], matches)


def _call_entries(conn: sa.Connection, query: sa.Select[Any]) -> list[CallEntry]:
    return [CallEntry(call=_call(row), recorded_at=row.created_at) for row in conn.execute(query)]


def _period_records(edges: Sequence[datetime]) -> sa.Select[Any]:
    """One row per function call ending within the edges: its period, status, call, and
    whether it touched a booking the call is not linked to (1) or not (0)."""
    at = sa.func.coalesce(tool_calls.c.finished_at, tool_calls.c.claimed_at)
    inner = edges[1:-1]
    period: sa.ColumnElement[Any] = (
        sa.case(*((at < edge, index) for index, edge in enumerate(inner)), else_=len(inner))
        if inner
        else sa.literal(0)
    )
    finished = tool_calls.c.finished_at.is_not(None)
    status = sa.case(
        (finished, tool_calls.c.result["status"].as_string()),
        (tool_calls.c.abandoned, sa.literal(ToolStatus.ERROR.value)),
        else_=sa.null(),
    )
    uid = tool_calls.c.booking_uid
    # Per record: one look-up of the named appointment, one of the call's link to it (both
    # indexed); written so that PostgreSQL cannot hash every link instead.
    named = (
        sa.select(appointments.c.id).where(appointments.c.booking_uid == uid).correlate(tool_calls)
    )
    linked = (
        sa.select(sa.literal(1))
        .where(
            call_appointment_links.c.call_id == tool_calls.c.call_id,
            call_appointment_links.c.appointment_id == named.scalar_subquery(),
        )
        .exists()
    )
    names_booking = sa.func.coalesce(uid, "") != ""
    orphan = sa.case((sa.and_(finished, names_booking, ~linked), 1), else_=0)
    return sa.select(
        period.label("period"),
        status.label("status"),
        tool_calls.c.call_id.label("call_id"),
        orphan.label("orphan"),
    ).where(at >= edges[0], at < edges[-1])


def _take_over(
    conn: sa.Connection, key: ToolCallKey, *, now: datetime, condition: sa.ColumnElement[bool]
) -> bool:
    """Take the unfinished row of ``key`` over if ``condition`` holds; atomic between processes."""
    taken = conn.execute(
        sa.update(tool_calls)
        .where(_tool_call_is(key), tool_calls.c.finished_at.is_(None), condition)
        .values(claimed_at=now, abandoned=False)
    )
    return bool(taken.rowcount == 1)


def _find_customer(conn: sa.Connection, key: str | None, business_id: str) -> Customer | None:
    if key is None:
        return None
    row = conn.execute(_CUSTOMER_BY_KEY, {"key": key, "business_id": business_id}).one_or_none()
    return None if row is None else _customer(row)


def _links_of(
    conn: sa.Connection, query: sa.Select[Any], parameters: dict[str, Any] | None = None
) -> list[CallLink]:
    return [_link(row) for row in conn.execute(query, parameters)]


def _fill_in_customer(
    conn: sa.Connection, found: Customer, *, name: str, email: str | None
) -> Customer:
    if (found.name or not name) and (found.email is not None or email is None):
        return found
    # Conditional in SQL, so a concurrent fill-in never overwrites a value already set.
    filled = conn.execute(
        sa.update(customers)
        .where(customers.c.id == found.id)
        .values(
            name=sa.case((customers.c.name == "", name), else_=customers.c.name),
            email=sa.func.coalesce(customers.c.email, email),
        )
        .returning(*customers.c)
    )
    return _customer(filled.one())
