"""The Cal.com emulator behaves like Cal.com API v2 as documented in calcom-v2.md."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time as monotonic_time
import types
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

import retell_booking_tools.testing as testing
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    FakeClock,
    Fault,
    FaultKind,
    serve_asgi,
)

API_KEY = "cal_test_emulator_key"
NOW = datetime(2025, 10, 9, 20, 21, tzinfo=UTC)
INSTANT = 2563193
CONFIRMED_BY_HOST = 77
FRIDAY_11_BERLIN = "2025-10-10T09:00:00Z"
BOOKINGS = {"cal-api-version": "2024-08-13", "Authorization": f"Bearer {API_KEY}"}
SLOTS = {"cal-api-version": "2024-09-04"}
WEEKDAYS_9_TO_17 = BusinessHours(
    weekdays=frozenset({0, 1, 2, 3, 4}), opens=time(9), closes=time(17)
)


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(name="emu")
def _emu(clock: FakeClock) -> CalcomEmulator:
    emu = CalcomEmulator(api_key=API_KEY, clock=clock)
    emu.add_event_type(
        EventTypeSpec(
            id=INSTANT,
            title="Beratung",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=WEEKDAYS_9_TO_17,
        )
    )
    emu.add_event_type(
        EventTypeSpec(
            id=CONFIRMED_BY_HOST,
            title="Erstgespräch",
            length_minutes=30,
            requires_confirmation=True,
            timezone="Europe/Berlin",
            business_hours=WEEKDAYS_9_TO_17,
        )
    )
    return emu


@pytest.fixture(name="client")
async def _client(emu: CalcomEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=emu.transport, base_url="https://api.cal.com/v2"
    ) as client:
        yield client


def booking_body(
    start: str = FRIDAY_11_BERLIN,
    event_type_id: int = INSTANT,
    email: str = "kunde340@example.com",
    name: str = "Erika Muster",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "start": start,
        "eventTypeId": event_type_id,
        "attendee": {"name": name, "email": email, "timeZone": "Europe/Berlin"},
        "metadata": {"call_id": "call_682"},
        **extra,
    }


async def book(client: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return await client.post("/bookings", json=booking_body(**kwargs), headers=BOOKINGS)


async def slot_starts(client: httpx.AsyncClient, **params: Any) -> dict[str, list[str]]:
    query = {"eventTypeId": INSTANT, "start": "2025-10-09", "end": "2025-10-13", **params}
    response = await client.get("/slots", params=query, headers=SLOTS)
    assert response.status_code == 200, response.text
    return {
        day: [slot["start"] for slot in slots] for day, slots in response.json()["data"].items()
    }


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["status"] == "error"
    assert body["path"].startswith("/v2/")
    error: dict[str, Any] = body["error"]
    return error


# --- creating bookings -----------------------------------------------------------------------


async def test_a_booking_is_created_with_the_documented_shape(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """A free slot books with 201, UTC instants with milliseconds, and the metadata kept."""
    response = await book(client)

    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()["data"]
    assert len(data["uid"]) == 22
    assert data["status"] == "accepted"
    assert (data["start"], data["end"], data["duration"]) == (
        "2025-10-10T09:00:00.000Z",
        "2025-10-10T10:00:00.000Z",
        60,
    )
    assert data["createdAt"] == "2025-10-09T20:21:00.000Z"
    assert data["metadata"] == {"call_id": "call_682"}
    assert data["eventType"]["id"] == INSTANT
    assert data["attendees"][0]["email"] == "kunde340@example.com"
    assert data["hosts"][0]["timeZone"] == "Europe/Berlin"
    assert [booking.uid for booking in emu.bookings] == [data["uid"]]
    assert emu.created_bookings_count() == 1


async def test_repeat_booking_for_an_instant_confirm_event_type_is_refused_without_the_existing(
    client: httpx.AsyncClient, emu: CalcomEmulator, clock: FakeClock
) -> None:
    """The same attendee, event type and start the next morning is a 400, not the old booking."""
    first = await book(client)
    clock.advance(timedelta(hours=12))

    again = await book(client, email="KUNDE340@example.com")

    assert again.status_code == 400
    error = error_of(again)
    assert error["code"] == "BadRequestException"
    assert error["message"] == "User either already has booking at this time or is not available"
    assert first.json()["data"]["uid"] not in again.text
    assert emu.created_bookings_count() == 1


async def test_repeat_booking_for_a_requires_confirmation_event_type_returns_the_existing_one(
    client: httpx.AsyncClient, emu: CalcomEmulator, clock: FakeClock
) -> None:
    """Cal.com answers 201 with the same uid and the old createdAt: not proof of a new booking."""
    first = await book(client, event_type_id=CONFIRMED_BY_HOST)
    clock.advance(timedelta(hours=12))

    again = await book(client, event_type_id=CONFIRMED_BY_HOST, email="Kunde340@Example.com")

    assert (first.status_code, again.status_code) == (201, 201)
    original, repeated = first.json()["data"], again.json()["data"]
    assert repeated["uid"] == original["uid"]
    assert repeated["createdAt"] == original["createdAt"] == "2025-10-09T20:21:00.000Z"
    assert repeated["status"] == "pending"
    assert emu.created_bookings_count() == 1


async def test_requires_confirmation_repeat_is_matched_on_email_and_phone_number_together(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Same email and phone is the same attendee; one phone under two emails is not."""
    attendee = {"name": "E", "timeZone": "Europe/Berlin", "phoneNumber": "+4930123456"}

    async def request(email: str) -> httpx.Response:
        return await client.post(
            "/bookings",
            json=booking_body(event_type_id=CONFIRMED_BY_HOST)
            | {"attendee": {**attendee, "email": email}},
            headers=BOOKINGS,
        )

    first = await request("one@example.com")
    same = await request("ONE@example.com")
    other_email = await request("two@example.com")

    assert same.status_code == 201
    assert same.json()["data"]["uid"] == first.json()["data"]["uid"]
    assert other_email.status_code == 400
    assert error_of(other_email)["message"] == (
        "User either already has booking at this time or is not available"
    )
    assert emu.created_bookings_count() == 1


