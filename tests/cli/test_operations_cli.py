"""``doctor`` and ``stats`` as an operator runs them: real SQLite store, Cal.com over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from retell_booking_tools.booking.attendees import attendee_email
from retell_booking_tools.cli import app
from retell_booking_tools.domain import (
    Call,
    CallLink,
    NewAppointment,
    Relationship,
    ResultFacts,
    ToolCallKey,
)
from retell_booking_tools.repository import Repository, open_repository
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, serve_asgi_in_thread

CALCOM_KEY = "cal_test_cli_key"
EVENT_TYPE_ID = 2563193
CALLER = "+4915112345678"
LEASE = timedelta(minutes=1)


@pytest.fixture(name="emulator")
def fixture_emulator() -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=CALCOM_KEY)
    emulator.add_event_type(EventTypeSpec(id=EVENT_TYPE_ID, title="Beratung", length_minutes=60))
    return emulator


@pytest.fixture(name="calcom_url")
def fixture_calcom_url(emulator: CalcomEmulator) -> Iterator[str]:
    """The emulator served over loopback HTTP from a thread, as a real Cal.com would be."""
    try:
        with serve_asgi_in_thread(emulator.asgi_app) as url:
            yield f"{url}/v2"
    finally:
        emulator.close()


def _seed(url: str, seed: Any) -> None:
    async def run() -> None:
        repository = await open_repository(url)
        try:
            await seed(repository)
        finally:
            await repository.close()

    asyncio.run(run())


async def _finish(
    repository: Repository,
    call_id: str,
    result: dict[str, Any] | None,
    now: datetime,
    *,
    touched: str | None = None,
) -> None:
    """Record a booking call's answer, finished as touching the booking ``touched``."""
    key = ToolCallKey(call_id, "collect_appointment_data", f"digest-{call_id}")
    await repository.claim_tool_call(key, now=now, lease=LEASE)
    if result is None:
        await repository.abandon_tool_call(key)
    else:
        facts = ResultFacts(booking_uid=touched)
        await repository.finish_tool_call(key, result, now=now, facts=facts)


def _run(args: list[str], database_url: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        args,
        env={
            "RETELL_BOOKING_DATABASE_URL": database_url,
            "RETELL_BOOKING_TIMEZONE": "Europe/Berlin",
            "RETELL_BOOKING_PHONE_REGION": "DE",
            **env,
        },
    )
    return result.exit_code, result.stdout


def test_doctor_reports_the_incidents_gap_fixes_it_and_then_finds_nothing(
    sqlite_url: str, emulator: CalcomEmulator, calcom_url: str
) -> None:
    """Dry run exits 1 naming call B; --fix links it as duplicate_attempt; a rerun exits 0."""
    start = (datetime.now(UTC) + timedelta(days=10)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    booking = emulator.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=start,
        attendee_name="Max Mustermann",
        attendee_email=attendee_email(CALLER),
        attendee_phone_number=CALLER,
        metadata={"retell_call_id": "call_682"},
    )
    url = sqlite_url

    async def incident(repository: Repository) -> None:
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
        appointment, _ = await repository.add_appointment(
            NewAppointment(
                customer_id=customer.id,
                booking_uid=booking.uid,
                event_type_id=EVENT_TYPE_ID,
                start=start,
                end=start + timedelta(hours=1),
                timezone="Europe/Berlin",
            )
        )
        now = datetime.now(UTC)
        view = {"id": appointment.id, "booking_uid": booking.uid}
        for call_id in ("call_682", "call_766"):
            await repository.upsert_call(Call(call_id=call_id, customer_id=customer.id))
            booked = {"status": "booked", "appointment": view}
            await _finish(repository, call_id, booked, now, touched=booking.uid)
        await repository.link(
            CallLink(
                call_id="call_682",
                appointment_id=appointment.id,
                relationship=Relationship.ORIGINAL,
                linked_at=now,
            )
        )

    _seed(url, incident)
    env = {"CALCOM_API_KEY": CALCOM_KEY, "CALCOM_EVENT_TYPE_ID": str(EVENT_TYPE_ID)}
    env["CALCOM_API_URL"] = calcom_url

    code, out = _run(["doctor", "--json"], url, **env)
    assert code == 1
    report = json.loads(out)
    assert report["fixed"] == []
    [problem] = report["problems"]
    assert problem["kind"] == "unlinked_call"
    assert (problem["booking_uid"], problem["call_id"]) == (booking.uid, "call_766")
    assert set(problem) == {"kind", "booking_uid", "call_id", "detail"}

    code, out = _run(["doctor", "--since", "2020-01-01"], url, **env)
    assert code == 1
    assert "unlinked_call" in out
    assert "call_766" in out

    code, out = _run(["doctor", "--fix", "--json"], url, **env)
    assert code == 0
    assert [p["call_id"] for p in json.loads(out)["fixed"]] == ["call_766"]

    code, out = _run(["calls", "show", "call_766", "--json"], url)
    [link] = json.loads(out)["links"]
    assert link["relationship"] == "duplicate_attempt"
    assert link["metadata"]["backfilled"] is True
    assert "backfilled_at" in link["metadata"]

    code, out = _run(["doctor"], url, **env)
    assert code == 0
    assert "no problems found" in out


