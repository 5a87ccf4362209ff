"""PostgreSQL through psycopg 3 (the ``postgres`` extra): many processes, one store.

``lock`` is a session-level advisory lock, so it excludes every process using the database.
A claimed tool call is also marked by an advisory lock, held by one session per process for
as long as the call runs: when a process dies, PostgreSQL ends its session and frees its
claims at once, so the next delivery resumes the call without waiting for the lease.
psycopg is imported only when an engine is created, so the package imports without it.

A schema other than the default is chosen by ``search_path``: pass ``schema=`` (it is added
to the libpq ``options`` of every connection) or put ``?options=-csearch_path%3Dname`` in
the URL. Tests use this to give each test a schema of its own.

Pooled connections are not pinged when checked out (a round trip per transaction): a
connection the server ended while it was idle fails on the transaction's first statement,
before anything was done, and the transaction (or the lock) is tried once more on a
fresh connection. SQLAlchemy then renews every connection of the pool that is older
than the failure, so after a restart the retry does not meet another dead one.

Single statements, and the steps whose writes are each atomic and idempotent (claiming a
tool call, the caller's customer, an appointment, a link, an answer; see
:meth:`SqlRepository._idempotent`), run in autocommit: no ``BEGIN`` or ``COMMIT`` round trip
is left on a booking's path, and such work is retried once on a fresh connection after a
failure a new attempt can heal. Every session is opened in autocommit, so that work takes
a connection as it is; a transaction switches its connection to the server's default
isolation level for its duration. Each store operation (checkout, statements, return to
the pool) runs on the connection's synchronous view inside one greenlet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from retell_booking_tools.domain import (
    NO_FACTS,
    Call,
    Invocation,
    ResultFacts,
    ToolCallClaim,
    ToolCallClaimed,
    ToolCallKey,
)
from retell_booking_tools.errors import ConfigurationError
from retell_booking_tools.repository.locks import NamedLocks
from retell_booking_tools.repository.protocol import business_lock_name
from retell_booking_tools.repository.schema import tool_calls
from retell_booking_tools.repository.sql import SqlRepository, parse_url

__all__ = [
    "DEFAULT_POOL_SIZE",
    "PoolSizes",
    "PostgresRepository",
    "advisory_key",
    "claim_lock_name",
    "import_driver",
    "pool_sizes",
    "postgres_url",
    "retrying_statement",
    "retrying_transaction",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MISSING_DRIVER = (
    "RETELL_BOOKING_DATABASE_URL names PostgreSQL, which needs the `postgres` extra: "
    "pip install 'retell-booking-tools[postgres]'"
)


DEFAULT_POOL_SIZE = 5
"""Four processes at this size (21 connections each) fit PostgreSQL's default
``max_connections`` of 100 with its 3 reserved superuser connections."""
DEFAULT_POOL_TIMEOUT_SECONDS = 8.0
"""How long a query waits for a pooled connection when no tool budget says otherwise."""


@attrs.frozen
class PoolSizes:
    """Every connection one process can open to PostgreSQL, by use."""

    queries: int
    overflow: int
    locks: int
    claims: int = 1

    @property
    def total(self) -> int:
        """The most connections this process ever holds at once."""
        return self.queries + self.overflow + self.locks + self.claims


def pool_sizes(pool_size: int = DEFAULT_POOL_SIZE) -> PoolSizes:
    """The one formula for a process's connections: ``pool_size`` for queries, as many more
    under load, twice as many for slot locks and one for claims (``4 * pool_size + 1``)."""
    return PoolSizes(queries=pool_size, overflow=pool_size, locks=2 * pool_size)


def postgres_url(url: str, *, schema: str | None = None) -> tuple[URL, dict[str, Any]]:
    """The psycopg URL and connect arguments for ``url`` (``postgresql://``/``postgres://``).

    With ``schema``, ``-csearch_path=<schema>`` joins any ``options`` already in the URL.
    """
    parsed = parse_url(url, backends=("postgresql", "postgres"), what="PostgreSQL")
    parsed = parsed.set(drivername="postgresql+psycopg")
    if schema is None:
        return parsed, {}
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError(f"not a plain PostgreSQL schema name: {schema!r}")
    existing = parsed.query.get("options", ())
    options = [existing] if isinstance(existing, str) else list(existing)
    options.append(f"-csearch_path={schema}")
    return parsed.difference_update_query(["options"]), {"options": " ".join(options)}


def import_driver() -> None:
    """Fail early, and say which extra to install, when psycopg is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(_MISSING_DRIVER) from exc


def advisory_key(namespace: str, name: str) -> int:
    """A 64-bit advisory lock key for ``name`` within ``namespace`` (the schema)."""
    digest = hashlib.sha256(f"{namespace}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _discard(conn: AsyncConnection) -> None:
    """Close the session for good: PostgreSQL then releases every advisory lock it held."""
    try:
        await conn.invalidate()
        await conn.close()
    except Exception:
        logger.warning("could not close a lock connection cleanly", exc_info=True)


async def _call_advisory(
    conn: AsyncConnection, function: Callable[[sa.Cast[int]], sa.Function[Any]], key: int
) -> Any:
    """``function(key)`` (an advisory lock function) on a connection in autocommit, its
    statement and commit in one trip to the driver's greenlet; its result."""

    def call(sync: sa.Connection) -> Any:
        value = sync.execute(sa.select(function(sa.cast(key, sa.BigInteger)))).scalar_one()
        sync.commit()
        return value

    return await conn.run_sync(call)


async def _unlock(conn: AsyncConnection, key: int) -> None:
    try:
        await _call_advisory(conn, sa.func.pg_advisory_unlock, key)
    except Exception:
        logger.warning("could not release an advisory lock; closing its session", exc_info=True)
        await _discard(conn)
    else:
        await conn.close()


_RETRYABLE_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
        "57P01",  # admin_shutdown (pg_terminate_backend, a restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, failing over)
    }
)


