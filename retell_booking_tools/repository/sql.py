"""The repository on SQLAlchemy Core, shared by the SQLite and PostgreSQL backends.

Uniqueness is carried by database constraints (``schema.py``). Writes that can race use
``INSERT ... ON CONFLICT DO NOTHING`` and then read the row that won, and tool-call
takeovers are conditional ``UPDATE``\\ s, so every rule holds across processes. Subclasses
supply only the dialect's ``INSERT`` construct, the named lock and the engine.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    Call,
    CallLink,
    Customer,
    NewAppointment,
    Relationship,
    ToolCallBusy,
    ToolCallClaim,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
    ToolCallRecord,
    ToolStatus,
)
from retell_booking_tools.errors import ConfigurationError, RepositoryError
from retell_booking_tools.repository.schema import (
    appointments,
    call_appointment_links,
    calls,
    customers,
    tool_calls,
)

__all__ = ["SqlRepository", "UpsertInsert", "masked_url", "parse_url", "translate_errors"]

UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert
"""An ``INSERT`` that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""

_T = TypeVar("_T")

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
_TOOL_CALL_KEY = (tool_calls.c.call_id, tool_calls.c.tool, tool_calls.c.args_digest)
_UPSERT_CUSTOMER_ATTEMPTS = 3

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
    return Customer(id=row.id, name=row.name, phone=row.phone, email=row.email)


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
    )


def _call(row: sa.Row[Any]) -> Call:
    return Call(call_id=row.call_id, **{name: getattr(row, name) for name in _CALL_FIELDS})


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
        key=ToolCallKey(call_id=row.call_id, tool=row.tool, args_digest=row.args_digest),
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
        abandoned=bool(row.abandoned) and row.finished_at is None,
        result=row.result if row.finished_at is not None else None,
    )


def _tool_call_is(key: ToolCallKey) -> sa.ColumnElement[bool]:
    return sa.and_(
        tool_calls.c.call_id == key.call_id,
        tool_calls.c.tool == key.tool,
        tool_calls.c.args_digest == key.args_digest,
    )


