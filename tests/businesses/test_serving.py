"""Serving two businesses from one deployment: each call books its own business's service
with its own Cal.com key, and neither business's callers ever reach the other's."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from two_businesses import (
    ANA_AGENT,
    ANA_KEY,
    ANA_LINE,
    BERATUNG,
    CALLER,
    FRIDAY,
    HAIRCUT,
    NACHBERATUNG,
    SPITZER_AGENT,
    SPITZER_KEY,
    WEBHOOK_SECRET,
    Agency,
    agency_settings,
    open_agency,
)

from retell_booking_tools.errors import ConfigurationError
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import build_runtime


@pytest.fixture(name="agency")
async def _agency(repository: Repository, businesses_file: Path) -> AsyncIterator[Agency]:
    async with open_agency(repository, businesses_file) as agency:
        yield agency


def _spitzer_host(agency: Agency) -> str:
    return agency.calcom.host(SPITZER_KEY).username


def _ana_host(agency: Agency) -> str:
    return agency.calcom.host(ANA_KEY).username


def _booking(name: str = "Max Mustermann", at: str = "11:00", **extra: Any) -> dict[str, Any]:
    return {"customer_name": name, "date": FRIDAY, "time": at, **extra}


class TestEachCallBooksItsBusiness:
    """A call books the service it names, of its own business, with that business's key."""

    async def test_each_call_books_the_right_event_type_with_the_right_key(
        self, agency: Agency
    ) -> None:
        """Beratung and Nachberatung on the practice's key, the haircut on the salon's."""
        first = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service="Beratung")
        )
        second = await agency.spitzer(
            "collect_appointment_data", "call_2", **_booking(at="14:00", service="Nachberatung")
        )
        third = await agency.ana("collect_appointment_data", "call_3", **_booking(at="10:30"))

        assert [first["status"], second["status"], third["status"]] == ["booked"] * 3
        assert agency.bookings_created() == [
            (_spitzer_host(agency), BERATUNG),
            (_spitzer_host(agency), NACHBERATUNG),
            (_ana_host(agency), HAIRCUT),
        ]
        lengths = [
            datetime.fromisoformat(r["appointment"]["end"])
            - datetime.fromisoformat(r["appointment"]["start"])
            for r in (first, second, third)
        ]
        assert [length.total_seconds() / 60 for length in lengths] == [60, 30, 45]
        # Each business speaks its own language and time zone.
        assert first["message"].startswith("Ihr Termin")
        assert third["appointment"]["start"] == "2025-10-10T10:30:00-04:00"

    @pytest.mark.parametrize("spoken", ["Berater", "beratung", "Erstberatung"])
    async def test_berater_beratung_and_an_alias_pick_the_same_service(
        self, agency: Agency, spoken: str
    ) -> None:
        """What speech-to-text heard still finds Beratung, for asking and for booking."""
        asked = await agency.spitzer("check_availability", "call_1", date=FRIDAY, service=spoken)
        booked = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service=spoken)
        )

        assert asked["status"] == "available"
        slot_reads = [r for r in agency.calcom.requests if r.path == "/v2/slots"]
        assert [r.query["eventTypeId"] for r in slot_reads] == [str(BERATUNG)]
        assert booked["status"] == "booked"
        assert agency.bookings_created() == [(_spitzer_host(agency), BERATUNG)]

    async def test_an_unknown_service_lists_the_offer_and_books_nothing(
        self, agency: Agency
    ) -> None:
        """A massage is not on offer: invalid on service, the two services named."""
        booked = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service="Massage")
        )
        asked = await agency.spitzer("check_availability", "call_1", date=FRIDAY, service="Massage")

        for answer in (booked, asked):
            assert answer["status"] == "invalid"
            assert answer["field"] == "service"
            assert "Beratung oder Nachberatung" in answer["message"]
        assert agency.calcom.requests == []

    async def test_no_service_is_the_only_one_or_a_question_naming_them(
        self, agency: Agency
    ) -> None:
        """The salon has one service, so none said is the haircut; the practice asks."""
        salon = await agency.ana("collect_appointment_data", "call_1", **_booking(at="10:30"))
        practice = await agency.spitzer("collect_appointment_data", "call_2", **_booking())

        assert salon["status"] == "booked"
        assert practice["status"] == "invalid"
        assert practice["field"] == "service"
        assert practice["message"] == (
            "Worum geht es bei dem Termin? Ich kann Beratung oder Nachberatung buchen."
        )
        assert agency.bookings_created() == [(_ana_host(agency), HAIRCUT)]

    async def test_a_call_is_its_numbers_business_when_no_agent_matches(
        self, agency: Agency
    ) -> None:
        """An unlisted agent on the salon's number is the salon's call."""
        answer = await agency.tool(
            "collect_appointment_data",
            _booking(at="10:30"),
            call_id="call_1",
            agent_id="agent_other",
            to_number=ANA_LINE,
        )

        assert answer["status"] == "booked"
        assert agency.bookings_created() == [(_ana_host(agency), HAIRCUT)]

    async def test_an_event_type_override_of_another_business_is_ignored(
        self, agency: Agency
    ) -> None:
        """booking_event_type_id naming the salon's haircut never books it for the practice."""
        answer = await agency.tool(
            "collect_appointment_data",
            _booking(service="Beratung"),
            call_id="call_1",
            agent_id=SPITZER_AGENT,
            retell_llm_dynamic_variables={"booking_event_type_id": str(HAIRCUT)},
        )

        assert answer["status"] == "booked"
        assert agency.bookings_created() == [(_spitzer_host(agency), BERATUNG)]


