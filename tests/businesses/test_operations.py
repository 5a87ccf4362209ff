"""Operations per business: ``doctor`` with each business's own key, ``stats``, metrics and
the call and appointment histories, for two businesses on two Cal.com accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from two_businesses import (
    ANA,
    ANA_AGENT,
    ANA_KEY,
    BERATUNG,
    HAIRCUT,
    NACHBERATUNG,
    NOW,
    SPITZER,
    SPITZER_AGENT,
    SPITZER_KEY,
    Agency,
    open_agency,
)

from retell_booking_tools.booking.attendees import attendee_email
from retell_booking_tools.ops.doctor import DoctorReports, examine_businesses
from retell_booking_tools.ops.history import appointment_history, call_history, find_history
from retell_booking_tools.ops.stats import daily_stats
from retell_booking_tools.repository.protocol import Repository, store_for_business
from retell_booking_tools.server import create_app

TOOL = "collect_appointment_data"


async def doctor(
    agency: Agency, *, fix: bool = False, keys: dict[str, str] | None = None
) -> DoctorReports:
    """``doctor`` over every business of the agency, each with its own key."""
    return await examine_businesses(
        agency.businesses,
        settings=agency.settings,
        repository=agency.repository,
        keys={SPITZER: SPITZER_KEY, ANA: ANA_KEY} if keys is None else keys,
        since=NOW - timedelta(days=30),
        fix=fix,
        calcom_transport=agency.calcom.transport,
        clock=agency.clock,
    )


@pytest.fixture(name="agency")
async def _agency(repository: Repository, businesses_file: Path) -> AsyncIterator[Agency]:
    async with open_agency(repository, businesses_file) as agency:
        yield agency


async def _both_booked(agency: Agency) -> tuple[dict[str, Any], dict[str, Any]]:
    """One caller booked with both businesses (call_1 the practice, call_2 the salon)."""
    praxis = await agency.book(SPITZER_AGENT, "call_1", time="11:00", service="Beratung")
    salon = await agency.book(ANA_AGENT, "call_2", time="10:30")
    assert (praxis["status"], salon["status"]) == ("booked", "booked")
    return praxis, salon


class TestDoctorPerBusiness:
    """Each business is checked against its own account with its own key, and only it."""

    async def test_each_business_is_read_with_its_own_key_and_only_its_event_types(
        self, agency: Agency
    ) -> None:
        """After a booking in each, both are healthy and every read used the right key."""
        await _both_booked(agency)
        before = len(agency.calcom.requests)

        reports = await doctor(agency)

        assert reports.healthy
        assert [entry.business_id for entry in reports.businesses] == [SPITZER, ANA]
        reads = agency.calcom.requests[before:]
        assert reads
        by_account = {
            (r.username, int(r.query["eventTypeId"]))
            for r in reads
            if r.path == "/v2/bookings" and "eventTypeId" in r.query
        }
        assert by_account == {
            (agency.host(SPITZER_KEY), BERATUNG),
            (agency.host(SPITZER_KEY), NACHBERATUNG),
            (agency.host(ANA_KEY), HAIRCUT),
        }

    async def test_an_unknown_booking_is_the_problem_of_its_business_and_fixed_there(
        self, agency: Agency
    ) -> None:
        """A salon booking the store lacks is the salon's, and --fix adopts it for the salon."""
        await _both_booked(agency)
        seeded = agency.calcom.seed_booking(
            event_type_id=HAIRCUT,
            start=datetime(2025, 10, 10, 18, 0, tzinfo=UTC),
            attendee_name="Erika",
            attendee_email=attendee_email("+4917098765432"),
        )

        found = await doctor(agency)

        praxis, salon = found.businesses
        assert praxis.report.healthy
        assert [(p.kind, p.booking_uid) for p in salon.report.problems] == [
            ("unknown_booking", seeded.uid)
        ]
        assert found.to_json()["businesses"][1]["business_id"] == ANA

        fixed = await doctor(agency, fix=True)

        assert fixed.healthy
        assert [p.booking_uid for p in fixed.businesses[1].report.fixed] == [seeded.uid]
        adopted = await store_for_business(agency.repository, ANA).get_appointment_by_uid(
            seeded.uid
        )
        assert adopted is not None
        assert adopted.business_id == ANA
        assert await agency.repository.get_appointment_by_uid(seeded.uid) is None
        assert (
            await store_for_business(agency.repository, SPITZER).get_appointment_by_uid(seeded.uid)
            is None
        )

    async def test_a_missing_key_is_the_problem_of_its_business_and_the_others_still_run(
        self, agency: Agency
    ) -> None:
        """Without the salon's key the salon reports it; the practice is checked as usual
        and the salon's account is never asked."""
        await _both_booked(agency)
        before = len(agency.calcom.requests)

        reports = await doctor(agency, keys={SPITZER: SPITZER_KEY})

        praxis, salon = reports.businesses
        assert praxis.report.healthy
        assert [p.kind for p in salon.report.problems] == ["missing_calcom_key"]
        assert "CALCOM_API_KEY_ANA" in salon.report.problems[0].detail
        assert not reports.healthy
        accounts = {r.username for r in agency.calcom.requests[before:]}
        assert accounts == {agency.host(SPITZER_KEY)}