@pytest.mark.parametrize("event_type_id", [INSTANT, CONFIRMED_BY_HOST])
async def test_another_attendee_asking_for_a_taken_start_is_refused_without_naming_the_holder(
    client: httpx.AsyncClient, emu: CalcomEmulator, event_type_id: int
) -> None:
    """A different caller hears "not available" and nothing about who holds the slot."""
    await book(client, event_type_id=event_type_id)

    response = await book(
        client, event_type_id=event_type_id, email="someone@example.com", name="Max Other"
    )

    assert response.status_code == 400
    assert "not available" in error_of(response)["message"]
    assert "kunde340" not in response.text.lower()
    assert "Erika" not in response.text
    assert len(emu.bookings) == 1


async def test_an_overlapping_start_is_taken_even_if_it_is_not_the_same_start(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """A 30-minute-grid event type cannot start inside an existing 60-minute booking."""
    emu.add_event_type(
        EventTypeSpec(
            id=5,
            title="Kurz",
            length_minutes=60,
            timezone="Europe/Berlin",
            slot_interval_minutes=30,
        )
    )
    await book(client, event_type_id=5)

    response = await book(client, event_type_id=5, start="2025-10-10T09:30:00Z", email="b@b.de")

    assert response.status_code == 400


async def test_a_start_in_the_past_is_refused(client: httpx.AsyncClient) -> None:
    response = await book(client, start="2025-10-09T09:00:00Z")

    assert response.status_code == 400
    assert error_of(response)["message"] == "Attempting to book a meeting in the past."


@pytest.mark.parametrize(
    "start",
    [
        pytest.param("2025-10-11T09:00:00Z", id="saturday"),
        pytest.param("2025-10-10T06:00:00Z", id="before-opening"),
        pytest.param("2025-10-10T15:00:00Z", id="ends-after-closing"),
        pytest.param("2025-10-10T09:30:00Z", id="off-the-grid"),
    ],
)
async def test_a_start_outside_business_hours_or_off_the_grid_is_refused(
    client: httpx.AsyncClient, emu: CalcomEmulator, start: str
) -> None:
    response = await book(client, start=start)

    assert response.status_code == 400
    assert error_of(response)["message"] == (
        "User either already has booking at this time or is not available"
    )
    assert emu.bookings == []


async def test_a_start_with_an_explicit_offset_is_the_same_instant(
    client: httpx.AsyncClient,
) -> None:
    response = await book(client, start="2025-10-10T11:00:00+02:00")

    assert response.status_code == 201
    assert response.json()["data"]["start"] == "2025-10-10T09:00:00.000Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"foo": 1}, "property foo should not exist", id="top-level"),
        pytest.param(
            {"attendee": {"name": "E", "email": "e@x.de", "timeZone": "UTC", "age": 3}},
            "attendee.property age should not exist",
            id="attendee",
        ),
        pytest.param(
            {"attendee": {"name": "E", "email": "not-an-email", "timeZone": "UTC"}},
            "attendee.email must be an email",
            id="email",
        ),
        pytest.param(
            {"attendee": {"name": "E", "email": "e@x.de", "timeZone": "Mars/Olympus"}},
            "attendee.timeZone must be a valid IANA time zone",
            id="time-zone",
        ),
        pytest.param({"start": "tomorrow at 11"}, "ISO 8601", id="start"),
        pytest.param({"eventTypeId": "2563193"}, "eventTypeId must be", id="event-type-id"),
        pytest.param({"metadata": {f"k{i}": "v" for i in range(51)}}, "50 keys", id="51-keys"),
        pytest.param({"metadata": {"note": "x" * 501}}, "500 characters", id="long-value"),
        pytest.param({"metadata": {"count": 3}}, "Metadata must", id="non-string-value"),
    ],
)
async def test_an_invalid_body_is_refused_with_a_message_naming_the_problem(
    client: httpx.AsyncClient, emu: CalcomEmulator, change: dict[str, Any], message: str
) -> None:
    response = await client.post("/bookings", json=booking_body() | change, headers=BOOKINGS)

    assert response.status_code == 400
    error = error_of(response)
    assert message in error["message"]
    assert error["details"]["statusCode"] == 400
    assert emu.bookings == []


async def test_an_unknown_event_type_is_not_found(client: httpx.AsyncClient) -> None:
    response = await book(client, event_type_id=999)

    assert response.status_code == 404
    assert error_of(response)["message"] == "Event type with id=999 was not found"


async def test_two_concurrent_identical_creates_make_exactly_one_booking(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    responses = await asyncio.gather(book(client), book(client))

    assert sorted(response.status_code for response in responses) == [201, 400]
    assert len(emu.bookings) == 1
    assert emu.created_bookings_count() == 1


# --- versions and auth --------------------------------------------------------------------


async def test_slots_without_the_version_header_answer_the_legacy_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/slots", params={"eventTypeId": INSTANT, "start": "2025-10-10", "end": "2025-10-10"}
    )

    assert response.status_code == 200
    slots = response.json()["data"]["slots"]
    assert slots["2025-10-10"][0] == {"time": "2025-10-10T07:00:00.000Z"}