class TestCallsOfNoBusiness:
    """A call no business claims books nothing and stores nothing."""

    async def test_a_call_of_an_unknown_agent_books_nothing(
        self, agency: Agency, caplog: pytest.LogCaptureFixture
    ) -> None:
        """error, worded as a line that cannot book; one WARNING with agent and masked number."""
        with caplog.at_level(logging.WARNING):
            answer = await agency.tool(
                "collect_appointment_data",
                _booking(service="Beratung"),
                call_id="call_1",
                agent_id="agent_stranger",
                to_number="+4940999999",
            )

        assert answer["status"] == "error"
        assert answer["message"] == (
            "I'm sorry, this line cannot take bookings. Nothing has been booked or changed."
        )
        assert agency.calcom.requests == []
        assert await agency.repository.list_customers() == []
        assert await agency.repository.get_call("call_1") is None
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "agent_stranger" in warnings[0]
        assert "***9999" in warnings[0]
        assert "+4940999999" not in warnings[0]

    async def test_a_call_of_no_business_hears_german_when_it_asks_for_it(
        self, agency: Agency
    ) -> None:
        """The wording comes from the catalog in the call's language."""
        answer = await agency.tool(
            "check_availability",
            {"date": FRIDAY},
            call_id="call_1",
            agent_id="agent_stranger",
            retell_llm_dynamic_variables={"booking_language": "de"},
        )

        assert answer["status"] == "error"
        assert "über diese Leitung kann ich keine Termine buchen" in answer["message"]


class TestOneNumberCallingBothBusinesses:
    """One phone number is a separate customer of each business, and each sees only its own."""

    async def _booked_with_spitzer(self, agency: Agency) -> dict[str, Any]:
        booked = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service="Beratung")
        )
        assert booked["status"] == "booked"
        appointment: dict[str, Any] = booked["appointment"]
        return appointment

    async def test_the_same_number_is_two_customers(self, agency: Agency) -> None:
        """Booking with both businesses makes one customer in each."""
        await self._booked_with_spitzer(agency)
        await agency.ana("collect_appointment_data", "call_2", **_booking(at="10:30"))

        customers = await agency.repository.list_customers()
        assert sorted(c.business_id for c in customers) == ["praxis-spitzer", "salon-ana"]
        assert {c.phone for c in customers} == {CALLER}

    async def test_the_other_business_never_sees_or_acts_on_the_appointment(
        self, agency: Agency
    ) -> None:
        """By uid or by reference and name: not found, and the practice's key is never used."""
        appointment = await self._booked_with_spitzer(agency)
        spitzer_requests = agency.requests_of(_spitzer_host(agency))
        uid, reference = appointment["booking_uid"], appointment["booking_reference"]
        by_reference = {"booking_reference": reference, "customer_name": "Max Mustermann"}

        found = await agency.ana("find_appointments", "call_2")
        by_uid = [
            await agency.ana("confirm_existing", "call_2", booking_uid=uid),
            await agency.ana("cancel_appointment", "call_2", booking_uid=uid),
            await agency.ana(
                "reschedule_appointment", "call_2", booking_uid=uid, date=FRIDAY, time="15:00"
            ),
        ]
        # Anyone with a reference may use it, so each try comes from a line of its own
        # (several wrong references from one number meet the guessing limit instead).
        by_reference = []
        for index, (tool, extra) in enumerate(
            [
                ("find_appointments", {}),
                ("confirm_existing", {}),
                ("cancel_appointment", {}),
                ("reschedule_appointment", {"date": FRIDAY, "time": "15:00"}),
            ]
        ):
            args = {"booking_reference": reference, "customer_name": "Max Mustermann", **extra}
            by_reference.append(
                await agency.tool(
                    tool,
                    args,
                    call_id=f"call_ref_{index}",
                    agent_id=ANA_AGENT,
                    from_number=f"+1212555020{index}",
                )
            )

        assert found["status"] == "none"
        assert not found.get("appointments")
        assert [a["status"] for a in by_uid + by_reference] == ["not_found"] * 7
        heard = [found, *by_uid, *by_reference]
        assert not any(uid in str(a) or reference in str(a) or a.get("appointment") for a in heard)
        assert agency.requests_of(_spitzer_host(agency)) == spitzer_requests
        emulated = agency.calcom.booking(uid)
        assert emulated.status == "accepted"
        assert emulated.start == datetime.fromisoformat(appointment["start"])

    async def test_the_business_itself_still_finds_and_keeps_its_appointment(
        self, agency: Agency
    ) -> None:
        """The practice's own caller finds it, by number and by reference."""
        appointment = await self._booked_with_spitzer(agency)
        await agency.ana("collect_appointment_data", "call_2", **_booking(at="10:30"))

        found = await agency.spitzer("find_appointments", "call_3")
        kept = await agency.spitzer(
            "confirm_existing", "call_3", booking_uid=appointment["booking_uid"]
        )

        assert found["status"] == "found"
        assert [a["booking_uid"] for a in found["appointments"]] == [appointment["booking_uid"]]
        assert kept["status"] == "confirmed"


