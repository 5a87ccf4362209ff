"""Migration ``0004``: yesterday's stores keep working, spoken-email identities match nobody."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from agent_backend import EVENT_TYPE_ID, open_world
from alembic import command

from retell_booking_tools.domain import AppointmentStatus, NewAppointment
from retell_booking_tools.ops.doctor import Doctor
from retell_booking_tools.repository.factory import (
    _sync_engine,
    alembic_config,
    head_revision,
    upgrade_database,
)

if TYPE_CHECKING:
    from conftest import Databases

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
CALLER = "+4915112345678"
TEN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


def _seed_at_0002(url: str, schema: str | None) -> None:
    """A store as 0002 left it: a phone customer, a spoken-email customer, one booking each."""
    engine = _sync_engine(url, schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
            now = datetime(2025, 10, 1, tzinfo=UTC)
            connection.execute(
                sa.text(
                    "INSERT INTO customers (id, name, phone, email, created_at) VALUES "
                    "(1, 'Max', :phone, 'max@example.com', :now), "
                    "(2, 'Eva', NULL, 'eva@example.com', :now)"
                ),
                {"phone": CALLER, "now": now},
            )
            for number, customer in ((1, 1), (2, 2)):
                connection.execute(
                    sa.text(
                        "INSERT INTO appointments (customer_id, booking_uid, event_type_id, "
                        "start_at, end_at, timezone, status, created_at) VALUES "
                        "(:customer, :uid, 1, :start, :start, 'Europe/Berlin', 'active', :now)"
                    ),
                    {"customer": customer, "uid": f"uid-{number}", "start": TEN, "now": now},
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_an_upgraded_store_keeps_phone_customers_and_unmatches_spoken_emails(
    databases: Databases, kind: str
) -> None:
    """The phone caller is found as before (their spoken email now the contact of their
    booking, no longer theirs); the spoken-email customer is found by nobody."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0002(database.url, database.schema)

    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    max_ = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    assert max_.id == 1
    assert max_.identity_key == f"phone:{CALLER}"
    assert await repository.find_customer(phone=None, email="eva@example.com") is None
    eva = await repository.get_customer(2)
    assert eva is not None
    assert eva.email == "eva@example.com"
    assert eva.identity_key is None
    assert not eva.verified
    assert max_.email is None
    max_booking = await repository.get_appointment_by_uid("uid-1")
    assert max_booking is not None
    assert max_booking.contact_email == "max@example.com"
    newcomer = await repository.upsert_customer(name="Eva", phone=None, email="eva@example.com")
    assert newcomer.id != 2
    assert [a.booking_uid for a in await repository.appointments_for_customer(2)] == ["uid-2"]


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_appointments_stored_after_the_upgrade_get_distinct_references(
    databases: Databases, kind: str
) -> None:
    """Older appointments have none; new ones a reference from the spoken alphabet."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0002(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    old = await repository.get_appointment_by_uid("uid-1")
    added = [
        (
            await repository.add_appointment(
                NewAppointment(
                    customer_id=1,
                    booking_uid=f"new-{n}",
                    event_type_id=1,
                    start=TEN,
                    end=TEN,
                    timezone="Europe/Berlin",
                    status=AppointmentStatus.ACTIVE,
                )
            )
        )[0]
        for n in range(5)
    ]

    assert old is not None
    assert old.booking_reference is None
    references = {a.booking_reference for a in added}
    assert len(references) == 5
    assert all(r and len(r) == 6 for r in references)
    found = await repository.get_appointment_by_reference(added[0].booking_reference or "")
    assert found == added[0]


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_doctor_reports_the_spoken_email_customer_as_unverified_and_fixes_nothing(
    databases: Databases, kind: str
) -> None:
    """Reported only, with no personal data; ``--fix`` leaves it as it is."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0002(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    async with open_world(repository) as world:
        doctor = Doctor(
            repository=repository,
            calcom=world.runtime.calcom,
            event_type_ids=[EVENT_TYPE_ID],
            timezone="Europe/Berlin",
            attendee_email_domain="phone.invalid",
            phone_region="DE",
            clock=world.clock,
        )
        report = await doctor.run(since=datetime(2025, 10, 1, tzinfo=UTC), fix=True)

    unverified = [p for p in report.problems if p.kind == "unverified_identity"]
    assert len(unverified) == 1
    assert "customer 2" in unverified[0].detail
    assert "eva" not in unverified[0].detail.lower()
    assert all(p.kind != "unverified_identity" for p in report.fixed)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_0004_downgrades_to_0002_and_upgrades_again(databases: Databases, kind: str) -> None:
    """The data of 0002 survives the round trip."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0002(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    engine = _sync_engine(database.url, database.schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
            columns = {c["name"] for c in sa.inspect(connection).get_columns("customers")}
            rows = connection.execute(sa.text("SELECT count(*) FROM appointments")).scalar()
    finally:
        engine.dispose()

    assert "identity_key" not in columns
    assert rows == 2
    assert upgrade_database(database.url, schema=database.schema) == head_revision()
