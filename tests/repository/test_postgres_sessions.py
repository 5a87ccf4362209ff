"""PostgreSQL sessions open in autocommit: a transaction is still all or nothing, and
autocommitted work is committed statement by statement on any engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from retell_booking_tools.repository.postgres import (
    PostgresRepository,
    postgres_url,
    retrying_statement,
    retrying_transaction,
)
from retell_booking_tools.repository.schema import calcom_rate_blocks

if TYPE_CHECKING:
    from conftest import Database, Databases

pytestmark = pytest.mark.postgres


class Boom(Exception):
    """Raised by a transaction's work after its first write."""


def _block(key: str) -> sa.Insert:
    return sa.insert(calcom_rate_blocks).values(key=key, until=1.0)


def _stored_keys(database: Database) -> list[str]:
    """The rows as another session sees them: only what was committed."""
    with psycopg.connect(database.url, options=f"-csearch_path={database.schema}") as conn:
        return [key for (key,) in conn.execute("SELECT key FROM calcom_rate_blocks ORDER BY key")]


async def _repository(databases: Databases) -> tuple[PostgresRepository, Database]:
    database = databases.create("postgres")
    repository = await databases.open(database)
    assert isinstance(repository, PostgresRepository)
    return repository, database


async def test_a_transaction_that_fails_after_a_write_leaves_nothing(
    databases: Databases,
) -> None:
    repository, database = await _repository(databases)

    def work(conn: sa.Connection) -> None:
        conn.execute(_block("first"))
        raise Boom

    with pytest.raises(Boom):
        await retrying_transaction(repository.engine, "write then fail", work)

    assert _stored_keys(database) == []


async def test_a_transactions_writes_are_seen_only_once_it_commits(
    databases: Databases,
) -> None:
    repository, database = await _repository(databases)
    seen_inside: list[list[str]] = []

    def work(conn: sa.Connection) -> None:
        conn.execute(_block("a"))
        conn.execute(_block("b"))
        seen_inside.append(_stored_keys(database))

    await retrying_transaction(repository.engine, "two writes", work)

    assert seen_inside == [[]]
    assert _stored_keys(database) == ["a", "b"]


async def test_after_a_transaction_its_connection_commits_each_statement_again(
    databases: Databases,
) -> None:
    """The pool holds one connection here: the transaction's switch did not stay on it."""
    database = databases.create("postgres")
    assert database.schema is not None
    repository = PostgresRepository(
        database.url, schema=database.schema, pool_size=1, max_overflow=0
    )
    try:
        await retrying_transaction(repository.engine, "a transaction", lambda c: None)
        seen_between: list[list[str]] = []

        def work(conn: sa.Connection) -> None:
            conn.execute(_block("one"))
            seen_between.append(_stored_keys(database))
            conn.execute(_block("two"))

        await retrying_statement(repository.engine, "two statements", work)
    finally:
        await repository.close()

    assert seen_between == [["one"]]
    assert _stored_keys(database) == ["one", "two"]


async def test_autocommitted_work_on_an_engine_not_in_autocommit_is_committed(
    databases: Databases,
) -> None:
    """Each statement is committed on its own though the engine opens transactions."""
    database = databases.create("postgres")
    url, connect_args = postgres_url(database.url, schema=database.schema)
    engine = create_async_engine(url, connect_args=connect_args)
    seen_between: list[list[str]] = []

    def work(conn: sa.Connection) -> None:
        conn.execute(_block("alone"))
        seen_between.append(_stored_keys(database))

    try:
        await retrying_statement(engine, "one statement", work)
    finally:
        await engine.dispose()

    assert seen_between == [["alone"]]
    assert _stored_keys(database) == ["alone"]
