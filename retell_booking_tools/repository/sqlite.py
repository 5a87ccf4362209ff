"""SQLite: one file, one process.

``lock`` is an in-process :class:`asyncio.Lock`, so run a single server process against a
SQLite file; use PostgreSQL when several processes share the store.

A transaction takes SQLite a fraction of a millisecond, less than handing it to another
thread and back (and two threads of one process take turns on the GIL). So each
transaction runs whole on the event loop, over one connection, without waiting for
locks: SQLite answers "busy" at once when another process (a CLI command, a backup)
holds the write lock. That transaction, and any asked for while it is pending, then runs
on a thread of its own with SQLite's busy timeout, so the loop never waits for another
process; once they are done, transactions run on the loop again. Commits do not wait for
fsync (``synchronous=NORMAL`` in WAL mode): a crash of the process loses nothing, a power
loss at most the last commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from retell_booking_tools.repository.locks import NamedLocks
from retell_booking_tools.repository.protocol import business_lock_name
from retell_booking_tools.repository.sql import SqlRepository, parse_url

__all__ = ["SqliteRepository", "sqlite_url"]

_T = TypeVar("_T")

_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON")
_BUSY_TIMEOUT_MS = 5000
"""How long a transaction off the loop waits for another process's write lock."""


def sqlite_url(url: str, *, driver: str) -> URL:
    """A SQLite URL (``sqlite:///relative.db``, ``sqlite:////abs.db``, ``sqlite:///:memory:``)
    set to use ``driver`` (``aiosqlite`` or ``pysqlite``)."""
    return parse_url(url, backends=("sqlite",), what="SQLite").set(drivername=f"sqlite+{driver}")


def is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work during a write; the busy timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    for pragma in _PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _is_busy(exc: sa_exc.OperationalError) -> bool:
    """SQLite refused because another connection holds a lock (SQLITE_BUSY or a variant)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class SqliteRepository(SqlRepository):
    """A SQLite file (or ``:memory:``) for a single process.

    Transactions run on the event loop over one connection, or on one thread when another
    process holds the database (see the module docstring). ``:memory:`` starts empty:
    :func:`~retell_booking_tools.repository.factory.open_repository` creates its tables.
    """

    def __init__(self, url: str) -> None:
        self._pending_off_loop = 0
        """Transactions handed to the thread and not finished: while any are, the
        connection is the thread's, and new transactions queue behind them."""
        sync_url = sqlite_url(url, driver="pysqlite")
        self.is_memory = is_memory(sync_url)
        super().__init__(sync_url)
        # One connection, used by one thread at a time: the loop's or the one below.
        self._engine = sa.create_engine(
            sync_url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            hide_parameters=True,
        )
        event.listen(self._engine, "connect", _configure_connection)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sa.Connection | None = None
        """Opened on first use and kept: a pool checkout per transaction costs more than
        most of the transactions."""
        self._busy_timeout_ms: int | None = None
        self._closed = False
        self._locks = NamedLocks()

    def _insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    async def _transact(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """On the loop unless the database is busy (see the module docstring).

        Once started, a transaction runs to its end even if the caller stops waiting.
        """
        if self._pending_off_loop == 0:
            with self._translate(action):
                try:
                    return self._run(work, busy_timeout_ms=0)
                except sa_exc.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
        self._pending_off_loop += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._run_translated, action, work)
        finally:
            self._pending_off_loop -= 1

    def _run_translated(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        with self._translate(action):
            return self._run(work, busy_timeout_ms=_BUSY_TIMEOUT_MS)

    def _run(self, work: Callable[[sa.Connection], _T], *, busy_timeout_ms: int) -> _T:
        if self._conn is None:
            self._conn = self._engine.connect()
        if self._busy_timeout_ms != busy_timeout_ms:
            self._conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
            self._conn.commit()
            self._busy_timeout_ms = busy_timeout_ms
        with self._conn.begin():
            return work(self._conn)

    def _dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._busy_timeout_ms = None
        self._engine.dispose()

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Excludes other tasks of this process only (see the module docstring)."""
        name = business_lock_name(self.business_id, name)
        async with self._locks.hold(name):
            yield

    async def close(self) -> None:
        """Close the connection; the repository cannot be used afterwards. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._dispose)
        self._thread.shutdown(wait=False)
