"""``calls show`` and ``appointments show`` include what Retell's call events told us."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from retell_booking_tools.cli import app
from retell_booking_tools.domain import Call, CallLink, NewAppointment, Relationship
from retell_booking_tools.repository import open_repository

CALLER = "+4915112345678"
STARTED = datetime(2025, 10, 8, 20, 21, 5, tzinfo=UTC)
ENDED = datetime(2025, 10, 8, 20, 24, 17, tzinfo=UTC)


@pytest.fixture(name="database_url")
def fixture_database_url(sqlite_url: str) -> str:
    """One ended call that booked one appointment, as events and the tool stored them."""
    url = sqlite_url

    async def seed() -> None:
        repository = await open_repository(url)
        try:
            customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
            await repository.upsert_call(
                Call(
                    call_id="call_682",
                    customer_id=customer.id,
                    agent_id="agent_reception",
                    from_number=CALLER,
                    to_number="+4930123456",
                    started_at=STARTED,
                    ended_at=ENDED,
                    disconnection_reason="user_hangup",
                )
            )
            appointment, _ = await repository.add_appointment(
                NewAppointment(
                    customer_id=customer.id,
                    booking_uid="bT1LnExample",
                    event_type_id=1,
                    start=datetime(2025, 10, 10, 9, tzinfo=UTC),
                    end=datetime(2025, 10, 10, 10, tzinfo=UTC),
                    timezone="Europe/Berlin",
                )
            )
            await repository.link(
                CallLink(
                    call_id="call_682",
                    appointment_id=appointment.id,
                    relationship=Relationship.ORIGINAL,
                    linked_at=STARTED,
                )
            )
        finally:
            await repository.close()

    asyncio.run(seed())
    return url


def _run(args: list[str], database_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env={"RETELL_BOOKING_DATABASE_URL": database_url})
    return result.exit_code, result.stdout


def test_calls_show_json_adds_the_call_record_to_the_existing_keys(database_url: str) -> None:
    """Times are ISO 8601 UTC; numbers show only their last four digits."""
    code, out = _run(["calls", "show", "call_682", "--json"], database_url)

    assert code == 0
    shown = json.loads(out)
    assert set(shown) >= {"call_id", "customer_id", "agent_id", "links"}
    assert shown["agent_id"] == "agent_reception"
    assert shown["started_at"] == "2025-10-08T20:21:05+00:00"
    assert shown["ended_at"] == "2025-10-08T20:24:17+00:00"
    assert shown["disconnection_reason"] == "user_hangup"
    assert shown["from_number"] == "***5678"
    assert shown["to_number"] == "***3456"
    assert CALLER not in out


def test_calls_show_text_prints_the_call_record_with_masked_numbers(database_url: str) -> None:
    code, out = _run(["calls", "show", "call_682"], database_url)

    assert code == 0
    assert "agent: agent_reception" in out
    assert "from: ***5678" in out
    assert "ended because: user_hangup" in out
    assert "started: 2025-10-08T20:21:05+00:00" in out
    assert CALLER not in out
    assert "15112345678" not in out


def test_appointments_show_includes_each_linked_calls_record(database_url: str) -> None:
    code, out = _run(["appointments", "show", "bT1LnExample", "--json"], database_url)

    assert code == 0
    (link,) = json.loads(out)["links"]
    assert link["call"]["ended_at"] == "2025-10-08T20:24:17+00:00"
    assert link["call"]["disconnection_reason"] == "user_hangup"
    assert CALLER not in out