class TestRescheduleKeepsTheService:
    """A move keeps the appointment's service; ``service`` may only confirm it."""

    async def test_naming_another_service_is_invalid_and_moves_nothing(
        self, agency: Agency
    ) -> None:
        booked = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service="Beratung")
        )
        uid = booked["appointment"]["booking_uid"]

        other = await agency.spitzer(
            "reschedule_appointment",
            "call_2",
            booking_uid=uid,
            date=FRIDAY,
            time="15:00",
            service="Nachberatung",
        )
        same = await agency.spitzer(
            "reschedule_appointment",
            "call_2",
            booking_uid=uid,
            date=FRIDAY,
            time="15:00",
            service="Beratung",
        )

        assert other["status"] == "invalid"
        assert other["field"] == "service"
        assert "Nachberatung" in other["message"]
        assert same["status"] == "rescheduled"


class TestCalcomWebhooks:
    """A webhook applies to the business whose Cal.com account sent it."""

    async def test_a_cancellation_in_one_account_cancels_that_business_appointment(
        self, agency: Agency
    ) -> None:
        """The salon cancels on Cal.com: the salon's appointment is cancelled, read back with
        the salon's key, and the practice's appointment of the same caller stays."""
        praxis = await agency.spitzer(
            "collect_appointment_data", "call_1", **_booking(service="Beratung")
        )
        salon = await agency.ana("collect_appointment_data", "call_2", **_booking(at="10:30"))
        salon_uid = salon["appointment"]["booking_uid"]
        agency.calcom.cancel_booking(salon_uid)
        before = len(agency.requests_of(_spitzer_host(agency)))

        delivery = agency.calcom.webhook("BOOKING_CANCELLED", salon_uid, secret=WEBHOOK_SECRET)
        response = await agency.http.post(
            "/calcom/webhook", content=delivery.body, headers=delivery.headers
        )

        assert response.status_code == 200, response.text
        assert response.json() == {"status": "applied"}
        served = {s.id: s for s in agency.runtime.served}
        cancelled = await served["salon-ana"].store.get_appointment_by_uid(salon_uid)
        kept = await served["praxis-spitzer"].store.get_appointment_by_uid(
            praxis["appointment"]["booking_uid"]
        )
        assert cancelled is not None
        assert cancelled.status.value == "cancelled"
        assert kept is not None
        assert kept.status.value == "active"
        assert len(agency.requests_of(_spitzer_host(agency))) == before


class TestStartingUp:
    """A deployment never starts with a business it could not book for."""

    async def test_a_missing_key_variable_refuses_to_start_naming_it(
        self, businesses_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("CALCOM_API_KEY_ANA")
        transport = httpx.MockTransport(lambda request: httpx.Response(500))

        with pytest.raises(ConfigurationError) as raised:
            await build_runtime(agency_settings(businesses_file), calcom_transport=transport)

        assert "CALCOM_API_KEY_ANA" in str(raised.value)
        assert "salon-ana" in str(raised.value)
        assert SPITZER_KEY not in str(raised.value)
