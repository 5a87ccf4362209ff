"""From ``RETELL_BOOKING_DATABASE_URL`` to a repository, and the schema migrations.

    memory://                 InMemoryRepository (lost on exit; always current)
    sqlite:///relative.db     SqliteRepository (also sqlite:////abs/path.db, sqlite:///:memory:)
    postgresql://... or postgres://...   PostgresRepository (needs the ``postgres`` extra)

Migrations are Alembic scripts shipped inside the package and configured from code, so an
installed wheel upgrades its database with ``retell-booking-tools db upgrade`` alone.
Messages never contain the URL's password.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from retell_booking_tools.errors import ConfigurationError, RepositoryError, SchemaOutOfDate
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.postgres import (
    PostgresRepository,
    advisory_key,
    import_driver,
    pool_sizes,
    postgres_url,
)
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.repository.sql import SqlRepository, masked_url, translate_errors
from retell_booking_tools.repository.sqlite import SqliteRepository, sqlite_url

__all__ = [
    "check_pool_fits",
    "database_revision",
    "open_repository",
    "pool_sizes",
    "readiness",
    "shared_by_processes",
    "upgrade_database",
]

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

# Alembic is imported where it is used: serving needs it only at startup (the schema
# check), and importing it costs a large part of a cold start.

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_SCHEMES: dict[str, Literal["memory", "sqlite", "postgres"]] = {
    "memory": "memory",
    "sqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgres",
    "postgres": "postgres",
    "postgresql+psycopg": "postgres",
}


def _kind(database_url: str) -> Literal["memory", "sqlite", "postgres"]:
    scheme = database_url.partition("://")[0].lower() if "://" in database_url else ""
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise ConfigurationError(
            "RETELL_BOOKING_DATABASE_URL must start with sqlite:///, postgresql:// or "
            f"memory://, not {masked_url(database_url)!r}"
        )
    return kind


def shared_by_processes(database_url: str) -> bool:
    """Whether several server processes may share this store: PostgreSQL only.

    SQLite's and the in-memory store's locks hold within one process, so a second process
    on them could book a slot twice.
    """
    return _kind(database_url) == "postgres"


def _reject_schema_for(kind: str, schema: str | None) -> None:
    if schema is not None and kind != "postgres":
        raise ConfigurationError(f"a schema applies to PostgreSQL only, not to {kind}")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic configured from code: the packaged scripts, run on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration this version of the package ships: the revision its newest
    script is named after (``0009_budget_take.py`` holds revision ``0009``).

    Read from the file names, not by alembic: importing alembic and reading the scripts
    cost a new process more than the rest of its schema check. A test holds it to what
    alembic reads from the scripts.
    """
    scripts = sorted(path.name for path in (_MIGRATIONS / "versions").glob("[0-9]*_*.py"))
    assert scripts, "the package ships no migrations"
    return scripts[-1].split("_", 1)[0]


def _current_revision(connection: sa.Connection) -> str | None:
    """The revision ``alembic_version`` records (``None`` without the table or a row).

    What alembic's ``MigrationContext.get_current_revision`` reads, without its catalog
    reflection, which costs PostgreSQL more than the rest of opening a store. Several rows,
    which this package's linear migrations never write, raise :class:`SchemaOutOfDate`.
    """
    if not _has_version_table(connection):
        return None
    query = sa.text("SELECT version_num FROM alembic_version ORDER BY version_num")
    versions = [str(version) for version in connection.execute(query).scalars()]
    if len(versions) > 1:
        raise SchemaOutOfDate(
            f"database schema records several revisions ({', '.join(versions)}) in "
            "alembic_version, which retell-booking-tools never writes: keep the one the "
            "schema is at"
        )
    return versions[0] if versions else None


def _has_version_table(connection: sa.Connection) -> bool:
    """Whether the connection's default schema (PostgreSQL's ``current_schema()``) holds
    ``alembic_version``, where alembic looks for it."""
    if connection.dialect.name != "postgresql":
        return sa.inspect(connection).has_table("alembic_version")
    qualified = sa.func.quote_ident(sa.func.current_schema()).concat(".alembic_version")
    found = connection.execute(sa.select(sa.func.to_regclass(qualified).is_not(None)))
    return bool(found.scalar_one())


def _create_if_empty(connection: sa.Connection) -> str | None:
    """The revision of a SQLite file, after creating the schema at head if it has no tables.

    A file that holds anything (our tables at an older revision, or someone else's tables)
    is left alone, so only a new or empty file is ever migrated without ``db upgrade``.
    """
    if not sa.inspect(connection).get_table_names():
        return _upgrade_on(connection)
    return _current_revision(connection)


def _upgrade_on(connection: sa.Connection) -> str | None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        # Concurrent `db upgrade` runs on one schema queue here instead of racing.
        schema = connection.execute(sa.select(sa.func.current_schema())).scalar_one()
        key = advisory_key(str(schema), "retell-booking-tools migrations")
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.cast(key, sa.BigInteger))))
    command.upgrade(alembic_config(connection), "head")
    return _current_revision(connection)


def _schema_out_of_date(current: str | None, head: str) -> SchemaOutOfDate:
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        return SchemaOutOfDate(
            f"database schema is at {current}, which this version of retell-booking-tools "
            f"does not know (it knows up to {head}): upgrade retell-booking-tools"
        )
    return SchemaOutOfDate(
        f"database schema is behind (at {current or 'none'}, need {head}): "
        "run `retell-booking-tools db upgrade`"
    )


