"""``calls show``, ``appointments show``, ``stats`` and ``doctor`` as an operator of two
businesses runs them: a SQLite store, two Cal.com accounts served over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from retell_booking_tools.repository.protocol import store_for_business
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, serve_asgi_in_thread

SPITZER_KEY = "cal_test_spitzer_0123456789abcdef"
ANA_KEY = "cal_test_ana_fedcba9876543210"
SPITZER, ANA = "praxis-spitzer", "salon-ana"
BERATUNG, HAIRCUT = 2563193, 7001
CALLER = "+4915112345678"
LEASE = timedelta(minutes=1)
COMMANDS = (
    ["calls", "show", "call_1"],
    ["appointments", "show", "1"],
    ["stats"],
    ["doctor"],
)


@pytest.fixture(name="emulator")
def fixture_emulator() -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=SPITZER_KEY)
    emulator.add_event_type(EventTypeSpec(id=BERATUNG, title="Beratung", length_minutes=60))
    emulator.add_account(
        ANA_KEY, event_types=[EventTypeSpec(id=HAIRCUT, title="Haircut", length_minutes=45)]
    )
    return emulator


@pytest.fixture(name="calcom_url")
def fixture_calcom_url(emulator: CalcomEmulator) -> Iterator[str]:
    """Both accounts over loopback HTTP from a thread, as a real Cal.com would be."""
    try:
        with serve_asgi_in_thread(emulator.asgi_app) as url:
            yield f"{url}/v2"
    finally:
        emulator.close()


def _file(tmp_path: Path, calcom_url: str) -> str:
    path = tmp_path / "businesses.toml"
    path.write_text(
        f"""\
[[businesses]]
id = "{SPITZER}"
name = "Praxis Spitzer"
agent_ids = ["agent_praxis"]
calcom_api_key_env = "CALCOM_API_KEY_SPITZER"
calcom_api_url = "{calcom_url}"
timezone = "Europe/Berlin"
language = "de"

[[businesses.services]]
name = "Beratung"
event_type_id = {BERATUNG}

[[businesses]]
id = "{ANA}"
name = "Salon Ana"
agent_ids = ["agent_salon"]
calcom_api_key_env = "CALCOM_API_KEY_ANA"
calcom_api_url = "{calcom_url}"
timezone = "America/New_York"
language = "en"

[[businesses.services]]
name = "Haircut"
event_type_id = {HAIRCUT}
""",
        encoding="utf-8",
    )
    return str(path)


async def _booked_call(
    store: Repository, emulator: CalcomEmulator, call_id: str, event_type_id: int, now: datetime
) -> str:
    """A call of the business whose view ``store`` is, that booked an appointment Cal.com
    holds in that business's account; returns its booking reference."""
    start = (now + timedelta(days=10)).replace(hour=15, minute=0, second=0, microsecond=0)
    booking = emulator.seed_booking(
        event_type_id=event_type_id,
        start=start,
        attendee_name="Max Mustermann",
        attendee_email=attendee_email(CALLER),
    )
    customer = await store.upsert_customer(name="Max Mustermann", phone=CALLER, email=None)
    appointment, _ = await store.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid=booking.uid,
            event_type_id=event_type_id,
            start=start,
            end=start + timedelta(minutes=45),
            timezone="Europe/Berlin",
        )
    )
    call = Call(call_id=call_id, customer_id=customer.id, agent_id=f"agent_of_{call_id}")
    key = ToolCallKey(call_id, "collect_appointment_data", f"digest-{call_id}")
    await store.claim_tool_call(key, now=now, lease=LEASE, call=call)
    await store.link(
        CallLink(
            call_id=call_id,
            appointment_id=appointment.id,
            relationship=Relationship.ORIGINAL,
            linked_at=now,
        )
    )
    await store.finish_tool_call(
        key, {"status": "booked"}, now=now, facts=ResultFacts(booking_uid=booking.uid)
    )
    assert appointment.booking_reference is not None
    return appointment.booking_reference


@pytest.fixture(name="store")
def fixture_store(sqlite_url: str, emulator: CalcomEmulator) -> tuple[str, dict[str, str]]:
    """A SQLite store where call_1 booked with the practice and call_2 with the salon; the
    booking reference of each business's appointment."""
    url = sqlite_url
    references: dict[str, str] = {}

    async def seed() -> None:
        repository = await open_repository(url)
        now = datetime.now(UTC)
        try:
            for business, call_id, event_type_id in (
                (SPITZER, "call_1", BERATUNG),
                (ANA, "call_2", HAIRCUT),
            ):
                view = store_for_business(repository, business)
                references[business] = await _booked_call(
                    view, emulator, call_id, event_type_id, now
                )
        finally:
            await repository.close()

    asyncio.run(seed())
    return url, references


def _run(
    args: list[str], database_url: str, businesses: str, *, ana_key: str | None = ANA_KEY
) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        args,
        env={
            "RETELL_BOOKING_DATABASE_URL": database_url,
            "RETELL_BOOKING_BUSINESSES": businesses,
            "RETELL_BOOKING_PHONE_REGION": "DE",
            "CALCOM_API_KEY_SPITZER": SPITZER_KEY,
            "CALCOM_API_KEY_ANA": ana_key,
        },
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(name="businesses")
def fixture_businesses(tmp_path: Path, calcom_url: str) -> str:
    return _file(tmp_path, calcom_url)


