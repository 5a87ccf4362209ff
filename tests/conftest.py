"""Fixtures shared by every test package.

Stores on every backend:

- ``repository``: one fresh, empty store per backend (``memory``, ``sqlite``, ``postgres``);
  a test that takes it runs three times.
- ``make_repository(kind)``: the same as a factory, for tests that build their own world.
- ``databases``: fresh databases that can be opened more than once (two "processes")
  or left un-upgraded.
- ``sqlite_url``: the URL of a fresh, upgraded SQLite file, for code that opens it itself.

SQLite files are copies of one migrated template, under ``/dev/shm`` where the machine has
it (:func:`_memory_backed_dir`).

The whole backend on each of them: ``world`` (``agent_backend.World``: the app, the
Cal.com emulator, a Retell simulator and a test clock), with ``requires_confirmation`` and
``language`` for a test module to override.

PostgreSQL tests run against ``RETELL_BOOKING_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each in a schema no other test is using: an
upgraded one is emptied and reused by a later test of the same worker, others are dropped, so
concurrent runs (and the xdist workers of one run) never see each other.
Without a server they are skipped, except when ``CI`` is set: there a missing PostgreSQL
fails the run.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import gc
import graphlib
import itertools
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import pytest
import stamina
from hypothesis.configuration import set_hypothesis_home_dir

# The package and the backend are imported where they are used: the xdist controller loads
# this file too, and every worker waits for it before it starts.
if TYPE_CHECKING:
    import psycopg
    from agent_backend import World
    from psycopg import sql

    from retell_booking_tools.repository import Repository

Backend = Literal["memory", "sqlite", "postgres"]
MakeRepository = Callable[[Backend], Awaitable["Repository"]]

# Hypothesis keeps failing examples and its caches for the next run, outside the checkout.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "retell-booking-tools-hypothesis"))

POSTGRES_URL = os.environ.get(
    "RETELL_BOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (the default): one worker per core the run may use, at most four.

    Not more: the load, lease and time-budget tests need the cores they measure, and each
    worker holds PostgreSQL connections. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides
    when set.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, 4)


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the tests of an ``xdist_group`` that pytest-xdist's ``loadgroup`` did not group.

    The browser tests share one browser and the server-process tests run one cluster at a
    time only if each group stays on one worker; pytest-xdist marks that in the test ids,
    which some pytest releases ignore, and then spreads the group silently
    (pytest-xdist#1386).
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid:
            item.stash[_UNGROUPED] = (
                "pytest-xdist left this test out of its xdist_group: this pytest release "
                "breaks --dist loadgroup (pytest-xdist#1386)"
            )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _UNGROUPED in item.stash:
        pytest.fail(item.stash[_UNGROUPED], pytrace=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collection built (modules, test items) out of every later GC pass.

    Only the garbage collector's work shrinks: objects made by tests are collected as usual.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _retries_without_backoff() -> Iterator[None]:
    """Every client keeps its own ``max_attempts``, but no test waits between them.

    A test of the backoff itself switches it back on with ``stamina.set_testing(False)``.
    """
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def backends(*kinds: Backend) -> list[Any]:
    """Parameters for the given backends (all by default), PostgreSQL ones marked."""
    return [
        pytest.param(kind, id=kind, marks=[pytest.mark.postgres] if kind == "postgres" else [])
        for kind in kinds or ("memory", "sqlite", "postgres")
    ]


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(name="postgres_url", scope="session")
def fixture_postgres_url() -> str:
    """The test server; skips when it is unreachable, but fails on CI, which must test it."""
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as exc:
        from retell_booking_tools.repository.sql import masked_url

        reason = f"PostgreSQL at {masked_url(POSTGRES_URL)} is unreachable: {exc}"
        if _on_ci():
            pytest.fail(f"{reason}\nCI is set: CI must not skip PostgreSQL tests.", pytrace=False)
        pytest.skip(reason)
    return POSTGRES_URL


@attrs.frozen
class Database:
    """One empty database: a ``memory://`` store, a SQLite file or a PostgreSQL schema."""

    kind: Backend
    url: str
    schema: str | None = None


