"""The suite's own PostgreSQL schemas: one reused by a later test is as good as a new copy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from retell_booking_tools.domain import CallLink, NewAppointment, Relationship
from retell_booking_tools.repository import database_revision, open_repository, upgrade_database

if TYPE_CHECKING:
    from conftest import MigratedTemplates

TEN = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)


@pytest.fixture(name="template_directory", scope="module")
def fixture_template_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's templates keep their saved script, made by the first test."""
    return tmp_path_factory.mktemp("own-templates")


@pytest.fixture(name="templates")
def fixture_templates(
    migrated_templates: MigratedTemplates, template_directory: Path, postgres_url: str
) -> Iterator[MigratedTemplates]:
    """Templates with a pool of this test's own, closed (every schema dropped) afterwards."""
    # ``conftest`` names a different module per test folder; the session's object knows its class.
    templates = type(migrated_templates)(template_directory, lambda: postgres_url)
    try:
        yield templates
    finally:
        templates.close()


def _rows_per_table(url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        ]
        counts = {}
        for table in tables:
            count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
            [(counts[table],)] = connection.execute(count).fetchall()
        return counts


def _exists(url: str, schema: str) -> bool:
    with psycopg.connect(url) as connection:
        found = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        return found.fetchone() is not None


def _take_until(templates: MigratedTemplates, wanted: str) -> list[str]:
    """Upgraded schemas taken until ``wanted`` comes back (new copies made ahead are handed
    out while it is being emptied), or for ``_REUSED_WITHIN`` seconds."""
    taken: list[str] = []
    deadline = time.monotonic() + _REUSED_WITHIN
    while wanted not in taken and time.monotonic() < deadline:
        taken.append(templates.postgres_schema(upgraded=True))
    return taken


_REUSED_WITHIN = 10.0


async def _fill(url: str, schema: str) -> int:
    """A customer, an appointment and a call's link to it; the customer's id."""
    repository = await open_repository(url, schema=schema)
    try:
        customer = await repository.upsert_customer(name="Max", phone="+4915112345678", email=None)
        end = TEN + timedelta(hours=1)
        appointment, _ = await repository.add_appointment(
            NewAppointment(customer.id, "uid-1", 1, TEN, end, "Europe/Berlin")
        )
        await repository.link(CallLink("call_1", appointment.id, Relationship.ORIGINAL, TEN))
        return customer.id
    finally:
        await repository.close()


@pytest.mark.postgres
class TestReusedSchemas:
    """An upgraded schema given back is emptied for the next test, unless a test changed it."""

    async def test_rows_and_advanced_sequences_are_gone_on_the_next_use(
        self, templates: MigratedTemplates, postgres_url: str
    ) -> None:
        """The same schema comes back with every table empty but its version, ids from 1."""
        first = templates.postgres_schema(upgraded=True)
        await _fill(postgres_url, first)
        await _fill(postgres_url, first)
        templates.give_back_postgres_schema(first, upgraded=True)

        *_, again = _take_until(templates, first)
        rows = _rows_per_table(postgres_url, again)
        current, head = database_revision(postgres_url, schema=again)
        customer_id = await _fill(postgres_url, again)

        assert again == first
        assert rows.pop("alembic_version") == 1
        assert "customers" in rows
        assert rows == dict.fromkeys(rows, 0)
        assert current == head
        assert customer_id == 1

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param("ALTER TABLE {}.customers ADD COLUMN nickname text", id="column-added"),
            pytest.param("ALTER TABLE {}.customers ALTER COLUMN name DROP NOT NULL", id="null"),
            pytest.param("DROP INDEX {}.ix_calls_created_at_call_id", id="index-dropped"),
            pytest.param("ALTER SEQUENCE {}.customers_id_seq INCREMENT BY 2", id="sequence"),
            pytest.param("UPDATE {}.alembic_version SET version_num = '0001'", id="version"),
            pytest.param("DELETE FROM {}.alembic_version", id="no-version"),
        ],
    )
    async def test_a_changed_schema_is_dropped_not_handed_out_again(
        self, templates: MigratedTemplates, postgres_url: str, change: str
    ) -> None:
        """DDL or another ``alembic_version`` makes a schema unlike the template: it goes."""
        changed = templates.postgres_schema(upgraded=True)
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(change.format(f'"{changed}"').encode())
        templates.give_back_postgres_schema(changed, upgraded=True)

        next_one = templates.postgres_schema(upgraded=True)

        assert next_one != changed
        assert not _exists(postgres_url, changed)
        current, head = database_revision(postgres_url, schema=next_one)
        assert current == head

    def test_a_schema_made_without_upgrade_is_dropped_even_once_upgraded(
        self, templates: MigratedTemplates, postgres_url: str
    ) -> None:
        """``upgraded=False`` schemas are always new: one its test upgraded is not reused."""
        held = templates.postgres_schema(upgraded=True)
        bare = templates.postgres_schema(upgraded=False)
        upgrade_database(postgres_url, schema=bare)
        templates.give_back_postgres_schema(bare, upgraded=False)
        templates.give_back_postgres_schema(held, upgraded=True)

        taken = _take_until(templates, held)

        assert held in taken
        assert bare not in taken
        assert not _exists(postgres_url, bare)
