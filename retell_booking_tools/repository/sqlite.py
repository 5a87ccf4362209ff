"""SQLite: one file, one process.

``lock`` is an in-process :class:`asyncio.Lock`, so run a single server process against a
SQLite file; use PostgreSQL when several processes share the store.

SQLite has one writer at a time, so the process queues its transactions itself: each
transaction runs whole on one thread of its own, over one connection, in the order they
were asked for. That is fair and immediate, where SQLite's busy handler sleeps in growing
steps, and it costs one hop between the event loop and that thread per transaction
rather than one per statement, fetch and commit (as an async driver's worker thread
does). Commits do not wait for fsync (``synchronous=NORMAL`` in WAL mode): a crash of the
process loses nothing, a power loss at most the last commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from retell_booking_tools.repository.sql import SqlRepository, parse_url

__all__ = ["SqliteRepository", "sqlite_url"]

_T = TypeVar("_T")

_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON")


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


class SqliteRepository(SqlRepository):
    """A SQLite file (or ``:memory:``) for a single process.

    Transactions are queued in-process on one thread and one connection (see the module
    docstring). ``:memory:`` starts empty:
    :func:`~retell_booking_tools.repository.factory.open_repository` creates its tables.
    """

    def __init__(self, url: str) -> None:
        sync_url = sqlite_url(url, driver="pysqlite")
        self.is_memory = is_memory(sync_url)
        super().__init__(sync_url)
        # One connection, only ever used on the one thread below.
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
        self._closed = False
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    async def _transact(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        """Once started, a transaction runs to its end even if the caller stops waiting."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run, action, work)

    def _run(self, action: str, work: Callable[[sa.Connection], _T]) -> _T:
        with self._translate(action):
            if self._conn is None:
                self._conn = self._engine.connect()
            with self._conn.begin():
                return work(self._conn)

    def _dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Excludes other tasks of this process only (see the module docstring)."""
        async with self._locks[name]:
            yield

    async def close(self) -> None:
        """Close the connection; the repository cannot be used afterwards. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._dispose)
        self._thread.shutdown(wait=False)
