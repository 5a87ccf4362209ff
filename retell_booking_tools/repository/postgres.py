"""PostgreSQL through psycopg 3 (the ``postgres`` extra): many processes, one store.

``lock`` is a session-level advisory lock, so it excludes every process using the database.
psycopg is imported only when an engine is created, so the package imports without it.

A schema other than the default is chosen by ``search_path``: pass ``schema=`` (it is added
to the libpq ``options`` of every connection) or put ``?options=-csearch_path%3Dname`` in
the URL. Tests use this to give each test a schema of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from retell_booking_tools.errors import ConfigurationError
from retell_booking_tools.repository.sql import SqlRepository, parse_url

__all__ = ["PostgresRepository", "advisory_key", "import_driver", "postgres_url"]

logger = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MISSING_DRIVER = (
    "RETELL_BOOKING_DATABASE_URL names PostgreSQL, which needs the `postgres` extra: "
    "pip install 'retell-booking-tools[postgres]'"
)


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


async def _unlock(conn: AsyncConnection, key: int) -> None:
    try:
        await conn.execute(sa.select(sa.func.pg_advisory_unlock(sa.cast(key, sa.BigInteger))))
        await conn.commit()
    except Exception:
        logger.warning("could not release an advisory lock; closing its session", exc_info=True)
        await _discard(conn)
    else:
        await conn.close()


class PostgresRepository(SqlRepository):
    """PostgreSQL for any number of processes; see the module docstring for ``schema``.

    Lock connections come from a pool of their own (``lock_pool_size``), so tasks holding
    or awaiting locks can never starve the critical sections of the connections they need.
    Tasks of one process queue for a name in-process first, so a name being contended
    costs one lock connection per process, not one per waiting task.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 20,
        lock_pool_size: int = 20,
    ) -> None:
        async_url, connect_args = postgres_url(url, schema=schema)
        import_driver()
        options: dict[str, Any] = {
            "connect_args": connect_args,
            "pool_pre_ping": True,
            "hide_parameters": True,
        }
        engine = create_async_engine(
            async_url, pool_size=pool_size, max_overflow=max_overflow, **options
        )
        super().__init__(engine)
        self._lock_engine = create_async_engine(
            async_url, pool_size=lock_pool_size, max_overflow=0, **options
        )
        self._local_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lock_namespace: str | None = None

    def _insert(self, table: sa.Table) -> postgresql.Insert:
        return postgresql.insert(table)

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
        async with self._local_locks[name]:
            with self._translate("lock"):
                conn = await self._lock_engine.connect()
            try:
                with self._translate("lock"):
                    key = await self._advisory_key(conn, name)
                    lock = sa.func.pg_advisory_lock(sa.cast(key, sa.BigInteger))
                    await conn.execute(sa.select(lock))
                    await conn.commit()
            except BaseException:
                await asyncio.shield(_discard(conn))
                raise
            try:
                yield
            finally:
                await asyncio.shield(_unlock(conn, key))

    async def close(self) -> None:
        await self._lock_engine.dispose()
        await super().close()