async def test_a_modern_booking_body_without_the_version_header_is_refused(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Without ``cal-api-version`` the legacy DTO applies, which knows no ``attendee``."""
    response = await client.post(
        "/bookings", json=booking_body(), headers={"Authorization": f"Bearer {API_KEY}"}
    )

    assert response.status_code == 400
    assert "property attendee should not exist" in error_of(response)["message"]
    assert emu.bookings == []


async def test_a_legacy_body_without_the_version_header_books_in_the_legacy_shape(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "start": FRIDAY_11_BERLIN,
        "eventTypeId": INSTANT,
        "responses": {"name": "Erika", "email": "e@example.com"},
        "timeZone": "Europe/Berlin",
        "language": "de",
        "metadata": {},
    }
    response = await client.post(
        "/bookings", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["startTime"], data["status"]) == ("2025-10-10T09:00:00.000Z", "ACCEPTED")
    assert "start" not in data


async def test_the_newer_bookings_version_answers_the_same_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/bookings", json=booking_body(), headers=BOOKINGS | {"cal-api-version": "2026-02-25"}
    )

    assert response.status_code == 201
    assert response.json()["data"]["start"] == "2025-10-10T09:00:00.000Z"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"cal-api-version": "2024-08-13"}, id="missing"),
        pytest.param({"cal-api-version": "2024-08-13", "Authorization": "Bearer x"}, id="wrong"),
        pytest.param({"cal-api-version": "2024-08-13", "Authorization": API_KEY}, id="no-bearer"),
    ],
)
async def test_bookings_endpoints_need_the_api_key(
    client: httpx.AsyncClient, emu: CalcomEmulator, headers: dict[str, str]
) -> None:
    created = await client.post("/bookings", json=booking_body(), headers=headers)
    listed = await client.get("/bookings", headers=headers)

    assert (created.status_code, listed.status_code) == (401, 401)
    assert error_of(created)["code"] == "UnauthorizedException"
    assert emu.bookings == []


async def test_slots_work_without_a_key_but_not_with_a_wrong_one(
    client: httpx.AsyncClient,
) -> None:
    params: dict[str, str | int] = {
        "eventTypeId": INSTANT,
        "start": "2025-10-10",
        "end": "2025-10-10",
    }
    anonymous = await client.get("/slots", params=params, headers=SLOTS)
    wrong = await client.get(
        "/slots", params=params, headers=SLOTS | {"Authorization": "Bearer cal_wrong"}
    )

    assert anonymous.status_code == 200
    assert wrong.status_code == 401


async def test_unknown_endpoints_answer_a_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/schedules", headers=BOOKINGS)

    assert response.status_code == 404
    assert error_of(response)["code"] == "NotFoundException"


# --- slots --------------------------------------------------------------------------------


async def test_slots_exclude_past_booked_and_closed_times(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Thursday evening is past, the weekend closed, Friday 11:00 booked."""
    await book(client)

    starts = await slot_starts(client, timeZone="Europe/Berlin")

    assert list(starts) == ["2025-10-10", "2025-10-13"]
    assert starts["2025-10-10"] == [
        f"2025-10-10T{hour:02d}:00:00.000+02:00" for hour in (9, 10, 12, 13, 14, 15, 16)
    ]
    assert len(starts["2025-10-13"]) == 8


async def test_slots_are_keyed_by_local_date_in_the_requested_time_zone(
    client: httpx.AsyncClient,
) -> None:
    """Berlin's Friday 13:00 is already Saturday in Auckland (UTC+13)."""
    starts = await slot_starts(client, end="2025-10-10", timeZone="Pacific/Auckland")

    assert starts["2025-10-10"][0] == "2025-10-10T20:00:00.000+13:00"
    assert starts["2025-10-10"][-1] == "2025-10-10T23:00:00.000+13:00"
    assert starts["2025-10-11"] == [f"2025-10-11T{h:02d}:00:00.000+13:00" for h in (0, 1, 2, 3)]


async def test_slots_default_to_utc_and_range_format_adds_the_end(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/slots",
        params={
            "eventTypeId": INSTANT,
            "start": "2025-10-10",
            "end": "2025-10-10",
            "format": "range",
        },
        headers=SLOTS,
    )

    first = response.json()["data"]["2025-10-10"][0]
    assert first == {"start": "2025-10-10T07:00:00.000Z", "end": "2025-10-10T08:00:00.000Z"}


async def test_slots_only_offer_starts_after_now(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    clock.set(datetime(2025, 10, 10, 10, 0, tzinfo=UTC))

    starts = await slot_starts(client, end="2025-10-10", timeZone="Europe/Berlin")

    assert starts["2025-10-10"][0] == "2025-10-10T13:00:00.000+02:00"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        pytest.param(
            {"eventTypeId": INSTANT, "start": "2025-10-10", "end": "2025-10-10", "x": "1"},
            400,
            id="unknown-key",
        ),
        pytest.param({"eventTypeId": INSTANT, "start": "2025-10-10"}, 400, id="no-end"),
        pytest.param(
            {"eventTypeId": 999, "start": "2025-10-10", "end": "2025-10-10"},
            404,
            id="unknown-event-type",
        ),
        pytest.param(
            {
                "eventTypeId": INSTANT,
                "start": "2025-10-10",
                "end": "2025-10-10",
                "timeZone": "Berlin",
            },
            400,
            id="bad-zone",
        ),
    ],
)
async def test_slots_refuse_bad_queries(
    client: httpx.AsyncClient, params: dict[str, Any], status: int
) -> None:
    response = await client.get("/slots", params=params, headers=SLOTS)

    assert response.status_code == status
    error_of(response)


# --- finding bookings ---------------------------------------------------------------------