async def open_repository(
    database_url: str,
    *,
    check_schema: bool = True,
    create_new_sqlite: bool = False,
    schema: str | None = None,
    pool_size: int | None = None,
    pool_timeout: float | None = None,
) -> Repository:
    """The repository ``database_url`` names, ready to use.

    With ``check_schema``, a database whose migrations are not at head raises
    :class:`SchemaOutOfDate`. With ``create_new_sqlite`` (what serving does), a SQLite file
    that is new or empty (no tables at all) is created at head instead, so the embedded
    default serves without ``db upgrade``; PostgreSQL is never migrated implicitly.
    ``sqlite:///:memory:`` is always created on the spot, since no other connection can
    reach it. ``schema`` picks a PostgreSQL schema (``search_path``); see
    :mod:`retell_booking_tools.repository.postgres`. ``pool_size`` sizes PostgreSQL's pools
    (:meth:`PostgresRepository.pooled`, :func:`pool_sizes`) and ``pool_timeout`` bounds the
    wait for one of their connections; SQLite ignores both.
    """
    kind = _kind(database_url)
    _reject_schema_for(kind, schema)
    if kind == "memory":
        return InMemoryRepository()
    repository: SqlRepository
    if kind == "sqlite":
        repository = SqliteRepository(database_url)
    else:
        repository = PostgresRepository.pooled(
            database_url, schema=schema, pool_size=pool_size, pool_timeout=pool_timeout
        )
    try:
        if isinstance(repository, SqliteRepository) and repository.is_memory:
            await repository.run_sync("create the schema", _upgrade_on)
        elif check_schema:
            creates = create_new_sqlite and kind == "sqlite"
            check = _create_if_empty if creates else _current_revision
            current = await repository.run_sync("check the schema", check)
            head = head_revision()
            if current != head:
                raise _schema_out_of_date(current, head)
    except BaseException:
        await repository.close()
        raise
    return repository


async def check_pool_fits(repository: Repository, *, processes: int = 1) -> bool:
    """Whether ``processes`` local processes with this pool fit PostgreSQL's connection limit.

    Reads ``max_connections`` (less the reserved connections) and logs a WARNING naming the
    numbers when they do not fit; other stores always fit. Other hosts' replicas cannot be
    seen from here: the README's formula counts them.
    """
    if not isinstance(repository, PostgresRepository):
        return True
    try:
        capacity = await repository.connection_capacity()
    except RepositoryError as exc:
        logger.warning("could not read max_connections to check the pool size: %s", exc)
        return True
    needed = repository.pool.total * processes
    if needed <= capacity:
        return True
    logger.warning(
        "the PostgreSQL pool may not fit: %d local process(es) x %d connections = %d, but "
        "PostgreSQL admits %d (max_connections less reserved ones); lower "
        "RETELL_BOOKING_DATABASE_POOL_SIZE or raise max_connections",
        processes,
        repository.pool.total,
        needed,
        capacity,
    )
    return False


READINESS_TIMEOUT_SECONDS = 3.0
"""A store that has not answered the readiness check by then counts as unreachable."""


Unready = tuple[Literal["store", "schema"], str]
"""What is wrong (the store cannot be reached, or its schema is not this version's) and
the detail for the log."""


async def readiness(repository: Repository) -> Unready | None:
    """Why ``repository`` cannot serve right now, or ``None`` when it can.

    One short query on a SQL store; the in-memory store and stores of your own are always
    ready (nothing here knows how to ask them).
    """
    if not isinstance(repository, SqlRepository):
        return None
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            current = await repository.run_sync("check readiness", _current_revision)
    except TimeoutError:
        return "store", f"the store did not answer within {READINESS_TIMEOUT_SECONDS:g} s"
    except SchemaOutOfDate as exc:
        return "schema", str(exc)
    except RepositoryError as exc:
        return "store", f"the store is unreachable: {exc}"
    head = head_revision()
    if current != head:
        return "schema", str(_schema_out_of_date(current, head))
    return None


@contextmanager
def _connection(
    database_url: str, schema: str | None, action: str, *, begin: bool
) -> Iterator[sa.Connection | None]:
    """A short-lived synchronous connection (in a transaction with ``begin``) for schema
    work, its errors named by ``action``; None for ``memory://``."""
    engine = _sync_engine(database_url, schema)
    if engine is None:
        yield None
        return
    try:
        with (
            translate_errors(action, secret=engine.url.password),
            engine.begin() if begin else engine.connect() as connection,
        ):
            yield connection
    finally:
        engine.dispose()


def _sync_engine(database_url: str, schema: str | None) -> sa.Engine | None:
    """A short-lived sync engine for Alembic, or ``None`` for the in-memory store."""
    kind = _kind(database_url)
    _reject_schema_for(kind, schema)
    if kind == "memory":
        return None
    if kind == "sqlite":
        return sa.create_engine(
            sqlite_url(database_url, driver="pysqlite"),
            poolclass=NullPool,
            hide_parameters=True,
        )
    url, connect_args = postgres_url(database_url, schema=schema)
    import_driver()
    return sa.create_engine(
        url, connect_args=connect_args, poolclass=NullPool, hide_parameters=True
    )


def upgrade_database(database_url: str, *, schema: str | None = None) -> str:
    """Apply every pending migration and return the revision the database is now at.

    Safe to run from several processes at once on PostgreSQL; ``memory://`` has nothing to
    upgrade.
    """
    with _connection(database_url, schema, "upgrade the database", begin=True) as connection:
        if connection is None:
            return head_revision()
        revision = _upgrade_on(connection)
    assert revision is not None, "alembic upgrade left no revision"
    return revision


def database_revision(database_url: str, *, schema: str | None = None) -> tuple[str | None, str]:
    """``(current, head)``: where the database is (``None`` when empty) and where it should be."""
    head = head_revision()
    with _connection(database_url, schema, "read the revision", begin=False) as connection:
        if connection is None:
            return head, head
        return _current_revision(connection), head