class SqlRepository(abc.ABC):
    """The :class:`~retell_booking_tools.repository.protocol.Repository` on an async engine.

    Every method runs in its own short transaction, so the connection pool is free while
    the caller waits on Cal.com. Subclasses provide :meth:`_insert` and :meth:`lock`.
    """

    def __init__(self, engine: AsyncEngine, *, serialize: bool = False) -> None:
        """``serialize`` queues every transaction, for engines that share one connection."""
        self._engine = engine
        self._secret = engine.url.password
        self._serial: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serialize else contextlib.nullcontext()
        )

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string(hide_password=True)!r})"

    @abc.abstractmethod
    def _insert(self, table: sa.Table) -> UpsertInsert:
        """The dialect's ``INSERT`` construct, which knows ``ON CONFLICT``."""

    @abc.abstractmethod
    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold a named lock shared by every user of this database."""

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        with translate_errors(action, secret=self._secret):
            yield

    @contextlib.asynccontextmanager
    async def _begin(self, action: str) -> AsyncIterator[AsyncConnection]:
        async with self._serial:
            with self._translate(action):
                async with self._engine.begin() as conn:
                    yield conn

    async def run_sync(self, action: str, fn: Callable[[sa.Connection], _T]) -> _T:
        """Run ``fn`` on a sync view of one connection in one transaction (for Alembic)."""
        async with self._begin(action) as conn:
            return await conn.run_sync(fn)

    async def upsert_customer(self, *, name: str, phone: str | None, email: str | None) -> Customer:
        email = email.lower() if email is not None else None
        async with self._begin("upsert_customer") as conn:
            for _ in range(_UPSERT_CUSTOMER_ATTEMPTS):
                found = await self._find_customer(conn, phone, email)
                if found is not None:
                    return await self._fill_in_customer(conn, found, name=name, email=email)
                inserted = await conn.execute(
                    self._insert(customers)
                    .values(name=name, phone=phone, email=email, created_at=_now())
                    .on_conflict_do_nothing()
                    .returning(*customers.c)
                )
                row = inserted.one_or_none()
                if row is not None:
                    return _customer(row)
                # Another process inserted the same identity first: find theirs.
        raise RepositoryError("upsert_customer failed: the customer kept changing; try again")

    async def _find_customer(
        self, conn: AsyncConnection, phone: str | None, email: str | None
    ) -> Customer | None:
        if phone is not None:
            condition = customers.c.phone == phone
        elif email is not None:
            condition = sa.and_(customers.c.phone.is_(None), customers.c.email == email)
        else:
            return None
        query = sa.select(customers).where(condition).order_by(customers.c.id).limit(1)
        row = (await conn.execute(query)).one_or_none()
        return None if row is None else _customer(row)

    async def _fill_in_customer(
        self, conn: AsyncConnection, found: Customer, *, name: str, email: str | None
    ) -> Customer:
        if (found.name or not name) and (found.email is not None or email is None):
            return found
        # Conditional in SQL, so a concurrent fill-in never overwrites a value already set.
        filled = await conn.execute(
            sa.update(customers)
            .where(customers.c.id == found.id)
            .values(
                name=sa.case((customers.c.name == "", name), else_=customers.c.name),
                email=sa.func.coalesce(customers.c.email, email),
            )
            .returning(*customers.c)
        )
        return _customer(filled.one())

    async def get_customer(self, customer_id: int) -> Customer | None:
        async with self._begin("get_customer") as conn:
            query = sa.select(customers).where(customers.c.id == customer_id)
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _customer(row)

    async def add_appointment(self, new: NewAppointment) -> tuple[Appointment, bool]:
        async with self._begin("add_appointment") as conn:
            inserted = await conn.execute(
                self._insert(appointments)
                .values(
                    customer_id=new.customer_id,
                    booking_uid=new.booking_uid,
                    event_type_id=new.event_type_id,
                    start_at=new.start,
                    end_at=new.end,
                    timezone=new.timezone,
                    status=new.status.value,
                    created_at=_now(),
                    rescheduled_from_uid=new.rescheduled_from_uid,
                )
                .on_conflict_do_nothing(index_elements=[appointments.c.booking_uid])
                .returning(*appointments.c)
            )
            row = inserted.one_or_none()
            if row is not None:
                return _appointment(row), True
            query = sa.select(appointments).where(appointments.c.booking_uid == new.booking_uid)
            return _appointment((await conn.execute(query)).one()), False

    async def _appointments(self, action: str, query: sa.Select[Any]) -> list[Appointment]:
        async with self._begin(action) as conn:
            rows = (await conn.execute(query)).all()
        return [_appointment(row) for row in rows]

    async def get_appointment(self, appointment_id: int) -> Appointment | None:
        query = sa.select(appointments).where(appointments.c.id == appointment_id)
        found = await self._appointments("get_appointment", query)
        return found[0] if found else None

    async def get_appointment_by_uid(self, booking_uid: str) -> Appointment | None:
        query = sa.select(appointments).where(appointments.c.booking_uid == booking_uid)
        found = await self._appointments("get_appointment_by_uid", query)
        return found[0] if found else None

    async def appointments_at(self, *, event_type_id: int, start: datetime) -> list[Appointment]:
        query = (
            sa.select(appointments)
            .where(appointments.c.event_type_id == event_type_id, appointments.c.start_at == start)
            .order_by(appointments.c.id)
        )
        return await self._appointments("appointments_at", query)

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
        async with self._begin("set_appointment_status") as conn:
            updated = await conn.execute(
                sa.update(appointments)
                .where(appointments.c.id == appointment_id)
                .values(status=status.value)
                .returning(*appointments.c)
            )
            row = updated.one_or_none()
        if row is None:
            raise KeyError(appointment_id)
        return _appointment(row)

    async def record_calcom_change(
        self, appointment_id: int, status: AppointmentStatus, *, event_at: datetime
    ) -> Appointment:
        """Like the in-memory store, an unknown id raises :class:`KeyError`."""
        async with self._begin("record_calcom_change") as conn:
            updated = await conn.execute(
                sa.update(appointments)
                .where(appointments.c.id == appointment_id)
                .values(status=status.value, calcom_event_at=event_at)
                .returning(*appointments.c)
            )
            row = updated.one_or_none()
        if row is None:
            raise KeyError(appointment_id)
        return _appointment(row)

    async def upsert_call(self, call: Call) -> Call:
        values = {name: getattr(call, name) for name in _CALL_FIELDS}
        insert = self._insert(calls).values(call_id=call.call_id, created_at=_now(), **values)
        # One statement: a stored field survives unless this call brings a value for it.
        merged = {name: sa.func.coalesce(insert.excluded[name], calls.c[name]) for name in values}
        async with self._begin("upsert_call") as conn:
            stored = await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[calls.c.call_id], set_=merged
                ).returning(*calls.c)
            )
            return _call(stored.one())

    async def get_call(self, call_id: str) -> Call | None:
        async with self._begin("get_call") as conn:
            query = sa.select(calls).where(calls.c.call_id == call_id)
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _call(row)

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        async with self._begin("link") as conn:
            inserted = await conn.execute(
                self._insert(call_appointment_links)
                .values(
                    call_id=link.call_id,
                    appointment_id=link.appointment_id,
                    relationship=link.relationship.value,
                    linked_at=link.linked_at,
                    metadata=dict(link.metadata),
                )
                .on_conflict_do_nothing(index_elements=list(_LINK_KEY))
                .returning(*call_appointment_links.c)
            )
            row = inserted.one_or_none()
            if row is not None:
                return _link(row), True
            query = sa.select(call_appointment_links).where(
                call_appointment_links.c.call_id == link.call_id,
                call_appointment_links.c.appointment_id == link.appointment_id,
                call_appointment_links.c.relationship == link.relationship.value,
            )
            return _link((await conn.execute(query)).one()), False

    async def _links(self, action: str, condition: sa.ColumnElement[bool]) -> list[CallLink]:
        query = (
            sa.select(call_appointment_links).where(condition).order_by(call_appointment_links.c.id)
        )
        async with self._begin(action) as conn:
            rows = (await conn.execute(query)).all()
        return [_link(row) for row in rows]

    async def links_for_call(self, call_id: str) -> list[CallLink]:
        """Oldest first means in the order they were stored."""
        return await self._links("links_for_call", call_appointment_links.c.call_id == call_id)

    async def links_for_appointment(self, appointment_id: int) -> list[CallLink]:
        """Oldest first means in the order they were stored."""
        condition = call_appointment_links.c.appointment_id == appointment_id
        return await self._links("links_for_appointment", condition)

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta
    ) -> ToolCallClaim:
        # Take an existing row over only if nobody finished it and its owner gave up or
        # outlived the lease.
        stale = sa.or_(tool_calls.c.abandoned, tool_calls.c.claimed_at <= now - lease)
        return await self._claim_tool_call(key, now=now, create=True, take_over_if=stale)

    async def _claim_tool_call(
        self,
        key: ToolCallKey,
        *,
        now: datetime,
        create: bool,
        take_over_if: sa.ColumnElement[bool],
    ) -> ToolCallClaim:
        """Insert the claim (if ``create``), else take an unfinished one over if the condition
        holds; the ``WHERE`` makes the takeover atomic between processes."""
        async with self._begin("claim_tool_call") as conn:
            if create:
                inserted = await conn.execute(
                    self._insert(tool_calls)
                    .values(
                        call_id=key.call_id,
                        tool=key.tool,
                        args_digest=key.args_digest,
                        claimed_at=now,
                        abandoned=False,
                    )
                    .on_conflict_do_nothing(index_elements=list(_TOOL_CALL_KEY))
                    .returning(tool_calls.c.call_id)
                )
                if inserted.one_or_none() is not None:
                    return ToolCallClaimed(resumed=False)
            taken = await conn.execute(
                sa.update(tool_calls)
                .where(_tool_call_is(key), tool_calls.c.finished_at.is_(None), take_over_if)
                .values(claimed_at=now, abandoned=False)
            )
            if taken.rowcount == 1:
                return ToolCallClaimed(resumed=True)
            query = sa.select(tool_calls.c.finished_at, tool_calls.c.result).where(
                _tool_call_is(key)
            )
            row = (await conn.execute(query)).one_or_none()
        if row is not None and row.finished_at is not None:
            return ToolCallFinished(result=row.result)
        return ToolCallBusy()

    async def finish_tool_call(
        self, key: ToolCallKey, result: dict[str, Any], *, now: datetime
    ) -> None:
        insert = self._insert(tool_calls).values(
            call_id=key.call_id,
            tool=key.tool,
            args_digest=key.args_digest,
            claimed_at=now,
            finished_at=now,
            abandoned=False,
            result=dict(result),
        )
        replace = {name: insert.excluded[name] for name in ("claimed_at", "finished_at", "result")}
        async with self._begin("finish_tool_call") as conn:
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=list(_TOOL_CALL_KEY), set_={**replace, "abandoned": False}
                )
            )

    async def tool_call_results(self, call_id: str, tool: str) -> list[dict[str, Any]]:
        query = (
            sa.select(tool_calls.c.result)
            .where(
                tool_calls.c.call_id == call_id,
                tool_calls.c.tool == tool,
                tool_calls.c.finished_at.is_not(None),
            )
            .order_by(tool_calls.c.finished_at, tool_calls.c.args_digest)
        )
        async with self._begin("tool_call_results") as conn:
            rows = (await conn.execute(query)).all()
        return [dict(row.result) for row in rows if row.result is not None]

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        async with self._begin("abandon_tool_call") as conn:
            await conn.execute(
                sa.update(tool_calls)
                .where(_tool_call_is(key), tool_calls.c.finished_at.is_(None))
                .values(abandoned=True)
            )

    async def find_customer(self, *, phone: str | None, email: str | None) -> Customer | None:
        async with self._begin("find_customer") as conn:
            return await self._find_customer(conn, phone, email.lower() if email else None)

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
        query = sa.select(tool_calls).order_by(at, *_TOOL_CALL_KEY)
        if since is not None:
            query = query.where(at >= since)
        if until is not None:
            query = query.where(at < until)
        async with self._begin("tool_call_records") as conn:
            rows = (await conn.execute(query)).all()
        return [_tool_call_record(row) for row in rows]

    async def tool_outcome_counts(self) -> dict[tuple[str, str], int]:
        status = sa.case(
            (tool_calls.c.finished_at.is_not(None), tool_calls.c.result["status"].as_string()),
            (tool_calls.c.abandoned, sa.literal(ToolStatus.ERROR.value)),
            else_=sa.null(),
        ).label("status")
        query = sa.select(tool_calls.c.tool, status, sa.func.count().label("n")).group_by(
            tool_calls.c.tool, status
        )
        async with self._begin("tool_outcome_counts") as conn:
            rows = (await conn.execute(query)).all()
        return {(row.tool, row.status): row.n for row in rows if row.status is not None}

    async def close(self) -> None:
        """Close every pooled connection; the repository cannot be used afterwards."""
        await self._engine.dispose()
