"""Fixtures shared by every test package.

Stores on every backend:

- ``repository``: one fresh, empty store per backend (``memory``, ``sqlite``, ``postgres``);
  a test that takes it runs three times.
- ``make_repository(kind)``: the same as a factory, for tests that build their own world.
- ``databases``: fresh databases that can be opened more than once (two "processes")
  or left un-upgraded.

The whole backend on each of them: ``world`` (``agent_backend.World``: the app, the
Cal.com emulator, a Retell simulator and a test clock), with ``requires_confirmation`` and
``language`` for a test module to override.

PostgreSQL tests run against ``RETELL_BOOKING_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each in a schema of its own that is dropped
afterwards, so concurrent runs (and the xdist workers of one run) never see each other.
Without a server they are skipped, except when ``CI`` is set: there a missing PostgreSQL
fails the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
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
from typing import Any, Literal

import attrs
import pytest
import stamina
from agent_backend import World, open_world
from hypothesis.configuration import set_hypothesis_home_dir

from retell_booking_tools.repository import Repository, open_repository, upgrade_database
from retell_booking_tools.repository.sql import masked_url

Backend = Literal["memory", "sqlite", "postgres"]
MakeRepository = Callable[[Backend], Awaitable[Repository]]

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

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self._tmp_path = tmp_path
        self._request = request
        self._numbers = itertools.count(1)
        self._memory: dict[str, Repository] = {}
        self._opened: list[Repository] = []
        self._schemas: list[str] = []

    def create(self, kind: Backend, *, upgraded: bool = True) -> Database:
        """A new database of ``kind``, migrated to head unless ``upgraded`` is false."""
        number = next(self._numbers)
        if kind == "memory":
            return Database(kind, f"memory://test-{number}")
        if kind == "sqlite":
            database = Database(kind, f"sqlite:///{self._tmp_path / f'store-{number}.db'}")
            if upgraded:
                self._templates().copy_to(database)
            return database
        url = self._request.getfixturevalue("postgres_url")
        schema = self._templates().postgres_schema(upgraded=upgraded)
        self._schemas.append(schema)
        return Database(kind, url, schema)

    def _templates(self) -> MigratedTemplates:
        templates: MigratedTemplates = self._request.getfixturevalue("migrated_templates")
        return templates

    async def open(self, database: Database, *, check_schema: bool = True) -> Repository:
        """A repository on ``database``; ``memory`` databases give the same store each time."""
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
        try:
            for repository in reversed(self._opened):
                await repository.close()
        finally:
            for schema in self._schemas:
                self._templates().drop_postgres_schema(schema)


class MigratedTemplates:
    """Databases migrated to head once per session, copied for each test that needs one.

    Running every migration for each of the suite's stores cost more than most tests. The
    copy is what the migrations made: a SQLite file copied byte for byte, and a PostgreSQL
    schema rebuilt from ``pg_dump`` of a migrated one (with its ``alembic_version`` row).
    ``tests/repository/test_sql_specific.py`` still runs the real migrations from empty.

    Most of a PostgreSQL copy's time is the server committing its DDL, so copies are made
    a little ahead and dropped after their test by :class:`_SchemaWorker` threads, while
    tests run. Every test still gets a schema of its own, used by nobody before.
    """

    def __init__(self, directory: Path, postgres_url: Callable[[], str]) -> None:
        self._directory = directory
        self._postgres_url = postgres_url
        self._sqlite: Path | None = None
        self._postgres_script: str | None = None
        self._copies: _SchemaWorker | None = None
        self._drops: _SchemaWorker | None = None

    def copy_to(self, database: Database) -> None:
        """Put a copy of the SQLite template at ``database``'s path."""
        assert database.kind == "sqlite"
        target = Path(database.url.removeprefix("sqlite:///"))
        shutil.copyfile(self._sqlite_template(), target)

    def postgres_schema(self, *, upgraded: bool) -> str:
        """A new schema: a copy of the migrated template, or empty unless ``upgraded``."""
        if not upgraded:
            schema = f"rbt_test_{uuid.uuid4().hex}"
            _run_postgres(self._postgres_url(), f'CREATE SCHEMA "{schema}"')
            return schema
        if self._copies is None:
            script = self._postgres_template()
            self._copies = _SchemaWorker(
                self._postgres_url(),
                lambda schema: script.replace(_TEMPLATE_SCHEMA, schema),
                ahead=_COPIES_AHEAD,
            )
            self._drops = _SchemaWorker(
                self._postgres_url(), lambda schema: f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'
            )
        return self._copies.take()

    def drop_postgres_schema(self, schema: str) -> None:
        """Drop ``schema`` soon (its test has closed its connections)."""
        if self._drops is None:
            _run_postgres(self._postgres_url(), f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            self._drops.give(schema)

    def close(self) -> None:
        """Drop the copies made ahead and wait for every drop; raise what went wrong."""
        try:
            if self._copies is not None:
                for schema in self._copies.stop():
                    self.drop_postgres_schema(schema)
        finally:
            if self._drops is not None:
                self._drops.stop()

    def _sqlite_template(self) -> Path:
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
    """A thread with a connection of its own that runs one statement per schema.

    With ``ahead``, it makes schemas: it keeps up to ``ahead`` new ones ready for
    :meth:`take`. Without, it runs the statement (a drop) for each schema passed to
    :meth:`give`. An error in the thread is raised by the next call.
    """

    def __init__(self, url: str, statement: Callable[[str], str], *, ahead: int = 0) -> None:
        self._url = url
        self._statement = statement
        self._room = threading.Semaphore(ahead) if ahead else None
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._given: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="postgres-schemas", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The next schema made ahead, waiting for it if none is ready yet."""
        assert self._room is not None
        item = self._ready.get()
        if isinstance(item, BaseException):
            self._ready.put(item)
            raise item
        self._room.release()
        return item

    def give(self, schema: str) -> None:
        if self._error is not None:
            raise self._error
        self._given.put(schema)

    def stop(self) -> list[str]:
        """End the thread once what was given is done; return the schemas made, untaken."""
        self._stopping.set()
        self._given.put(None)
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
                if self._room is None:
                    while (schema := self._given.get()) is not None:
                        connection.execute(self._statement(schema).encode())
                    return
                while not self._stopping.is_set():
                    if self._room.acquire(timeout=0.1):
                        schema = f"rbt_test_{uuid.uuid4().hex}"
                        connection.execute(self._statement(schema).encode())
                        self._ready.put(schema)
        except BaseException as exc:
            self._error = exc
            self._ready.put(exc)


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


@pytest.fixture(name="databases")
async def fixture_databases(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Databases]:
    databases = Databases(tmp_path, request)
    try:
        yield databases
    finally:
        await databases.aclose()


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
    async with open_world(
        repository, requires_confirmation=requires_confirmation, language=language
    ) as world:
        yield world
