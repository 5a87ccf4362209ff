"""Fixtures shared by every test package.

Stores on every backend:

- ``repository``: one fresh, empty store per backend (``memory``, ``sqlite``, ``postgres``);
  a test that takes it runs three times.
- ``make_repository(kind)``: the same as a factory, for tests that build their own world.
- ``databases``: fresh databases that can be opened more than once (two "processes")
  or left un-upgraded.

PostgreSQL tests run against ``RETELL_BOOKING_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each in a schema of its own that is dropped
afterwards, so concurrent runs never see each other. Without a server they are skipped,
except when ``CI`` is set: there a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from retell_booking_tools.repository import Repository, open_repository, upgrade_database
from retell_booking_tools.repository.sql import masked_url

Backend = Literal["memory", "sqlite", "postgres"]
MakeRepository = Callable[[Backend], Awaitable[Repository]]

POSTGRES_URL = os.environ.get(
    "RETELL_BOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


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
        else:
            schema = f"rbt_test_{uuid.uuid4().hex}"
            self._postgres(f'CREATE SCHEMA "{schema}"')
            self._schemas.append(schema)
            database = Database(kind, self._request.getfixturevalue("postgres_url"), schema)
        if upgraded:
            upgrade_database(database.url, schema=database.schema)
        return database

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
                self._postgres(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def _postgres(self, statement: str) -> None:
        import psycopg

        url = self._request.getfixturevalue("postgres_url")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(statement.encode())


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
