"""SQLite through aiosqlite: one file, one process.

``lock`` is an in-process :class:`asyncio.Lock`, so run a single server process against a
SQLite file; use PostgreSQL when several processes share the store.

SQLite has one writer at a time, so the process queues its transactions itself: waiting
on an :class:`asyncio.Lock` is fair and immediate, where SQLite's busy handler sleeps in
growing steps and made tail latency under concurrent calls seconds long. Commits do not
wait for fsync (``synchronous=NORMAL`` in WAL mode): a crash of the process loses
nothing, a power loss at most the last commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from retell_booking_tools.repository.sql import SqlRepository, parse_url

__all__ = ["SqliteRepository", "sqlite_url"]

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

    Transactions are queued in-process (see the module docstring). ``:memory:`` shares one
    connection (a :class:`StaticPool`) and starts empty:
    :func:`~retell_booking_tools.repository.factory.open_repository` creates its tables.
    """

    def __init__(self, url: str) -> None:
        async_url = sqlite_url(url, driver="aiosqlite")
        self.is_memory = is_memory(async_url)
        options: dict[str, Any] = {"poolclass": StaticPool} if self.is_memory else {}
        engine = create_async_engine(async_url, hide_parameters=True, **options)
        event.listen(engine.sync_engine, "connect", _configure_connection)
        super().__init__(engine, serialize=True)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Excludes other tasks of this process only (see the module docstring)."""
        async with self._locks[name]:
            yield