class TestShows:
    """A call or appointment is found in the business that holds it, which is named."""

    def test_calls_show_finds_the_call_in_its_business_and_names_it(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        url, references = store

        code, out, err = _run(["calls", "show", "call_2", "--json"], url, businesses)
        _, text, _ = _run(["calls", "show", "call_2"], url, businesses)

        assert code == 0, err
        shown = json.loads(out)
        assert shown["business_id"] == ANA
        assert [link["booking_reference"] for link in shown["links"]] == [references[ANA]]
        assert "business: salon-ana" in text

    def test_appointments_show_by_reference_names_its_business(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        url, references = store

        code, out, err = _run(
            ["appointments", "show", references[SPITZER], "--json"], url, businesses
        )

        assert code == 0, err
        shown = json.loads(out)
        assert shown["business_id"] == SPITZER
        assert [link["call_id"] for link in shown["links"]] == ["call_1"]

    def test_business_limits_the_search_to_that_business(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        """The salon's call is not the practice's to show; in its own business it is."""
        url, references = store

        code, out, err = _run(["calls", "show", "call_2", "--business", SPITZER], url, businesses)
        found, shown, _ = _run(
            ["appointments", "show", references[ANA], "--json", "--business", ANA],
            url,
            businesses,
        )
        missing, _, other = _run(
            ["appointments", "show", references[ANA], "--business", SPITZER], url, businesses
        )

        assert (code, out) == (1, "")
        assert "no call 'call_2' in business 'praxis-spitzer'" in err
        assert found == 0
        assert json.loads(shown)["business_id"] == ANA
        assert missing == 1
        assert "in business 'praxis-spitzer'" in other


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unknown_business_exits_2_naming_the_businesses_on_offer(
    store: tuple[str, dict[str, str]], businesses: str, command: list[str]
) -> None:
    url, _ = store

    code, out, err = _run([*command, "--business", "praxis-nobody"], url, businesses)

    assert code == 2
    assert out == ""
    assert "no business 'praxis-nobody'; businesses: praxis-spitzer, salon-ana" in err


class TestStats:
    """Each business's numbers under its id; one business alone in today's shape."""

    def test_every_business_is_counted_under_its_id(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        url, _ = store

        code, out, err = _run(["stats", "--days", "1", "--json"], url, businesses)

        assert code == 0, err
        entries = json.loads(out)["businesses"]
        assert [(e["business_id"], e["timezone"]) for e in entries] == [
            (SPITZER, "Europe/Berlin"),
            (ANA, "America/New_York"),
        ]
        for entry in entries:
            [today] = entry["days"]
            assert (today["calls"], today["bookings"], today["orphaned_calls"]) == (1, 1, 0)

    def test_one_business_keeps_the_days_at_the_top(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        url, _ = store

        code, out, _ = _run(["stats", "--days", "2", "--json", "--business", ANA], url, businesses)

        assert code == 0
        shown = json.loads(out)
        assert shown["business_id"] == ANA
        assert [day["bookings"] for day in shown["days"]] == [0, 1]


class TestDoctor:
    """Each business is checked with its own key; a missing key is its business's problem."""

    def test_both_businesses_are_checked_each_with_its_own_key(
        self, store: tuple[str, dict[str, str]], businesses: str, emulator: CalcomEmulator
    ) -> None:
        url, _ = store
        before = len(emulator.requests)

        code, out, err = _run(["doctor", "--json"], url, businesses)

        assert code == 0, err
        assert json.loads(out) == {
            "businesses": [
                {"business_id": SPITZER, "problems": [], "fixed": []},
                {"business_id": ANA, "problems": [], "fixed": []},
            ]
        }
        reads = {
            (r.username, int(r.query["eventTypeId"]))
            for r in emulator.requests[before:]
            if "eventTypeId" in r.query
        }
        assert reads == {
            (emulator.host(SPITZER_KEY).username, BERATUNG),
            (emulator.host(ANA_KEY).username, HAIRCUT),
        }

    def test_a_missing_key_is_reported_for_its_business_and_the_other_is_checked(
        self, store: tuple[str, dict[str, str]], businesses: str, emulator: CalcomEmulator
    ) -> None:
        url, _ = store
        before = len(emulator.requests)

        code, out, err = _run(["doctor", "--json"], url, businesses, ana_key=None)
        text_code, text, _ = _run(["doctor"], url, businesses, ana_key=None)

        assert code == 1, err
        praxis, salon = json.loads(out)["businesses"]
        assert praxis == {"business_id": SPITZER, "problems": [], "fixed": []}
        assert salon["business_id"] == ANA
        [problem] = salon["problems"]
        assert problem["kind"] == "missing_calcom_key"
        assert "CALCOM_API_KEY_ANA" in problem["detail"]
        assert {r.username for r in emulator.requests[before:]} == {
            emulator.host(SPITZER_KEY).username
        }
        assert text_code == 1
        assert "business praxis-spitzer" in text
        assert "missing_calcom_key" in text

    def test_one_business_keeps_todays_keys(
        self, store: tuple[str, dict[str, str]], businesses: str
    ) -> None:
        url, _ = store

        code, out, _ = _run(["doctor", "--json", "--business", SPITZER], url, businesses)

        assert code == 0
        assert json.loads(out) == {"business_id": SPITZER, "problems": [], "fixed": []}


def test_without_a_businesses_file_the_json_names_the_business_default(sqlite_url: str) -> None:
    """Today's single-business keys stay, with ``business_id`` beside them."""
    url = sqlite_url
    result = CliRunner().invoke(
        app, ["stats", "--days", "1", "--json"], env={"RETELL_BOOKING_DATABASE_URL": url}
    )

    assert result.exit_code == 0
    shown: dict[str, Any] = json.loads(result.stdout)
    assert shown["business_id"] == "default"
    assert [day["calls"] for day in shown["days"]] == [0]