async def test_bookings_can_be_found_by_attendee_email_in_any_case_and_event_type(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    mine = (await book(client)).json()["data"]["uid"]
    await book(client, start="2025-10-10T10:00:00Z", email="other@example.com")
    await book(client, event_type_id=CONFIRMED_BY_HOST)

    response = await client.get(
        "/bookings",
        params={"attendeeEmail": "KUNDE340@example.com", "eventTypeIds": f"{INSTANT},1"},
        headers=BOOKINGS,
    )

    assert response.status_code == 200
    assert [booking["uid"] for booking in response.json()["data"]] == [mine]
    assert response.json()["pagination"]["totalItems"] == 1


async def test_booking_status_filters_follow_cal_com(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Upcoming and past look at the end; cancelled ones are neither."""
    past = emu.seed_booking(
        event_type_id=INSTANT,
        start=datetime(2025, 10, 8, 9, tzinfo=UTC),
        attendee_name="P",
        attendee_email="p@example.com",
    )
    upcoming = (await book(client)).json()["data"]["uid"]
    pending = (await book(client, event_type_id=CONFIRMED_BY_HOST)).json()["data"]["uid"]
    cancelled = (await book(client, start="2025-10-10T10:00:00Z")).json()["data"]["uid"]
    emu.cancel_booking(cancelled)

    async def uids(status: str) -> set[str]:
        response = await client.get("/bookings", params={"status": status}, headers=BOOKINGS)
        return {booking["uid"] for booking in response.json()["data"]}

    assert await uids("upcoming") == {upcoming, pending}
    assert await uids("past") == {past.uid}
    assert await uids("cancelled") == {cancelled}
    assert await uids("unconfirmed") == {pending}
    assert await uids("past,cancelled") == {past.uid, cancelled}


async def test_bookings_are_filtered_by_time_sorted_and_paged(
    client: httpx.AsyncClient,
) -> None:
    for hour in (9, 10, 11, 12):
        await book(client, start=f"2025-10-10T{hour:02d}:00:00Z", email=f"h{hour}@example.com")

    response = await client.get(
        "/bookings",
        params={
            "afterStart": "2025-10-10T10:00:00Z",
            "beforeEnd": "2025-10-10T13:00:00Z",
            "sortStart": "desc",
            "take": 2,
            "skip": 1,
        },
        headers=BOOKINGS,
    )

    body = response.json()
    assert [booking["start"] for booking in body["data"]] == [
        "2025-10-10T11:00:00.000Z",
        "2025-10-10T10:00:00.000Z",
    ]
    assert body["pagination"] == {
        "totalItems": 3,
        "remainingItems": 0,
        "returnedItems": 2,
        "itemsPerPage": 2,
        "currentPage": 1,
        "totalPages": 2,
        "hasNextPage": False,
        "hasPreviousPage": True,
    }


@pytest.mark.parametrize(
    "params",
    [{"take": 251}, {"status": "active"}, {"sortStart": "up"}],
    ids=["take-over-250", "unknown-status", "bad-sort"],
)
async def test_listing_refuses_bad_queries(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/bookings", params=params, headers=BOOKINGS)

    assert response.status_code == 400


async def test_a_booking_is_fetched_by_uid_and_an_unknown_uid_is_404(
    client: httpx.AsyncClient,
) -> None:
    uid = (await book(client)).json()["data"]["uid"]

    found = await client.get(f"/bookings/{uid}", headers=BOOKINGS)
    missing = await client.get("/bookings/nope", headers=BOOKINGS)

    assert found.json()["data"]["uid"] == uid
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "NotFoundException"


# --- changing bookings --------------------------------------------------------------------


async def test_cancelling_frees_the_slot_and_cannot_be_repeated(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    uid = (await book(client)).json()["data"]["uid"]
    clock.advance(timedelta(minutes=5))

    cancelled = await client.post(
        f"/bookings/{uid}/cancel", json={"cancellationReason": "Krank"}, headers=BOOKINGS
    )
    again = await client.post(f"/bookings/{uid}/cancel", json={}, headers=BOOKINGS)
    unknown = await client.post("/bookings/nope/cancel", json={}, headers=BOOKINGS)

    assert cancelled.status_code == 200
    data = cancelled.json()["data"]
    assert (data["status"], data["cancellationReason"]) == ("cancelled", "Krank")
    assert data["updatedAt"] == "2025-10-09T20:26:00.000Z"
    assert again.status_code == 400
    assert error_of(again)["message"] == "This booking has already been cancelled."
    assert unknown.status_code == 404
    starts = await slot_starts(client, end="2025-10-10", timeZone="Europe/Berlin")
    assert "2025-10-10T11:00:00.000+02:00" in starts["2025-10-10"]


async def test_cancel_refuses_unknown_keys(client: httpx.AsyncClient) -> None:
    uid = (await book(client)).json()["data"]["uid"]

    response = await client.post(f"/bookings/{uid}/cancel", json={"reason": "x"}, headers=BOOKINGS)

    assert response.status_code == 400
    assert "property reason should not exist" in error_of(response)["message"]


async def test_rescheduling_creates_a_new_booking_and_links_both_ways(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    old_uid = (await book(client)).json()["data"]["uid"]

    response = await client.post(
        f"/bookings/{old_uid}/reschedule",
        json={"start": "2025-10-13T12:00:00Z", "reschedulingReason": "Terminwunsch"},
        headers=BOOKINGS,
    )

    assert response.status_code == 201
    new = response.json()["data"]
    assert new["uid"] != old_uid
    assert new["rescheduledFromUid"] == old_uid
    assert new["metadata"] == {"call_id": "call_682"}
    assert new["attendees"][0]["email"] == "kunde340@example.com"
    old = (await client.get(f"/bookings/{old_uid}", headers=BOOKINGS)).json()["data"]
    assert (old["status"], old["rescheduledToUid"]) == ("cancelled", new["uid"])
    assert emu.created_bookings_count() == 2
    starts = await slot_starts(client, timeZone="Europe/Berlin")
    assert "2025-10-10T11:00:00.000+02:00" in starts["2025-10-10"]
    assert "2025-10-13T14:00:00.000+02:00" not in starts["2025-10-13"]


async def test_rescheduling_may_move_within_its_own_slot_but_not_onto_another_booking(
    client: httpx.AsyncClient,
) -> None:
    """The booking's own hour does not block it; someone else's does."""
    uid = (await book(client)).json()["data"]["uid"]
    await book(client, start="2025-10-10T10:00:00Z", email="other@example.com")

    onto_other = await client.post(
        f"/bookings/{uid}/reschedule", json={"start": "2025-10-10T10:00:00Z"}, headers=BOOKINGS
    )
    same_slot = await client.post(
        f"/bookings/{uid}/reschedule", json={"start": FRIDAY_11_BERLIN}, headers=BOOKINGS
    )

    assert onto_other.status_code == 400
    assert same_slot.status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"start": "2025-10-09T08:00:00Z"}, 400, id="past"),
        pytest.param({"start": "2025-10-11T09:00:00Z"}, 400, id="closed"),
        pytest.param({"start": "2025-10-13T09:00:00Z", "when": "x"}, 400, id="unknown-key"),
    ],
)
async def test_rescheduling_refuses_what_booking_would_refuse(
    client: httpx.AsyncClient, body: dict[str, str], status: int
) -> None:
    uid = (await book(client)).json()["data"]["uid"]

    response = await client.post(f"/bookings/{uid}/reschedule", json=body, headers=BOOKINGS)

    assert response.status_code == status


async def test_rescheduling_an_unknown_or_cancelled_booking_is_refused(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    uid = (await book(client)).json()["data"]["uid"]
    emu.cancel_booking(uid, reason="Business closed")
    body = {"start": "2025-10-13T09:00:00Z"}

    cancelled = await client.post(f"/bookings/{uid}/reschedule", json=body, headers=BOOKINGS)
    unknown = await client.post("/bookings/nope/reschedule", json=body, headers=BOOKINGS)

    assert (cancelled.status_code, unknown.status_code) == (400, 404)


async def test_a_seeded_booking_from_yesterday_is_visible_with_its_old_created_at(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    seeded = emu.seed_booking(
        event_type_id=CONFIRMED_BY_HOST,
        start=datetime(2025, 10, 10, 9, tzinfo=UTC),
        attendee_name="Erika Muster",
        attendee_email="kunde340@example.com",
        created_at=NOW - timedelta(days=1),
        metadata={"call_id": "call_682"},
        status="pending",
    )

    again = await book(client, event_type_id=CONFIRMED_BY_HOST)

    assert again.json()["data"]["uid"] == seeded.uid
    assert again.json()["data"]["createdAt"] == "2025-10-08T20:21:00.000Z"
    assert emu.created_bookings_count() == 0


def test_changes_on_the_cal_com_side_refuse_unknown_uids(emu: CalcomEmulator) -> None:
    with pytest.raises(KeyError):
        emu.cancel_booking("nope")


# --- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raised", "committed"),
    [
        (FaultKind.TIMEOUT, httpx.ReadTimeout, False),
        (FaultKind.CONNECT_ERROR, httpx.ConnectError, False),
        (FaultKind.TIMEOUT_AFTER_COMMIT, httpx.ReadTimeout, True),
        (FaultKind.RESET_AFTER_COMMIT, httpx.RemoteProtocolError, True),
    ],
)
async def test_network_faults_raise_and_commit_only_after_commit_kinds(
    client: httpx.AsyncClient,
    emu: CalcomEmulator,
    kind: FaultKind,
    raised: type[Exception],
    committed: bool,
) -> None:
    emu.inject(Fault(kind=kind, method="POST", path="/v2/bookings"))

    with pytest.raises(raised):
        await book(client)

    assert len(emu.bookings) == int(committed)
    assert emu.requests[-1].fault is kind


@pytest.mark.parametrize(
    ("kind", "status", "committed"),
    [
        (FaultKind.SERVER_ERROR, 500, False),
        (FaultKind.SERVER_ERROR_AFTER_COMMIT, 500, True),
        (FaultKind.RATE_LIMITED, 429, False),
    ],
)
async def test_status_faults_answer_an_error_envelope_and_commit_only_after_commit_kinds(
    client: httpx.AsyncClient,
    emu: CalcomEmulator,
    kind: FaultKind,
    status: int,
    committed: bool,
) -> None:
    emu.inject(Fault(kind=kind, method="POST", path="/v2/bookings"))

    response = await book(client)

    assert response.status_code == status
    error_of(response)
    assert "X-RateLimit-Limit-Default" in response.headers
    assert len(emu.bookings) == int(committed)


async def test_a_server_error_fault_can_use_another_status(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.inject(Fault(kind=FaultKind.SERVER_ERROR, status_code=503))

    response = await client.get("/bookings", headers=BOOKINGS)

    assert response.status_code == 503


async def test_a_rate_limited_fault_adds_retry_after_only_when_asked(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.inject(Fault(kind=FaultKind.RATE_LIMITED))
    emu.inject(Fault(kind=FaultKind.RATE_LIMITED, retry_after=2))

    plain = await client.get("/bookings", headers=BOOKINGS)
    hinted = await client.get("/bookings", headers=BOOKINGS)

    assert (plain.status_code, hinted.status_code) == (429, 429)
    assert "Retry-After" not in plain.headers
    assert hinted.headers["Retry-After"] == "2"
    assert plain.headers["X-RateLimit-Remaining-Default"] == "0"


async def test_a_malformed_json_fault_commits_and_answers_the_normal_status(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.inject(Fault(kind=FaultKind.MALFORMED_JSON, method="POST", path="/v2/bookings"))

    response = await book(client)

    assert response.status_code == 201
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert len(emu.bookings) == 1


async def test_a_delay_fault_waits_then_answers_normally(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.inject(Fault(kind=FaultKind.DELAY, delay_seconds=0.2))

    started = monotonic_time.monotonic()
    response = await book(client)

    assert monotonic_time.monotonic() - started >= 0.19
    assert response.status_code == 201


async def test_a_fixed_latency_delays_every_request_and_faulted_ones_too(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """The injected round trip applies to each request, whatever answers it."""
    emu.latency_seconds = 0.1
    emu.inject(Fault(kind=FaultKind.SERVER_ERROR, method="GET"))

    started = monotonic_time.monotonic()
    failed = await client.get("/v2/bookings/unknown", headers={"cal-api-version": "2024-08-13"})
    response = await book(client)

    assert monotonic_time.monotonic() - started >= 0.19
    assert failed.status_code == 500
    assert response.status_code == 201


def test_a_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CalcomEmulator(latency_seconds=-0.1)


async def test_a_fault_hits_only_matching_requests_and_only_its_number_of_times(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.inject(Fault(kind=FaultKind.SERVER_ERROR, method="POST", path="/v2/bookings", times=2))

    listed = await client.get("/bookings", headers=BOOKINGS)
    first, second, third = [await book(client) for _ in range(3)]

    assert listed.status_code == 200
    assert [first.status_code, second.status_code, third.status_code] == [500, 500, 201]
    assert emu.pending_faults == ()


async def test_requests_are_recorded_in_order_without_the_api_key(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    await book(client)
    await client.get("/bookings", params={"take": 5}, headers=BOOKINGS)

    first, second = emu.requests
    assert (first.method, first.path, first.json["eventTypeId"]) == (
        "POST",
        "/v2/bookings",
        INSTANT,
    )
    assert (second.method, second.query) == ("GET", {"take": "5"})
    assert "authorization" not in first.headers
    assert first.headers["cal-api-version"] == "2024-08-13"
    assert API_KEY not in repr(emu.requests)


# --- rate limit ---------------------------------------------------------------------------


async def test_the_rate_limit_refuses_with_429_without_retry_after_until_the_minute_passes(
    emu: CalcomEmulator, clock: FakeClock
) -> None:
    limited = CalcomEmulator(api_key=API_KEY, clock=clock, rate_limit_per_minute=3)
    limited.add_event_type(emu.event_types[0])
    async with httpx.AsyncClient(transport=limited.transport, base_url="http://x/v2") as client:
        answers = [await client.get("/bookings", headers=BOOKINGS) for _ in range(4)]
        clock.advance(timedelta(seconds=61))
        after_a_minute = await client.get("/bookings", headers=BOOKINGS)

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining-Default"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.headers["X-RateLimit-Limit-Default"] == "3"
    assert int(refused.headers["X-RateLimit-Reset-Default"]) > 0
    assert "Retry-After" not in refused.headers
    assert error_of(refused)["code"] == "ThrottlerException"
    assert after_a_minute.status_code == 200


async def test_every_response_carries_the_default_budget_of_120(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.headers["X-RateLimit-Limit-Default"] == "120"
    assert response.headers["X-RateLimit-Remaining-Default"] == "119"


# --- over real HTTP -----------------------------------------------------------------------


async def test_the_asgi_app_books_and_fails_over_real_http_served_by_uvicorn(
    emu: CalcomEmulator,
) -> None:
    try:
        async with (
            serve_asgi(emu.asgi_app) as url,
            httpx.AsyncClient(base_url=f"{url}/v2") as client,
        ):
            booked = await book(client)
            emu.inject(Fault(kind=FaultKind.SERVER_ERROR, path="/v2/bookings"))
            failed = await book(client, start="2025-10-10T10:00:00Z")
            emu.inject(Fault(kind=FaultKind.RESET_AFTER_COMMIT, path="/v2/bookings"))
            with pytest.raises(httpx.RemoteProtocolError):
                await book(client, start="2025-10-10T11:00:00Z")
    finally:
        emu.close()

    assert booked.status_code == 201
    assert booked.json()["data"]["start"] == "2025-10-10T09:00:00.000Z"
    assert failed.status_code == 500
    assert error_of(failed)["code"] == "InternalServerErrorException"
    assert [booking.start.hour for booking in emu.bookings] == [9, 11]


async def test_a_webhook_delivery_carries_the_booking_as_cal_com_sends_it(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Envelope, upper-case status, ``startTime``; signed as hex HMAC-SHA256 of the raw body."""
    uid = (await book(client)).json()["data"]["uid"]

    delivery = emu.webhook("BOOKING_CREATED", uid, secret="whsec")

    assert delivery.json["triggerEvent"] == "BOOKING_CREATED"
    assert delivery.json["createdAt"] == "2025-10-09T20:21:00.000Z"
    payload = delivery.json["payload"]
    assert (payload["uid"], payload["status"]) == (uid, "ACCEPTED")
    assert (payload["startTime"], payload["endTime"]) == (
        "2025-10-10T09:00:00.000Z",
        "2025-10-10T10:00:00.000Z",
    )
    assert payload["attendees"][0]["email"] == "kunde340@example.com"
    assert payload["metadata"] == {"call_id": "call_682"}
    expected = hmac.new(b"whsec", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Cal-Signature-256"] == expected


async def test_a_reschedule_webhook_names_the_booking_it_replaced(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """The new booking's payload carries Cal.com's ``rescheduleUid`` and ``rescheduleId``."""
    uid = (await book(client)).json()["data"]["uid"]
    new = emu.reschedule_booking(uid, datetime(2025, 10, 10, 12, 0, tzinfo=UTC))

    rescheduled = emu.webhook("BOOKING_RESCHEDULED", new.uid, secret="whsec").json["payload"]
    cancelled = emu.webhook("BOOKING_CANCELLED", uid, secret="whsec").json["payload"]

    assert rescheduled["rescheduleUid"] == uid
    assert rescheduled["rescheduleId"] == emu.booking(uid).id
    assert "fromReschedule" not in rescheduled
    assert rescheduled["startTime"] == "2025-10-10T12:00:00.000Z"
    assert cancelled["status"] == "CANCELLED"
    assert emu.booking(uid).rescheduled_to_uid == new.uid


def test_a_webhook_for_an_unknown_booking_is_a_key_error(emu: CalcomEmulator) -> None:
    with pytest.raises(KeyError):
        emu.webhook("BOOKING_CANCELLED", "no-such-uid", secret="whsec")


def test_the_public_surface_is_exactly_what_all_names() -> None:
    """Every public name is listed in ``__all__``, and nothing listed is missing."""
    for name in testing.__all__:
        getattr(testing, name)  # names are bound on first use
    exported = {
        name
        for name, value in vars(testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }

    assert exported - {"annotations", "TYPE_CHECKING"} == set(testing.__all__)
    assert {"CalcomEmulator", "EventTypeSpec", "Fault", "FaultKind", "FakeClock"} <= exported


# --- refusals as Cal.com words them ------------------------------------------------------

OUT_OF_BOUNDS = (
    'The event type can\'t be booked at the "start" time provided. This could be because '
    "it's too soon (violating the minimum booking notice) or too far in the future (outside "
    "the event's scheduling window). Try fetching available slots first using the GET "
    '/v2/slots endpoint and then make a booking with "start" time equal to one of the '
    "available slots: https://cal.com/docs/api-reference/v2/slots"
)
BOUNDED = 88


@pytest.fixture(name="bounded")
def _bounded(emu: CalcomEmulator) -> EventTypeSpec:
    """60 minutes, 24 hours' notice, bookable at most 7 days ahead."""
    return emu.add_event_type(
        EventTypeSpec(
            id=BOUNDED,
            title="Begrenzt",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=WEEKDAYS_9_TO_17,
            minimum_booking_notice_minutes=24 * 60,
            booking_window_days=7,
        )
    )


@pytest.mark.usefixtures("bounded")
@pytest.mark.parametrize(
    "start",
    [
        pytest.param("2025-10-10T09:00:00Z", id="inside-the-minimum-notice"),
        pytest.param("2025-10-20T09:00:00Z", id="past-the-booking-window"),
    ],
)
async def test_a_start_outside_notice_or_window_is_refused_with_cal_coms_sentence(
    client: httpx.AsyncClient, start: str
) -> None:
    """A 400 whose code is only the exception class; the sentence tells the case apart."""
    response = await book(client, event_type_id=BOUNDED, start=start)

    assert response.status_code == 400
    assert error_of(response)["code"] == "BadRequestException"
    assert error_of(response)["message"] == OUT_OF_BOUNDS


@pytest.mark.usefixtures("bounded")
async def test_slots_leave_out_the_notice_period_and_what_lies_past_the_window(
    client: httpx.AsyncClient,
) -> None:
    """From Thursday 20:21 UTC: nothing before Friday 22:21, nothing after Thursday week."""
    days = await slot_starts(
        client, eventTypeId=BOUNDED, start="2025-10-09", end="2025-10-31", timeZone="Europe/Berlin"
    )

    assert "2025-10-10" not in days
    assert days["2025-10-13"][0] == "2025-10-13T09:00:00.000+02:00"
    assert max(days) == "2025-10-16"
    assert days["2025-10-16"][-1] == "2025-10-16T16:00:00.000+02:00"


async def test_a_reschedule_inside_the_notice_is_refused_with_the_same_sentence(
    client: httpx.AsyncClient, bounded: EventTypeSpec
) -> None:
    uid = (await book(client, event_type_id=BOUNDED, start="2025-10-13T09:00:00Z")).json()["data"][
        "uid"
    ]

    moved = await client.post(
        f"/bookings/{uid}/reschedule", json={"start": "2025-10-10T09:00:00Z"}, headers=BOOKINGS
    )

    assert moved.status_code == 400
    assert error_of(moved)["message"] == OUT_OF_BOUNDS


async def test_a_start_in_the_past_is_refused_as_in_the_past(client: httpx.AsyncClient) -> None:
    response = await book(client, start="2025-10-09T08:00:00Z")

    assert response.status_code == 400
    assert error_of(response)["message"] == "Attempting to book a meeting in the past."


async def test_a_team_event_type_says_one_of_the_hosts_is_not_available(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    emu.add_event_type(
        EventTypeSpec(id=5, title="Team", timezone="Europe/Berlin", team=True, length_minutes=60)
    )
    await book(client, event_type_id=5, email="one@example.com")

    taken = await book(client, event_type_id=5, email="two@example.com")

    assert taken.status_code == 400
    assert error_of(taken)["message"] == (
        "One of the hosts either already has booking at this time or is not available"
    )


@pytest.mark.parametrize("offer_reschedule", [False, True])
async def test_the_per_attendee_booking_limit_refuses_with_cal_coms_sentence(
    client: httpx.AsyncClient, emu: CalcomEmulator, offer_reschedule: bool
) -> None:
    """The reschedule variant names the attendee's last booking."""
    emu.add_event_type(
        EventTypeSpec(
            id=6,
            title="Limited",
            length_minutes=60,
            timezone="Europe/Berlin",
            max_active_bookings_per_attendee=1,
            offer_reschedule_when_limited=offer_reschedule,
        )
    )
    first = await book(client, event_type_id=6)

    second = await book(client, event_type_id=6, start="2025-10-10T11:00:00Z")
    other_attendee = await book(
        client, event_type_id=6, start="2025-10-10T11:00:00Z", email="other@example.com"
    )

    limit = (
        "Attendee with this email can't book because the maximum number of active bookings "
        "has been reached."
    )
    if offer_reschedule:
        uid = first.json()["data"]["uid"]
        limit += f" You can reschedule your existing booking ({uid}) to a new timeslot instead."
    assert second.status_code == 400
    assert error_of(second) | {"details": None} == {
        "code": "BadRequestException",
        "message": limit,
        "details": None,
    }
    assert other_attendee.status_code == 201


async def test_length_in_minutes_is_refused_for_an_event_type_with_one_length(
    client: httpx.AsyncClient,
) -> None:
    """Even the event type's own length: it has no multiple durations to choose from."""
    response = await book(client, lengthInMinutes=60)

    assert response.status_code == 400
    assert "lengthInMinutes" in error_of(response)["message"]


async def test_listing_bookings_drops_unknown_query_parameters_and_widens_the_result(
    client: httpx.AsyncClient,
) -> None:
    """``GET /v2/bookings`` only whitelists: a misspelled filter is silently ignored."""
    await book(client, email="one@example.com")
    await book(client, email="two@example.com", start="2025-10-10T11:00:00Z")

    listed = await client.get(
        "/bookings", params={"attendeeMail": "one@example.com"}, headers=BOOKINGS
    )

    assert listed.status_code == 200
    assert len(listed.json()["data"]) == 2


async def test_a_phone_only_attendee_is_booked_as_digits_at_sms_cal_com_and_never_emailed(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """Cal.com's own placeholder; an invented address elsewhere is accepted and emailed."""
    phone_only = await client.post(
        "/bookings",
        json=booking_body()
        | {"attendee": {"name": "E", "timeZone": "Europe/Berlin", "phoneNumber": "+4930123456"}},
        headers=BOOKINGS,
    )
    invented = await book(client, email="tel-4930999@phone.invalid", start="2025-10-10T11:00:00Z")

    assert phone_only.status_code == invented.status_code == 201
    attendee = phone_only.json()["data"]["attendees"][0]
    assert (attendee["email"], attendee["phoneNumber"]) == ("4930123456@sms.cal.com", "+4930123456")
    assert [(mail.to, mail.kind) for mail in emu.emails] == [
        ("tel-4930999@phone.invalid", "scheduled")
    ]


async def test_an_attendee_without_email_or_phone_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/bookings",
        json=booking_body() | {"attendee": {"name": "E", "timeZone": "Europe/Berlin"}},
        headers=BOOKINGS,
    )

    assert response.status_code == 400


# --- requires confirmation -------------------------------------------------------------------


async def test_a_requested_booking_is_pending_until_the_host_rejects_it_and_frees_the_slot(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    """BOOKING_REQUESTED says PENDING, BOOKING_REJECTED says REJECTED; the slot is free again."""
    requested = (await book(client, event_type_id=CONFIRMED_BY_HOST)).json()["data"]
    taken = await book(client, event_type_id=CONFIRMED_BY_HOST, email="other@example.com")
    pending = emu.webhook("BOOKING_REQUESTED", requested["uid"], secret="s").json
    emu.reject_booking(requested["uid"], "fully booked")
    rejected = emu.webhook("BOOKING_REJECTED", requested["uid"], secret="s").json
    after = await book(client, event_type_id=CONFIRMED_BY_HOST, email="other@example.com")

    assert requested["status"] == "pending"
    assert taken.status_code == 400
    assert (pending["triggerEvent"], pending["payload"]["status"]) == (
        "BOOKING_REQUESTED",
        "PENDING",
    )
    assert (rejected["payload"]["status"], rejected["payload"]["cancellationReason"]) == (
        "REJECTED",
        "fully booked",
    )
    assert after.status_code == 201


async def test_a_host_confirmation_accepts_a_pending_booking(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    uid = (await book(client, event_type_id=CONFIRMED_BY_HOST)).json()["data"]["uid"]

    emu.confirm_booking(uid)
    fetched = await client.get(f"/bookings/{uid}", headers=BOOKINGS)

    assert fetched.json()["data"]["status"] == "accepted"
    with pytest.raises(ValueError, match="not pending"):
        emu.reject_booking(uid)


async def test_a_created_webhook_may_carry_null_metadata_and_always_a_cancellation_reason(
    client: httpx.AsyncClient, emu: CalcomEmulator
) -> None:
    uid = (await book(client)).json()["data"]["uid"]

    payload = emu.webhook("BOOKING_CREATED", uid, secret="s", metadata=False).json["payload"]

    assert payload["metadata"] is None
    assert payload["cancellationReason"] == ""


# --- the 60-second block ---------------------------------------------------------------------


async def test_going_over_the_limit_blocks_the_key_for_sixty_seconds(clock: FakeClock) -> None:
    """The block outlasts the window; the reset header counts down to its end."""
    limited = CalcomEmulator(api_key=API_KEY, clock=clock, rate_limit_per_minute=2)
    async with httpx.AsyncClient(transport=limited.transport, base_url="http://x/v2") as client:
        answers = [await client.get("/bookings", headers=BOOKINGS) for _ in range(3)]
        clock.advance(timedelta(seconds=30))
        still_blocked = await client.get("/bookings", headers=BOOKINGS)
        clock.advance(timedelta(seconds=31))
        after_the_block = await client.get("/bookings", headers=BOOKINGS)

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].headers["X-RateLimit-Reset-Default"] == "60"
    assert "Retry-After" not in answers[-1].headers
    assert still_blocked.status_code == 429
    assert still_blocked.headers["X-RateLimit-Reset-Default"] == "30"
    assert after_the_block.status_code == 200
    assert after_the_block.headers["X-RateLimit-Remaining-Default"] == "1"