def test_doctor_without_calcom_settings_names_the_variable(sqlite_url: str) -> None:
    """A missing CALCOM_API_KEY stops the command with exit 2 before anything is scanned."""
    result = CliRunner().invoke(app, ["doctor"], env={"RETELL_BOOKING_DATABASE_URL": sqlite_url})
    assert result.exit_code == 2
    assert "CALCOM_API_KEY" in result.stderr


def test_stats_json_counts_todays_outcomes_and_the_duplicate_rate(sqlite_url: str) -> None:
    """Bookings, duplicates, errors and an orphaned call of today, in the contract's shape."""
    url = sqlite_url

    async def today(repository: Repository) -> None:
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
        start = datetime.now(UTC) + timedelta(days=3)
        appointment, _ = await repository.add_appointment(
            NewAppointment(
                customer_id=customer.id,
                booking_uid="uid-1",
                event_type_id=EVENT_TYPE_ID,
                start=start,
                end=start + timedelta(hours=1),
                timezone="Europe/Berlin",
            )
        )
        view = {"id": appointment.id, "booking_uid": "uid-1"}
        now = datetime.now(UTC)
        for call_id, status in (
            ("call_1", "booked"),
            ("call_2", "existing"),
            ("call_3", "existing"),
        ):
            answer = {"status": status, "appointment": view}
            await _finish(repository, call_id, answer, now, touched="uid-1")
        await _finish(repository, "call_4", None, now)
        for call_id, relationship in (
            ("call_1", Relationship.ORIGINAL),
            ("call_2", Relationship.DUPLICATE_ATTEMPT),
        ):
            await repository.link(CallLink(call_id, appointment.id, relationship, linked_at=now))

    _seed(url, today)

    code, out = _run(["stats", "--days", "2", "--json"], url)

    assert code == 0
    days = json.loads(out)["days"]
    assert len(days) == 2
    assert days[0]["calls"] == 0
    assert days[0]["duplicate_rate"] == 0
    assert days[1] == {
        "date": datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat(),
        "calls": 4,
        "bookings": 1,
        "duplicates": 2,
        "conflicts": 0,
        "errors": 1,
        "orphaned_calls": 1,
        "duplicate_rate": 0.6667,
    }

    code, out = _run(["stats"], url)
    assert code == 0
    assert "duplicate_rate" in out
    assert "66.7%" in out


def test_doctor_refuses_a_since_that_is_not_a_date(sqlite_url: str) -> None:
    """--since takes YYYY-MM-DD; anything else is a usage error (exit 2)."""
    code, _ = _run(
        ["doctor", "--since", "last week"],
        sqlite_url,
        CALCOM_API_KEY=CALCOM_KEY,
        CALCOM_EVENT_TYPE_ID=str(EVENT_TYPE_ID),
    )
    assert code == 2