class _Attempt:
    """One try of a transaction: whether it has a connection yet (before that nothing was
    sent), and whether its commit has been sent (then never repeat it)."""

    connected = False
    committing = False


async def retrying_transaction(
    engine: AsyncEngine, action: str, work: Callable[[sa.Connection], _T]
) -> _T:
    """``work`` in one transaction on a pooled connection of ``engine``, tried once more on
    a fresh one when it failed before its commit for a reason a new attempt can heal (a
    terminated session, a failover, a serialization failure or deadlock, a full server,
    a connection that could not be opened at all); a failed commit is never repeated: it
    may have committed.

    The repository's transactions, and the store's own tables beside it (the Cal.com
    budget), whose connections are not pinged on checkout either. ``work`` runs on the
    connection's synchronous view, each statement still awaiting the async driver, and
    the checkout, the work and the return to the pool share one greenlet.
    """
    return await _once_more_if_healable(
        action, lambda attempt: greenlet_spawn(_one_transaction, engine.sync_engine, work, attempt)
    )


async def retrying_statement(
    engine: AsyncEngine, action: str, work: Callable[[sa.Connection], _T]
) -> _T:
    """``work``, whose repetition does no harm (one statement, or steps each atomic and
    idempotent), in autocommit on a pooled connection of ``engine``: no ``BEGIN`` or
    ``COMMIT`` round trip, its row locks last as long as each statement, not until a
    ``COMMIT`` sent by a process that may be busy, and it is tried once more after any
    failure a new attempt can heal. As :func:`retrying_transaction`, on one greenlet."""
    return await _once_more_if_healable(
        action,
        lambda attempt: greenlet_spawn(_autocommitted_statement, engine.sync_engine, work, attempt),
    )


async def _once_more_if_healable(action: str, run: Callable[[_Attempt], Awaitable[_T]]) -> _T:
    """``run`` once, and once more on a fresh connection after a failure a new attempt can
    heal, unless its commit had been sent."""
    attempt = _Attempt()
    try:
        return await run(attempt)
    except sa_exc.DBAPIError as exc:
        if attempt.committing or not _heals_on_retry(exc, connecting=not attempt.connected):
            raise
        logger.warning(
            "%s: the store failed (%s); retrying once on a fresh connection",
            action,
            _describe(exc),
        )
    return await run(_Attempt())


def _autocommitted_statement(
    engine: sa.Engine, work: Callable[[sa.Connection], _T], attempt: _Attempt
) -> _T:
    with engine.connect() as conn:
        attempt.connected = True
        if not _in_autocommit(conn):
            conn = conn.execution_options(isolation_level=_AUTOCOMMIT)
        return work(conn)


def _one_transaction(
    engine: sa.Engine, work: Callable[[sa.Connection], _T], attempt: _Attempt
) -> _T:
    with engine.connect() as conn:
        attempt.connected = True
        if _in_autocommit(conn):
            conn = conn.execution_options(isolation_level=conn.dialect.default_isolation_level)
        with conn.begin():
            result = work(conn)
            attempt.committing = True
        return result


