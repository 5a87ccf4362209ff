"""The ``retell-booking-tools`` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retell_booking_tools.cli import app
from retell_booking_tools.domain import Call, CallLink, NewAppointment, Relationship
from retell_booking_tools.repository import open_repository

START = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(name="database_url")
def fixture_database_url(sqlite_url: str) -> str:
    """A SQLite store holding the incident after the fix: two calls, one appointment."""
    url = sqlite_url

    async def seed() -> None:
        repository = await open_repository(url)
        try:
            customer = await repository.upsert_customer(
                name="Max Mustermann", phone="+4915112345678", email=None
            )
            appointment, _ = await repository.add_appointment(
                NewAppointment(
                    customer_id=customer.id,
                    booking_uid="bT1LnExample",
                    event_type_id=2563193,
                    start=START,
                    end=START.replace(hour=10),
                    timezone="Europe/Berlin",
                    booking_reference="K7F2QX",
                )
            )
            for call_id, relationship, metadata in (
                ("call_682", Relationship.ORIGINAL, {}),
                ("call_766", Relationship.DUPLICATE_ATTEMPT, {"original_call_id": "call_682"}),
            ):
                await repository.upsert_call(Call(call_id=call_id, customer_id=customer.id))
                await repository.link(
                    CallLink(
                        call_id=call_id,
                        appointment_id=appointment.id,
                        relationship=relationship,
                        linked_at=START,
                        metadata=metadata,
                    )
                )
        finally:
            await repository.close()

    asyncio.run(seed())
    return url


def _run(args: list[str], database_url: str, **env: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(app, args, env={"RETELL_BOOKING_DATABASE_URL": database_url, **env})
    return result.exit_code, result.stdout, result.stderr


def test_appointments_show_json_lists_every_linked_call(database_url: str) -> None:
    code, out, _ = _run(["appointments", "show", "bT1LnExample", "--json"], database_url)

    assert code == 0
    shown = json.loads(out)
    assert shown["appointment"]["booking_uid"] == "bT1LnExample"
    assert shown["appointment"]["status"] == "active"
    assert shown["appointment"]["start"] == "2025-10-10T11:00:00+02:00"
    assert shown["appointment"]["timezone"] == "Europe/Berlin"
    assert set(shown["appointment"]) >= {"id", "booking_uid", "status", "start", "end", "timezone"}
    assert [(link["call_id"], link["relationship"]) for link in shown["links"]] == [
        ("call_682", "original"),
        ("call_766", "duplicate_attempt"),
    ]
    assert shown["links"][1]["metadata"] == {"original_call_id": "call_682"}
    assert set(shown["links"][0]) >= {"call_id", "relationship", "linked_at", "metadata"}


def test_appointments_show_finds_by_numeric_id_too(database_url: str) -> None:
    code, out, _ = _run(["appointments", "show", "1"], database_url)

    assert code == 0
    assert "bT1LnExample" in out
    assert "call_766: duplicate_attempt" in out


def test_calls_show_json_names_the_appointment_and_relationship(database_url: str) -> None:
    code, out, _ = _run(["calls", "show", "call_766", "--json"], database_url)

    assert code == 0
    shown = json.loads(out)
    assert shown["call_id"] == "call_766"
    assert len(shown["links"]) == 1
    link = shown["links"][0]
    assert link["booking_uid"] == "bT1LnExample"
    assert link["relationship"] == "duplicate_attempt"
    assert set(link) >= {"appointment_id", "booking_uid", "relationship", "linked_at", "metadata"}


def test_both_shows_name_the_booking_reference_and_find_the_appointment_by_it(
    database_url: str,
) -> None:
    """Support can look an appointment up by the reference the caller reads out."""
    _, call_out, _ = _run(["calls", "show", "call_682"], database_url)
    code, out, _ = _run(["appointments", "show", "k7f2qx"], database_url)

    assert "reference K7F2QX" in call_out
    assert code == 0
    assert "bT1LnExample, reference K7F2QX" in out


@pytest.mark.parametrize(
    "args", [["calls", "show", "no_such_call"], ["appointments", "show", "no_such_uid"]]
)
def test_unknown_id_exits_nonzero_with_one_line(database_url: str, args: list[str]) -> None:
    code, out, err = _run(args, database_url)

    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "no_such" in err


def test_show_on_a_database_never_upgraded_says_which_command_fixes_it(tmp_path: Path) -> None:
    code, _, err = _run(["calls", "show", "x"], f"sqlite:///{tmp_path / 'new.db'}")

    assert code != 0
    assert "retell-booking-tools db upgrade" in err


def test_db_upgrade_prepares_a_new_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    code, out, _ = _run(["db", "upgrade"], url)
    assert code == 0
    assert "revision" in out

    code, _, err = _run(["calls", "show", "x"], url)
    assert code == 1
    assert "no call" in err


def test_serve_without_calcom_key_names_the_missing_variable(database_url: str) -> None:
    code, _, err = _run(["serve"], database_url, RETELL_API_KEY="k", CALCOM_EVENT_TYPE_ID="1")

    assert code == 2
    assert "CALCOM_API_KEY" in err


def test_serve_refuses_several_workers_on_sqlite_and_names_postgresql(database_url: str) -> None:
    """Workers would share a file whose locks hold in one process only: refused up front."""
    code, _, err = _run(
        ["serve", "--workers", "2"],
        database_url,
        RETELL_API_KEY="k",
        CALCOM_API_KEY="cal_x",
        CALCOM_EVENT_TYPE_ID="1",
    )

    assert code == 2
    assert "--workers above 1 needs PostgreSQL" in err


def test_malformed_setting_names_the_variable(database_url: str) -> None:
    code, _, err = _run(["calls", "show", "x"], database_url, RETELL_BOOKING_TIMEZONE="Mars/Base")

    assert code == 2
    assert "RETELL_BOOKING_TIMEZONE" in err


def test_demo_replays_the_incident_honestly() -> None:
    """The quick start's main job: booked, then existing, one Cal.com booking."""
    code, out, _ = _run(["demo"], "sqlite:///unused.db")

    assert code == 0
    assert "[call_682] status=booked" in out
    assert "[call_766] status=existing" in out
    assert "You already have an appointment" in out
    assert "Cal.com bookings created: 1" in out


def test_demo_speaks_german_on_request() -> None:
    code, out, _ = _run(["demo", "--language", "de"], "sqlite:///unused.db")

    assert code == 0
    assert "Sie haben bereits einen Termin am" in out
    assert "Möchten Sie diesen Termin bestätigen oder ändern?" in out


@pytest.fixture(name="restored_logging")
def fixture_restored_logging() -> Iterator[None]:
    """The root logger as it was, whatever a command installed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_commands_log_warnings_with_emails_and_phone_numbers_masked(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a command logs goes through the masking handler, on the stderr of the moment."""
    code, _, _ = _run(["calls", "show", "call_766", "--json"], database_url)
    assert code == 0

    logging.getLogger("retell_booking_tools.ops.doctor").warning(
        "no customer for max.mustermann@example.com (+4915112345678)"
    )
    logging.getLogger("retell_booking_tools.ops.doctor").info("progress is not news")

    logged = capsys.readouterr().err
    assert "no customer for" in logged
    assert "max.mustermann@example.com" not in logged
    assert "4915112345678" not in logged
    assert "progress is not news" not in logged
