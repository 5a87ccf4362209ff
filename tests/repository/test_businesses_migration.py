"""Migration ``0008``: a store from before businesses keeps working as the business ``default``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from agent_backend import CALLER, EVENT_TYPE_ID, open_world
from alembic import command
from alembic.script import ScriptDirectory

from retell_booking_tools.domain import DEFAULT_BUSINESS_ID, Call
from retell_booking_tools.repository.factory import _sync_engine, alembic_config, upgrade_database

if TYPE_CHECKING:
    from conftest import Databases

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TEN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
BEFORE = str(ScriptDirectory.from_config(alembic_config()).get_revision("0008").down_revision)
"""The revision 0008 upgrades from."""


def _seed_before_businesses(url: str, schema: str | None) -> None:
    """A store as the revision before 0008 left it: a phone customer, their booking, a call."""
    engine = _sync_engine(url, schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), BEFORE)
            now = datetime(2025, 10, 1, tzinfo=UTC)
            connection.execute(
                sa.text(
                    "INSERT INTO customers (id, name, phone, created_at, identity_key) VALUES "
                    "(1, 'Max Mustermann', :phone, :now, :key)"
                ),
                {"phone": CALLER, "now": now, "key": f"phone:{CALLER}"},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO appointments (customer_id, booking_uid, event_type_id, "
                    "start_at, end_at, timezone, status, created_at, booking_reference) VALUES "
                    "(1, 'uid-1', :event_type, :start, :end, 'Europe/Berlin', 'active', :now, "
                    "'K7F2QX')"
                ),
                {
                    "event_type": EVENT_TYPE_ID,
                    "start": TEN,
                    "end": TEN + timedelta(hours=1),
                    "now": now,
                },
            )
            connection.execute(
                sa.text(
                    "INSERT INTO calls (call_id, customer_id, from_number, created_at) "
                    "VALUES ('call_old', 1, :phone, :now)"
                ),
                {"phone": CALLER, "now": now},
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_rows_from_before_are_the_business_defaults(databases: Databases, kind: str) -> None:
    """The customer, their booking and the call are found as before, as ``default``'s."""
    database = databases.create(kind, upgraded=False)
    _seed_before_businesses(database.url, database.schema)

    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    appointment = await repository.get_appointment_by_reference("K7F2QX")
    call = await repository.get_call("call_old")
    assert customer.id == 1
    assert customer.business_id == DEFAULT_BUSINESS_ID
    assert appointment is not None
    assert appointment.booking_uid == "uid-1"
    assert appointment.business_id == DEFAULT_BUSINESS_ID
    assert call is not None
    assert call.business_id == DEFAULT_BUSINESS_ID


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_another_business_on_the_upgraded_store_sees_none_of_them(
    databases: Databases, kind: str
) -> None:
    """The same number is a new customer of another business, which finds no old row."""
    database = databases.create(kind, upgraded=False)
    _seed_before_businesses(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)
    salon = repository.for_business("salon-ana")  # type: ignore[attr-defined]

    newcomer = await salon.upsert_customer(name="Max", phone=CALLER, email=None)
    await salon.upsert_call(Call(call_id="call_old", agent_id="agent_9a8b7c6d"))

    assert newcomer.id != 1
    assert newcomer.business_id == "salon-ana"
    assert await salon.get_appointment_by_uid("uid-1") is None
    assert await salon.get_appointment_by_reference("K7F2QX") is None
    assert await salon.appointments_for_customer(newcomer.id) == []
    assert await salon.get_call("call_old") is None
    old_call = await repository.get_call("call_old")
    assert old_call is not None
    assert old_call.business_id == DEFAULT_BUSINESS_ID


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_the_caller_from_before_finds_their_booking_after_the_upgrade(
    databases: Databases, kind: str
) -> None:
    """Served without a businesses file, the old caller's appointment is theirs as before."""
    database = databases.create(kind, upgraded=False)
    _seed_before_businesses(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    async with open_world(repository) as world:
        booking = world.calcom.seed_booking(
            event_type_id=EVENT_TYPE_ID,
            start=TEN,
            attendee_name="Max Mustermann",
            attendee_email="max@example.com",
        )
        rename = sa.text("UPDATE appointments SET booking_uid = :uid WHERE booking_uid = 'uid-1'")
        await repository.run_sync(  # type: ignore[attr-defined]
            "seed", lambda connection: connection.execute(rename, {"uid": booking.uid})
        )
        found = await world.tool("find_appointments", {}, call_id="call_new")

    assert found["status"] == "found"
    assert [a["booking_uid"] for a in found["appointments"]] == [booking.uid]


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_0008_downgrades_and_upgrades_again(databases: Databases, kind: str) -> None:
    """Down to the revision before and up again, the rows survive both ways."""
    database = databases.create(kind, upgraded=False)
    _seed_before_businesses(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    engine = _sync_engine(database.url, database.schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), BEFORE)
            columns = {c["name"] for c in sa.inspect(connection).get_columns("customers")}
            assert "business_id" not in columns
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()
    repository = await databases.open(database)

    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    assert customer.id == 1