_AUTOCOMMIT = "AUTOCOMMIT"


def _in_autocommit(conn: sa.Connection) -> bool:
    """Whether the connection's session commits each statement on its own: the
    repository's engine is made so, which spares its autocommitted work a switch and a
    switch back per checkout; its transactions take the switch instead."""
    return bool(getattr(conn.connection.dbapi_connection, "autocommit", False))


def _heals_on_retry(error: sa_exc.DBAPIError, *, connecting: bool = False) -> bool:
    """Whether the same transaction on a fresh connection may succeed.

    A connection that could not be opened (refused, ``too many clients``, a server starting
    up or failing over) carries neither an invalidated connection nor, often, a SQLSTATE;
    nothing was sent on it, so trying again is always safe.
    """
    if connecting and isinstance(error, sa_exc.OperationalError):
        return True
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return sqlstate in _RETRYABLE_SQLSTATES or sqlstate.startswith("08")


def _describe(error: sa_exc.DBAPIError) -> str:
    """The driver's error class and SQLSTATE, never its message (which may quote data)."""
    cause = error.orig if error.orig is not None else error
    sqlstate = getattr(cause, "sqlstate", None)
    return f"{type(cause).__name__}" + (f", SQLSTATE {sqlstate}" if sqlstate else "")


def claim_lock_name(key: ToolCallKey) -> str:
    """The advisory lock name that marks ``key`` as owned by a running process.

    It names the call, tool and arguments, not ``seq``: at most one invocation of them is
    unfinished at a time, and the lock marks that one.
    """
    return f"tool-call\0{key.call_id}\0{key.tool}\0{key.args_digest}"


def _owned_as(key: ToolCallKey) -> ToolCallKey:
    """The key under which a process owns ``key`` (see :func:`claim_lock_name`)."""
    return attrs.evolve(key, seq=0)