class Databases:
    """Creates databases for one test; closes and drops all of them at teardown."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._sqlite_dir: Path | None = None
        self._made_sqlite_dir = False
        self._numbers = itertools.count(1)
        self._memory: dict[str, Repository] = {}
        self._opened: list[Repository] = []
        self._schemas: list[tuple[str, bool]] = []

    def create(self, kind: Backend, *, upgraded: bool = True) -> Database:
        """A new database of ``kind``, migrated to head unless ``upgraded`` is false."""
        number = next(self._numbers)
        if kind == "memory":
            return Database(kind, f"memory://test-{number}")
        if kind == "sqlite":
            database = Database(kind, f"sqlite:///{self._sqlite_files() / f'store-{number}.db'}")
            if upgraded:
                self._templates().copy_to(database)
            return database
        url = self._request.getfixturevalue("postgres_url")
        schema = self._templates().postgres_schema(upgraded=upgraded)
        self._schemas.append((schema, upgraded))
        return Database(kind, url, schema)

    def _sqlite_files(self) -> Path:
        if self._sqlite_dir is None:
            made = _memory_backed_dir()
            self._made_sqlite_dir = made is not None
            self._sqlite_dir = made or self._request.getfixturevalue("tmp_path")
        return self._sqlite_dir

    def _templates(self) -> MigratedTemplates:
        templates: MigratedTemplates = self._request.getfixturevalue("migrated_templates")
        return templates

    async def open(self, database: Database, *, check_schema: bool = True) -> Repository:
        """A repository on ``database``; ``memory`` databases give the same store each time."""
        from retell_booking_tools.repository import open_repository

        if database.kind == "memory":
            if database.url not in self._memory:
                self._memory[database.url] = await open_repository(database.url)
            return self._memory[database.url]
        repository = await open_repository(
            database.url, check_schema=check_schema, schema=database.schema
        )
        self._opened.append(repository)
        return repository

    async def aclose(self) -> None:
        """Close every repository first, then give the schemas back (for reuse or dropping)
        and remove the SQLite files."""
        try:
            for repository in reversed(self._opened):
                await repository.close()
        finally:
            for schema, upgraded in self._schemas:
                self._templates().give_back_postgres_schema(schema, upgraded=upgraded)
            if self._made_sqlite_dir and self._sqlite_dir is not None:
                shutil.rmtree(self._sqlite_dir, ignore_errors=True)


class MigratedTemplates:
    """Databases migrated to head once per session, copied for each test that needs one.

    Running every migration for each of the suite's stores cost more than most tests. The
    copy is what the migrations made: a SQLite file copied byte for byte, and a PostgreSQL
    schema rebuilt from ``pg_dump`` of a migrated one (with its ``alembic_version`` row).
    ``tests/repository/test_sql_specific.py`` still runs the real migrations from empty.

    Most of a PostgreSQL copy's time is the server committing its DDL, so copies are made
    a little ahead by a :class:`_SchemaWorker` thread, and an upgraded schema is not dropped
    after its test but reused: a :class:`_SchemaPool` thread checks that it is still
    structurally the template (:func:`_fingerprint`), empties every table but
    ``alembic_version``, restarts its sequences and keeps it for a later test of this
    worker. A test takes whichever schema is ready, a reused one first, and waits only when
    none is: not for the previous test's to be emptied. So a test gets an upgraded schema
    no other test is using, with no rows and ids starting at 1 as in a fresh copy, but
    maybe not a new name. One that a test changed
    (DDL, a downgrade, another ``alembic_version``) is dropped, and so is every schema made
    with ``upgraded=False``: those are always new.
    """

    def __init__(self, directory: Path, postgres_url: Callable[[], str]) -> None:
        self._directory = directory
        self._postgres_url = postgres_url
        self._sqlite: Path | None = None
        self._postgres_script: str | None = None
        self._copies: _SchemaWorker | None = None
        self._pool: _SchemaPool | None = None
        self._handed_out: set[str] = set()
        """PostgreSQL schemas given to a caller and not given back yet."""

    def copy_to(self, database: Database) -> None:
        """Put a copy of the SQLite template at ``database``'s path."""
        assert database.kind == "sqlite"
        target = Path(database.url.removeprefix("sqlite:///"))
        shutil.copyfile(self._sqlite_template(), target)

    def postgres_schema(self, *, upgraded: bool) -> str:
        """A schema no other test is using: at head and empty (reused or a new copy) if
        ``upgraded``, else new and without tables."""
        if not upgraded:
            schema = f"rbt_test_{uuid.uuid4().hex}"
            _run_postgres(self._postgres_url(), f'CREATE SCHEMA "{schema}"')
            self._handed_out.add(schema)
            return schema
        if self._copies is None or self._pool is None:
            script = self._postgres_template()
            self._copies = _SchemaWorker(
                self._postgres_url(),
                lambda schema: _template_for(script, schema),
                ahead=_COPIES_AHEAD,
            )
            self._pool = _SchemaPool(self._postgres_url(), script)
        # A test waits only when no schema is ready: not for the last test's to be emptied.
        ready = self._pool.take_ready() or self._copies.take_ready()
        schema = ready or self._pool.take() or self._copies.take()
        self._handed_out.add(schema)
        return schema

    def give_back_postgres_schema(self, schema: str, *, upgraded: bool) -> None:
        """Take ``schema`` back once its test has closed its connections: reused if it was
        made ``upgraded`` and is still the template, dropped otherwise."""
        self._handed_out.discard(schema)
        if self._pool is None:
            _run_postgres(self._postgres_url(), f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            self._pool.give(schema, reuse=upgraded)

    def close(self) -> None:
        """Drop every schema made ahead, kept for reuse, or handed out and never given
        back; raise what went wrong."""
        try:
            for schema in list(self._handed_out):
                self.give_back_postgres_schema(schema, upgraded=False)
            if self._copies is not None:
                for schema in self._copies.stop():
                    self.give_back_postgres_schema(schema, upgraded=False)
        finally:
            if self._pool is not None:
                self._pool.stop()

    def _sqlite_template(self) -> Path:
        from retell_booking_tools.repository import upgrade_database

        if self._sqlite is None:
            template = self._directory / "template.db"
            with _exclusive(self._directory / "template.db.lock"):
                if not template.exists():
                    building = template.with_suffix(".building")
                    upgrade_database(f"sqlite:///{building}")
                    building.replace(template)
            self._sqlite = template
        return self._sqlite

    def _postgres_template(self) -> str:
        if self._postgres_script is None:
            saved = self._directory / "postgres-template.sql"
            with _exclusive(self._directory / "postgres-template.lock"):
                if not saved.exists():
                    saved.write_text(self._dump_migrated_postgres())
            self._postgres_script = saved.read_text()
        return self._postgres_script

    def _dump_migrated_postgres(self) -> str:
        """``pg_dump`` of a schema migrated to head, its name replaced by ``_TEMPLATE_SCHEMA``."""
        from retell_booking_tools.repository import upgrade_database

        url = self._postgres_url()
        schema = f"rbt_template_{uuid.uuid4().hex}"
        _run_postgres(url, f'CREATE SCHEMA "{schema}"')
        try:
            upgrade_database(url, schema=schema)
            options = ["--no-owner", "--no-privileges", "--inserts"]
            dump = subprocess.run(
                ["pg_dump", *options, "--schema", schema, url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            _run_postgres(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        # psql meta-commands (``\restrict``) are not SQL; everything else is.
        script = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
        return script.replace(schema, _TEMPLATE_SCHEMA)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold ``lock`` (a file) against the other xdist workers, which share the templates."""
    with lock.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


_TEMPLATE_SCHEMA = "__rbt_template_schema__"
"""Stands for the schema's name in the saved template script."""
_COPIES_AHEAD = 2


class _SchemaWorker:
    """A thread with a connection of its own that makes schemas ahead.

    It keeps up to ``ahead`` new ones, each made by ``statement``, ready for :meth:`take`.
    An error in the thread is raised by the next call.
    """

    def __init__(self, url: str, statement: Callable[[str], str], *, ahead: int) -> None:
        self._url = url
        self._statement = statement
        self._room = threading.Semaphore(ahead)
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="postgres-schemas", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The next schema made ahead, waiting for it if none is ready yet."""
        return self._handed(self._ready.get())

    def take_ready(self) -> str | None:
        """The next schema made ahead if one is ready, else ``None``."""
        try:
            return self._handed(self._ready.get_nowait())
        except queue.Empty:
            return None

    def _handed(self, item: str | BaseException) -> str:
        if isinstance(item, BaseException):
            self._ready.put(item)
            raise item
        self._room.release()
        return item

    def stop(self) -> list[str]:
        """End the thread; return the schemas made, untaken."""
        self._stopping.set()
        self._thread.join()
        made: list[str] = []
        while not self._ready.empty():
            item = self._ready.get()
            if isinstance(item, str):
                made.append(item)
        if self._error is not None:
            raise self._error
        return made

    def _work(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self._url, autocommit=True) as connection:
                while not self._stopping.is_set():
                    if self._room.acquire(timeout=0.1):
                        schema = f"rbt_test_{uuid.uuid4().hex}"
                        connection.execute(self._statement(schema).encode())
                        self._ready.put(schema)
        except BaseException as exc:
            self._error = exc
            self._ready.put(exc)


class _SchemaPool:
    """A thread with a connection of its own that takes schemas back after their test.

    A schema given with ``reuse`` (made upgraded) that is still the template is emptied in
    one transaction and, once that has committed, kept for :meth:`take`; every other schema
    is dropped. An error in the thread is raised by the next call.
    """

    def __init__(self, url: str, script: str) -> None:
        self._url = url
        self._script = script
        self._given: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._changed = threading.Condition()
        self._ready: collections.deque[str] = collections.deque()
        self._emptying = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="postgres-pool", daemon=True)
        self._thread.start()

    def take(self) -> str | None:
        """A schema emptied for reuse, after waiting for those being emptied; else ``None``."""
        with self._changed:
            self._changed.wait_for(lambda: self._ready or not self._emptying or self._error)
            return self._taken()

    def take_ready(self) -> str | None:
        """A schema emptied for reuse if one is ready now, else ``None``."""
        with self._changed:
            return self._taken()

    def _taken(self) -> str | None:
        if self._error is not None:
            raise self._error
        return self._ready.popleft() if self._ready else None

    def give(self, schema: str, *, reuse: bool) -> None:
        """Keep ``schema`` for reuse if ``reuse`` and it is still the template, else drop it."""
        with self._changed:
            if self._error is not None:
                raise self._error
            self._emptying += reuse
        self._given.put((schema, reuse))

    def stop(self) -> None:
        """End the thread once what was given is done, dropping every schema it kept."""
        self._given.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self._url, autocommit=True) as connection:
                # Catalog text (defaults, index definitions) names every schema the same way.
                connection.execute("SET search_path = ''")
                connection.execute("SET jit = off")
                template = _Template.of(connection, self._script)
                while (given := self._given.get()) is not None:
                    schema, reuse = given
                    kept = reuse and template.empty_if_unchanged(connection, schema)
                    if not kept:
                        _drop(connection, schema)
                    with self._changed:
                        self._emptying -= reuse
                        if kept:
                            self._ready.append(schema)
                        self._changed.notify_all()
                with self._changed:
                    kept_schemas, self._ready = list(self._ready), collections.deque()
                for schema in kept_schemas:
                    _drop(connection, schema)
        except BaseException as exc:
            with self._changed:
                self._error = exc
                self._changed.notify_all()


@attrs.frozen
class _Template:
    """What a reusable schema must still be, and how to make it as new again."""

    fingerprint: tuple[str, ...]
    tables: tuple[str, ...]
    """Every table but ``alembic_version``, each before the tables it references."""
    sequences: tuple[tuple[str, int], ...]
    """Every sequence with its start."""

    @classmethod
    def of(cls, connection: psycopg.Connection[Any], script: str) -> _Template:
        """Read off a copy of ``script``'s schema, made in a transaction rolled back."""
        schema = f"rbt_test_{uuid.uuid4().hex}"
        with connection.transaction(force_rollback=True):
            connection.execute(_template_for(script, schema).encode())
            fingerprint = _fingerprint(connection, schema)
            tables = _children_first(connection, schema)
            sequences = connection.execute(_SEQUENCES, {"schema": schema}).fetchall()
        return cls(
            fingerprint,
            tuple(table for table in tables if table != _VERSION_TABLE),
            tuple((name, start) for name, start in sequences),
        )

    def empty_if_unchanged(self, connection: psycopg.Connection[Any], schema: str) -> bool:
        """Whether ``schema`` is still the template; if so, empty it and restart its sequences,
        in one transaction."""
        with connection.transaction():
            if _fingerprint(connection, schema) != self.fingerprint:
                return False
            connection.execute(self._emptying(connection, schema))
        return True

    def _emptying(self, connection: psycopg.Connection[Any], schema: str) -> sql.Composed:
        """Lock, delete, restart. The locks wait for a write still under way (of a killed
        subprocess's session that has not ended yet), so the deletes see its rows."""
        from psycopg import sql

        tables = [sql.Identifier(schema, table) for table in self.tables]
        statements = [
            sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.SQL(", ").join(tables)),
            *(sql.SQL("DELETE FROM {}").format(table) for table in tables),
        ]
        restarts = [
            sql.SQL("setval({}::regclass, {}, false)").format(
                sql.Literal(sql.Identifier(schema, name).as_string(connection)), sql.Literal(start)
            )
            for name, start in self.sequences
        ]
        if restarts:
            statements.append(sql.SQL("SELECT {}").format(sql.SQL(", ").join(restarts)))
        return sql.SQL("; ").join(statements)


def _fingerprint(connection: psycopg.Connection[Any], schema: str) -> tuple[str, ...]:
    """``schema``'s structure and ``alembic_version`` rows as sorted lines, its name replaced.

    Equal fingerprints mean the same tables, columns (types, nullability, defaults),
    indexes, constraints, sequences, triggers and other objects by name: schemas that
    differ only in their rows and the positions of their sequences.
    """
    from psycopg import sql

    lines = [line for (line,) in connection.execute(_STRUCTURE, {"schema": schema})]
    if f"relation {_VERSION_TABLE} r p" in lines:
        versions = sql.SQL("SELECT version_num FROM {}").format(
            sql.Identifier(schema, _VERSION_TABLE)
        )
        lines += [f"version {version}" for (version,) in connection.execute(versions)]
    return tuple(sorted(line.replace(schema, _TEMPLATE_SCHEMA) for line in lines))


def _children_first(connection: psycopg.Connection[Any], schema: str) -> list[str]:
    """``schema``'s tables, each before those its foreign keys reference: a safe order to
    delete their rows in."""
    referenced_by: dict[str, set[str]] = {}
    for table, child in connection.execute(_REFERENCES, {"schema": schema}):
        referenced_by.setdefault(table, set())
        if child is not None and child != table:
            referenced_by[table].add(child)
    return list(graphlib.TopologicalSorter(referenced_by).static_order())


def _template_for(script: str, schema: str) -> str:
    return script.replace(_TEMPLATE_SCHEMA, schema)


def _drop(connection: psycopg.Connection[Any], schema: str) -> None:
    connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


_VERSION_TABLE = "alembic_version"

_STRUCTURE = """
WITH owned AS (
    SELECT d.classid, d.objid FROM pg_depend d
    WHERE d.refclassid = 'pg_namespace'::regclass AND d.deptype = 'n'
      AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
), relations AS (
    SELECT c.* FROM owned o JOIN pg_class c ON c.oid = o.objid
    WHERE o.classid = 'pg_class'::regclass
)
SELECT concat_ws(' ', 'relation', c.relname, c.relkind, c.relpersistence,
                 CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END)
FROM relations c
UNION ALL
SELECT concat_ws(' ', 'column', c.relname, a.attnum, a.attname,
                 format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                 a.attgenerated, pg_get_expr(d.adbin, d.adrelid))
FROM relations c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL
SELECT concat_ws(' ', 'index', pg_get_indexdef(i.indexrelid))
FROM relations c JOIN pg_index i ON i.indrelid = c.oid
UNION ALL
SELECT concat_ws(' ', 'constraint', c.relname, k.conname, k.condeferrable, k.condeferred,
                 pg_get_constraintdef(k.oid))
FROM relations c JOIN pg_constraint k ON k.conrelid = c.oid
UNION ALL
SELECT concat_ws(' ', 'sequence', c.relname, format_type(s.seqtypid, NULL), s.seqstart,
                 s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
FROM relations c JOIN pg_sequence s ON s.seqrelid = c.oid
UNION ALL
SELECT concat_ws(' ', 'trigger', pg_get_triggerdef(t.oid))
FROM relations c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
UNION ALL
SELECT concat_ws(' ', 'other', o.classid::regclass, pg_describe_object(o.classid, o.objid, 0))
FROM owned o WHERE o.classid <> 'pg_class'::regclass
"""
"""One line per table, view, sequence, column, index, constraint and trigger, and one per
other object in the schema (a type, a function). Every lookup goes through an index: the
catalogs of a server whose schemas come and go all day are large."""

_REFERENCES = """
SELECT c.relname, child.relname
FROM pg_class c
LEFT JOIN pg_constraint k ON k.confrelid = c.oid AND k.contype = 'f'
LEFT JOIN pg_class child ON child.oid = k.conrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
  AND c.relkind IN ('r', 'p')
"""
"""Each table with every table whose foreign keys reference it (or ``NULL``)."""

_SEQUENCES = """
SELECT c.relname, s.seqstart
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
"""


def _run_postgres(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement.encode())


@pytest.fixture(name="migrated_templates", scope="session")
def fixture_migrated_templates(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[MigratedTemplates]:
    # xdist workers of one run share the run's base directory, and with it one set of templates.
    shared = tmp_path_factory.getbasetemp().parent
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    directory = shared / "templates" if worker else tmp_path_factory.mktemp("templates")
    directory.mkdir(exist_ok=True)
    templates = MigratedTemplates(
        directory,
        lambda: str(request.getfixturevalue("postgres_url")),
    )
    yield templates
    templates.close()


_MEMORY_BACKED = Path("/dev/shm")


def _memory_backed_dir() -> Path | None:
    """A new directory in memory-backed storage, or ``None`` where the machine has none.

    SQLite test stores live there, so no test waits for a disk to flush its checkpoints.
    """
    if not (_MEMORY_BACKED.is_dir() and os.access(_MEMORY_BACKED, os.W_OK)):
        return None
    return Path(tempfile.mkdtemp(prefix="retell-booking-tools-", dir=_MEMORY_BACKED))


@pytest.fixture(name="databases")
async def fixture_databases(request: pytest.FixtureRequest) -> AsyncIterator[Databases]:
    databases = Databases(request)
    try:
        yield databases
    finally:
        await databases.aclose()


@pytest.fixture(name="sqlite_url")
def fixture_sqlite_url(databases: Databases) -> str:
    """The URL of a new SQLite file at head and empty, for code that opens it by URL."""
    return databases.create("sqlite").url


@pytest.fixture(name="make_repository")
def fixture_make_repository(databases: Databases) -> MakeRepository:
    """``await make_repository("sqlite")``: a fresh, upgraded, empty store of that backend."""

    async def make(kind: Backend) -> Repository:
        return await databases.open(databases.create(kind))

    return make


@pytest.fixture(name="repository", params=backends())
async def fixture_repository(
    request: pytest.FixtureRequest, make_repository: MakeRepository
) -> Repository:
    """A fresh store on each backend in turn."""
    kind: Backend = request.param
    return await make_repository(kind)


@pytest.fixture(name="requires_confirmation")
def fixture_requires_confirmation() -> bool:
    """Instant-confirm event type unless a test overrides this fixture."""
    return False


@pytest.fixture(name="language")
def fixture_language() -> str:
    return "en"


@pytest.fixture(name="world")
async def fixture_world(
    repository: Repository, requires_confirmation: bool, language: str
) -> AsyncIterator[World]:
    from agent_backend import open_world

    async with open_world(
        repository, requires_confirmation=requires_confirmation, language=language
    ) as world:
        yield world