class TestStatsPerBusiness:
    """Each business counts its own calls, in its own time zone."""

    async def test_bookings_and_duplicates_are_counted_for_their_business(
        self, agency: Agency
    ) -> None:
        await _both_booked(agency)
        again = await agency.book(SPITZER_AGENT, "call_3", time="11:00", service="Beratung")
        assert again["status"] == "existing"

        counted = {}
        for business in agency.businesses:
            days = await daily_stats(
                store_for_business(agency.repository, business.id),
                days=1,
                zone=business.zone,
                now=agency.clock(),
                business_id=business.id,
            )
            counted[business.id] = days[0]

        assert (counted[SPITZER].calls, counted[SPITZER].bookings) == (2, 1)
        assert counted[SPITZER].duplicates == 1
        assert (counted[ANA].calls, counted[ANA].bookings, counted[ANA].duplicates) == (1, 1, 0)
        assert counted[ANA].orphaned_calls == counted[SPITZER].orphaned_calls == 0
        # The salon's day is New York's: still the 8th there when it is the 8th in Berlin.
        assert counted[ANA].date.isoformat() == "2025-10-08"


class TestMetricsPerBusiness:
    """``GET /metrics`` carries the business of every count and measurement."""

    async def test_outcomes_duplicates_and_calcom_requests_carry_their_business(
        self, agency: Agency
    ) -> None:
        await _both_booked(agency)
        await agency.book(SPITZER_AGENT, "call_3", time="11:00", service="Beratung")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=agency.runtime)),
            base_url="http://test",
        ) as client:
            response = await client.get("/metrics")
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

        def result(business: str, status: str) -> float:
            labels = {("tool", TOOL), ("status", status), ("business", business)}
            return samples.get(("retell_booking_tool_results_total", frozenset(labels)), 0.0)

        assert (result(SPITZER, "booked"), result(SPITZER, "existing")) == (1, 1)
        assert (result(ANA, "booked"), result(ANA, "existing")) == (1, 0)
        duplicates = "retell_booking_duplicate_attempts_total"
        assert samples[(duplicates, frozenset({("business", SPITZER)}))] == 1
        assert samples[(duplicates, frozenset({("business", ANA)}))] == 0
        assert (duplicates, frozenset({("business", "default")})) not in samples
        posts = "retell_booking_calcom_request_duration_seconds_count"
        for business in (SPITZER, ANA):
            labels = {("method", "POST"), ("endpoint", "/bookings"), ("business", business)}
            assert samples[(posts, frozenset(labels))] == 1
        latency = "retell_booking_tool_duration_seconds_count"
        ana_booked = {("tool", TOOL), ("status", "booked"), ("business", ANA)}
        assert samples[(latency, frozenset(ana_booked))] == 1


class TestHistoriesPerBusiness:
    """``calls show`` and ``appointments show`` find what a business holds, and say whose."""

    async def test_a_call_and_an_appointment_are_found_in_the_business_that_holds_them(
        self, agency: Agency
    ) -> None:
        _, salon = await _both_booked(agency)
        views = {b.id: store_for_business(agency.repository, b.id) for b in agency.businesses}
        uid = salon["appointment"]["booking_uid"]

        call = await find_history(views, call_history, "call_2")
        appointment = await find_history(views, appointment_history, uid)

        assert call is not None
        assert appointment is not None
        assert call["business_id"] == appointment["business_id"] == ANA
        assert [link["booking_uid"] for link in call["links"]] == [uid]
        assert [link["call_id"] for link in appointment["links"]] == ["call_2"]
        only_praxis = {SPITZER: views[SPITZER]}
        assert await find_history(only_praxis, call_history, "call_2") is None
        assert await find_history(only_praxis, appointment_history, uid) is None