class _ClaimOwnership:
    """One session per process holding an advisory lock for each tool call it owns.

    Holding the lock is what makes an owner alive: a delivery that takes the lock knows no
    running process owns the call. Keys owned here are never taken again here (a session
    could take its own lock twice), and every operation is a non-blocking round trip, so
    one connection serves every claim of the process.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        advisory_key: Callable[[AsyncConnection, str], Awaitable[int]],
    ) -> None:
        self._engine = engine
        self._advisory_key = advisory_key
        self._conn: AsyncConnection | None = None
        self._owned: dict[ToolCallKey, int] = {}
        self._mutex = asyncio.Lock()
        self._returning: set[asyncio.Task[None]] = set()

    async def take(self, key: ToolCallKey) -> bool:
        """Lock ``key`` if no live session (this one included) holds it."""
        attempt = asyncio.ensure_future(self._take(key))
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            attempt.add_done_callback(lambda done: self._give_back_if_taken(key, done))
            raise

    async def give_back(self, key: ToolCallKey) -> None:
        """Release ``key`` if this process owns it; never raises."""
        async with self._mutex:
            advisory = self._owned.pop(key, None)
            if advisory is None or self._conn is None:
                return
            try:
                await _call_advisory(self._conn, sa.func.pg_advisory_unlock, advisory)
            except Exception:
                logger.warning("could not release a tool-call claim lock", exc_info=True)
                await self._lose_session()

    async def close(self) -> None:
        async with self._mutex:
            if self._conn is not None:
                await _discard(self._conn)
                self._conn = None
            self._owned.clear()

    async def _take(self, key: ToolCallKey) -> bool:
        async with self._mutex:
            if key in self._owned:
                return False
            reused = self._conn is not None
            try:
                advisory, taken = await self._try_lock(key)
            except sa_exc.DBAPIError as exc:
                if not (reused and exc.connection_invalidated):
                    raise
                # The server ended the idle session (restart, failover, idle timeout), and
                # every lock it held with it: a new session may simply try again.
                advisory, taken = await self._try_lock(key)
            if taken:
                self._owned[key] = advisory
            return taken

    async def _try_lock(self, key: ToolCallKey) -> tuple[int, bool]:
        """One ``pg_try_advisory_lock``; on any failure the session is given up for good."""
        try:
            if self._conn is None:
                self._conn = await self._engine.connect()
            advisory = await self._advisory_key(self._conn, claim_lock_name(key))
            taken = bool(await _call_advisory(self._conn, sa.func.pg_try_advisory_lock, advisory))
        except BaseException:
            await asyncio.shield(self._lose_session())
            raise
        return advisory, taken

    def _give_back_if_taken(self, key: ToolCallKey, attempt: asyncio.Future[bool]) -> None:
        if attempt.cancelled() or attempt.exception() is not None or not attempt.result():
            return
        task = asyncio.ensure_future(self.give_back(key))
        self._returning.add(task)
        task.add_done_callback(self._returning.discard)

    async def _lose_session(self) -> None:
        """End the session, which frees every claim lock of this process; say so if any."""
        if self._owned:
            logger.warning(
                "lost the session marking %d running tool calls as owned; "
                "other replicas may resume them",
                len(self._owned),
            )
        self._owned.clear()
        if self._conn is not None:
            await _discard(self._conn)
            self._conn = None


class PostgresRepository(SqlRepository):
    """PostgreSQL for any number of processes; see the module docstring for ``schema``.

    Lock connections come from a pool of their own (``lock_pool_size``), so tasks holding
    or awaiting locks can never starve the critical sections of the connections they need.
    Tasks of one process queue for a name in-process first, so a name being contended
    costs one lock connection per process, not one per waiting task.

    Tool-call claims are owned through an advisory lock (see the module docstring): a claim
    whose owner's session ended is resumed at once; one whose owner is alive only after
    ``lease`` without a result, as on every backend.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 20,
        lock_pool_size: int = 20,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
    ) -> None:
        async_url, connect_args = postgres_url(url, schema=schema)
        import_driver()
        options: dict[str, Any] = {
            "connect_args": connect_args,
            "hide_parameters": True,
            # The schema has no hstore column: spare each engine's first connection the
            # catalog query that looks the type up.
            "use_native_hstore": False,
        }
        self.pool = PoolSizes(queries=pool_size, overflow=max_overflow, locks=lock_pool_size)
        super().__init__(async_url)
        # Sessions in autocommit: most work is single statements and idempotent steps
        # (:meth:`_idempotent`); a transaction switches its connection for its duration.
        # Advisory locks live in the session, not a transaction: autocommit spares each
        # lock and unlock its BEGIN and COMMIT round trips.
        autocommit = {**options, "isolation_level": _AUTOCOMMIT}
        self._engine = create_async_engine(
            async_url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            **autocommit,
        )
        self._lock_engine = create_async_engine(
            async_url,
            pool_size=lock_pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            **autocommit,
        )
        self._local_locks = NamedLocks()
        self._lock_namespace: str | None = None
        self._claims_engine = create_async_engine(async_url, poolclass=NullPool, **autocommit)
        self._claims = _ClaimOwnership(self._claims_engine, self._advisory_key)

    @classmethod
    def pooled(
        cls,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int | None = None,
        pool_timeout: float | None = None,
    ) -> PostgresRepository:
        """A repository whose pools all scale with ``pool_size`` (default 5) by
        :func:`pool_sizes`: at most ``4 * pool_size + 1`` connections per process.

        ``pool_timeout`` bounds the wait for a free connection (give it the tool budget, so
        a call never waits longer for the store than it may take in all).
        """
        sizes = pool_sizes(DEFAULT_POOL_SIZE if pool_size is None else pool_size)
        return cls(
            url,
            schema=schema,
            pool_size=sizes.queries,
            max_overflow=sizes.overflow,
            lock_pool_size=sizes.locks,
            pool_timeout=DEFAULT_POOL_TIMEOUT_SECONDS if pool_timeout is None else pool_timeout,
        )

    async def connection_capacity(self) -> int:
        """Connections PostgreSQL admits for ordinary roles: ``max_connections`` minus the
        reserved ones (``superuser_reserved_connections``, and ``reserved_connections``
        from PostgreSQL 16)."""

        def read(conn: sa.Connection) -> int:
            settings = sa.select(
                sa.func.current_setting("max_connections"),
                sa.func.current_setting("superuser_reserved_connections"),
                sa.func.current_setting("reserved_connections", True),
            )
            values = conn.execute(settings).one()
            return int(values[0]) - sum(int(value) for value in values[1:] if value)

        return await self._transact("read max_connections", read)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def _insert(self, table: sa.Table) -> postgresql.Insert:
        return postgresql.insert(table)

    async def _transact(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """One transaction on a pooled connection (:func:`retrying_transaction`)."""
        with self._translate(action):
            return await retrying_transaction(self._engine, action, work)

    async def _idempotent(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """In autocommit (:func:`retrying_statement`): each statement is its own
        transaction, which spares the round trips of ``BEGIN`` and ``COMMIT``."""
        with self._translate(action):
            return await retrying_statement(self._engine, action, work)

    async def _advisory_key(self, conn: AsyncConnection, name: str) -> int:
        # Locks are per database; keying them by schema keeps separate stores apart.
        if self._lock_namespace is None:
            schema = (await conn.execute(sa.select(sa.func.current_schema()))).scalar_one()
            self._lock_namespace = str(schema)
        return advisory_key(self._lock_namespace, name)

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Held on a dedicated connection; released on exit, error or cancellation.

        If acquiring or releasing is interrupted, the connection is closed instead of
        returned to the pool, since ending the session is what surely frees the lock.
        """
        name = business_lock_name(self.business_id, name)
        async with self._local_locks.hold(name):
            conn, key = await self._acquire(name)
            try:
                yield
            finally:
                await asyncio.shield(_unlock(conn, key))

    async def _acquire(self, name: str) -> tuple[AsyncConnection, int]:
        """The lock's connection and key once the lock is held; a pooled connection the
        server ended meanwhile is given up and the lock asked for once more on another."""
        retried = False
        while True:
            with self._translate("lock"):
                conn = await self._lock_engine.connect()
            try:
                key = await self._advisory_key(conn, name)
                await _call_advisory(conn, sa.func.pg_advisory_lock, key)
            except sa_exc.DBAPIError as exc:
                await asyncio.shield(_discard(conn))
                if retried or not _heals_on_retry(exc):
                    with self._translate("lock"):
                        raise
                logger.warning(
                    "lock: the store failed (%s); retrying once on a fresh connection",
                    _describe(exc),
                )
                retried = True
                continue
            except BaseException:
                await asyncio.shield(_discard(conn))
                raise
            return conn, key

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta, call: Call | None = None
    ) -> ToolCallClaim:
        owned_as = _owned_as(key)
        with self._translate("claim_tool_call"):
            locked = await self._claims.take(owned_as)
        if not locked:
            # A live session owns it, or is looking at it right now: only a claim older
            # than the lease, whose owner seems stuck, may be taken over.
            def outlived() -> sa.ColumnElement[bool]:
                return tool_calls.c.claimed_at <= now - lease

            return await self._claim_tool_call(
                key, now=now, create=False, take_over_if=outlived, call=call
            )
        # No running process owns it: an unfinished claim was left by one that died.
        try:
            claim = await self._claim_tool_call(
                key, now=now, create=True, take_over_if=sa.true, call=call
            )
        except BaseException:
            await asyncio.shield(self._claims.give_back(owned_as))
            raise
        if not isinstance(claim, ToolCallClaimed):
            await asyncio.shield(self._claims.give_back(owned_as))
        return claim

    async def claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: datetime,
        lease: timedelta,
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        """As :meth:`claim_tool_call`: without the claim lock, a delivery may take over only
        an outlived claim and never starts an invocation (it hears busy and asks again)."""
        owned_as = _owned_as(key)
        with self._translate("claim_invocation"):
            locked = await self._claims.take(owned_as)
        if not locked:

            def outlived() -> sa.ColumnElement[bool]:
                return tool_calls.c.claimed_at <= now - lease

            return await self._claim_invocation(
                key,
                invocation,
                now=now,
                lease=lease,
                create=False,
                take_over_if=outlived,
                call=call,
            )
        try:
            resolved, claim = await self._claim_invocation(
                key, invocation, now=now, lease=lease, create=True, take_over_if=sa.true, call=call
            )
        except BaseException:
            await asyncio.shield(self._claims.give_back(owned_as))
            raise
        if not isinstance(claim, ToolCallClaimed):
            await asyncio.shield(self._claims.give_back(owned_as))
        return resolved, claim

    async def finish_tool_call(
        self,
        key: ToolCallKey,
        result: dict[str, Any],
        *,
        now: datetime,
        facts: ResultFacts = NO_FACTS,
    ) -> None:
        try:
            await super().finish_tool_call(key, result, now=now, facts=facts)
        finally:
            await asyncio.shield(self._claims.give_back(_owned_as(key)))

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        try:
            await super().abandon_tool_call(key)
        finally:
            await asyncio.shield(self._claims.give_back(_owned_as(key)))

    async def close(self) -> None:
        """Close every pooled connection; the repository cannot be used afterwards."""
        await self._claims.close()
        await self._claims_engine.dispose()
        await self._lock_engine.dispose()
        await self._engine.dispose()
