"""Migration ``0007``: what earlier answers offered and booked becomes typed facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from agent_backend import open_world
from alembic import command

from retell_booking_tools.domain import OfferedStart, ToolCallKey
from retell_booking_tools.repository.factory import (
    _sync_engine,
    alembic_config,
    head_revision,
    upgrade_database,
)
from retell_booking_tools.repository.schema import tool_calls

if TYPE_CHECKING:
    from conftest import Databases

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ASKED_AT = datetime(2025, 10, 8, 20, 0, tzinfo=UTC)
FRIDAY_SLOTS = [f"2025-10-10T{hour:02d}:00:00+02:00" for hour in range(9, 17)]
MONDAY_NINE = datetime(2025, 10, 13, 7, 0, tzinfo=UTC)
OFFERED_WHOLE = ToolCallKey("call_1", "check_availability", "friday")
OFFERED_IN_PART = ToolCallKey("call_1", "check_availability", "monday")
NAMED_ONLY = ToolCallKey("call_1", "check_availability", "friday-at-eleven")
BOOKED = ToolCallKey("call_0", "collect_appointment_data", "booked")
RUNNING = ToolCallKey("call_0", "cancel_appointment", "running")


def _appointment(uid: str) -> dict[str, Any]:
    return {
        "id": 1,
        "booking_uid": uid,
        "start": "2025-10-10T11:00:00+02:00",
        "end": "2025-10-10T12:00:00+02:00",
        "timezone": "Europe/Berlin",
    }


RESULTS: dict[ToolCallKey, dict[str, Any] | None] = {
    OFFERED_WHOLE: {"status": "available", "message": "Friday.", "slots": FRIDAY_SLOTS},
    OFFERED_IN_PART: {
        "status": "available",
        "message": "Monday.",
        "slots": ["2025-10-13T09:00:00+02:00"],
        "more_slots": 7,
    },
    NAMED_ONLY: {
        "status": "existing",
        "message": "Yours.",
        "appointment": _appointment("uid-named"),
        "slots": FRIDAY_SLOTS[:2],
    },
    BOOKED: {"status": "booked", "message": "Booked.", "appointment": _appointment("uid-booked")},
    RUNNING: None,
}
"""Answers as the tools stored them before 0007; None: claimed, never finished."""


def _seed_at_0006(url: str, schema: str | None) -> None:
    engine = _sync_engine(url, schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0006")
            for n, (key, result) in enumerate(RESULTS.items()):
                at = ASKED_AT + timedelta(seconds=n)
                connection.execute(
                    tool_calls.insert().values(
                        call_id=key.call_id,
                        tool=key.tool,
                        args_digest=key.args_digest,
                        seq=key.seq,
                        claimed_at=at,
                        finished_at=at if result is not None else None,
                        abandoned=False,
                        result=result,
                    )
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_stored_answers_become_offered_starts_and_touched_bookings(
    databases: Databases, kind: str
) -> None:
    """Friday's starts listed whole, Monday's in part; the booking answer's uid on its record,
    none for a read-only answer naming the caller's appointment or an unfinished call."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0006(database.url, database.schema)

    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    friday = [datetime.fromisoformat(slot).astimezone(UTC) for slot in FRIDAY_SLOTS]
    assert await repository.offered_starts("call_1") == [
        OfferedStart(start, listed_whole=True) for start in friday
    ] + [OfferedStart(MONDAY_NINE, listed_whole=False)]
    assert await repository.offered_starts("call_0") == []
    records = {r.key: r.booking_uid for r in await repository.tool_call_records()}
    assert records == {
        OFFERED_WHOLE: None,
        OFFERED_IN_PART: None,
        NAMED_ONLY: None,
        BOOKED: "uid-booked",
        RUNNING: None,
    }


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_a_booking_after_the_upgrade_still_refuses_a_start_its_listed_day_did_not_offer(
    databases: Databases, kind: str
) -> None:
    """08:00 on Friday, listed whole before the upgrade without it: `unavailable` with the
    offered starts nearby, Cal.com not asked. Monday was listed in part: Cal.com decides."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0006(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    repository = await databases.open(database)

    async with open_world(repository) as world:
        refused = await world.book("call_1", date="2025-10-10", at="08:00")
        asked = len(world.calcom.requests)
        monday = await world.book("call_1", date="2025-10-13", at="10:00")

    assert refused["status"] == "unavailable"
    assert refused["alternatives"][0] == "2025-10-10T09:00:00+02:00"
    assert asked == 0
    assert monday["status"] == "booked"


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_0007_downgrades_to_0006_and_upgrades_again(databases: Databases, kind: str) -> None:
    """The stored answers survive the round trip; the facts are filled in again."""
    database = databases.create(kind, upgraded=False)
    _seed_at_0006(database.url, database.schema)
    upgrade_database(database.url, schema=database.schema)
    engine = _sync_engine(database.url, database.schema)
    assert engine is not None
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0006")
            inspector = sa.inspect(connection)
            columns = {c["name"] for c in inspector.get_columns("tool_calls")}
            tables = set(inspector.get_table_names())
            finished = connection.execute(
                sa.text("SELECT count(*) FROM tool_calls WHERE finished_at IS NOT NULL")
            ).scalar()
        assert upgrade_database(database.url, schema=database.schema) == head_revision()
        with engine.connect() as connection:
            offered = connection.execute(sa.text("SELECT count(*) FROM offered_starts")).scalar()
    finally:
        engine.dispose()

    assert "booking_uid" not in columns
    assert "offered_starts" not in tables
    assert finished == 4
    assert offered == len(FRIDAY_SLOTS) + 1
