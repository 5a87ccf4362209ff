"""CalcomClient against a small, stateful fake of Cal.com served through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
import stamina

from retell_booking_tools.calcom import (
    Booking,
    CalcomAuthError,
    CalcomClient,
    CalcomError,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomRequestEvent,
    CalcomSlotUnavailable,
    CalcomUnavailable,
    CalcomValidationError,
    CreateBooking,
    NewAttendee,
)
from retell_booking_tools.calcom.client import error_for_status

API_KEY = "cal_test_0123456789abcdefSECRET"
BASE_URL = "https://cal.test/v2"
BERLIN = ZoneInfo("Europe/Berlin")
EVENT_TYPE_ID = 2563193
TAKEN = "User either already has booking at this time or is not available"

Fault = httpx.Response | Exception


def _envelope(data: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": data, **extra}


def _error(status: int, message: str, code: str = "BadRequestException") -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "status": "error",
            "timestamp": "2050-09-01T10:00:00.000Z",
            "path": "/v2/bookings",
            "error": {"code": code, "message": message, "details": {}},
        },
    )


class FakeCalcom:
    """Just enough of Cal.com v2 to book, find, cancel and reschedule; faults on demand.

    ``faults`` are answered (or raised) first, one per request, before normal service.
    """

    def __init__(self, *, free_starts: list[datetime] | None = None) -> None:
        self.free_starts = list(free_starts or [])
        self.bookings: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[httpx.Request] = []
        self._next_id = 1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "Invalid Access Token.", "UnauthorizedException")
        path = request.url.path.removeprefix("/v2")
        parts = path.strip("/").split("/")
        match request.method, parts:
            case "GET", ["slots"]:
                return self._slots(request)
            case "POST", ["bookings"]:
                return self._create(json.loads(request.content))
            case "GET", ["bookings"]:
                return self._list(request)
            case "GET", ["bookings", uid]:
                if uid not in self.bookings:
                    return _error(404, f"Booking with uid={uid} was not found", "NotFoundException")
                return httpx.Response(200, json=_envelope(self.bookings[uid]))
            case "POST", ["bookings", uid, "cancel"]:
                booking = self.bookings[uid]
                booking["status"] = "cancelled"
                booking["cancellationReason"] = json.loads(request.content).get(
                    "cancellationReason"
                )
                return httpx.Response(200, json=_envelope(booking))
            case "POST", ["bookings", uid, "reschedule"]:
                return self._reschedule(uid, json.loads(request.content))
        return _error(404, "Cannot find route", "NotFoundException")

    @property
    def attempts(self) -> int:
        return len(self.requests)

    def _slots(self, request: httpx.Request) -> httpx.Response:
        zone = ZoneInfo(request.url.params.get("timeZone", "UTC"))
        start = datetime.fromisoformat(request.url.params["start"])
        end = datetime.fromisoformat(request.url.params["end"])
        taken = {b["start"] for b in self.bookings.values() if b["status"] == "accepted"}
        by_day: dict[str, list[dict[str, str]]] = {}
        for instant in self.free_starts:
            if start <= instant <= end and _z(instant) not in taken:
                local = instant.astimezone(zone)
                by_day.setdefault(local.date().isoformat(), []).append(
                    {"start": local.isoformat(timespec="milliseconds")}
                )
        return httpx.Response(200, json=_envelope(by_day))

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        start = body["start"]
        if any(b["start"] == start and b["status"] == "accepted" for b in self.bookings.values()):
            return _error(400, TAKEN)
        return httpx.Response(201, json=_envelope(self._insert(start, body["attendee"])))

    def _insert(self, start: str, attendee: dict[str, Any], **fields: Any) -> dict[str, Any]:
        uid = f"uid-{self._next_id}"
        begin = datetime.fromisoformat(start)
        booking = {
            "id": self._next_id,
            "uid": uid,
            "title": "Beratung",
            "status": "accepted",
            "start": start,
            "end": _z(begin + timedelta(minutes=30)),
            "duration": 30,
            "eventTypeId": EVENT_TYPE_ID,
            "attendees": [attendee],
            "metadata": {},
            "createdAt": "2050-09-01T10:00:00.000Z",
            **fields,
        }
        self._next_id += 1
        self.bookings[uid] = booking
        return booking

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        email = params.get("attendeeEmail")
        found = [
            b
            for b in self.bookings.values()
            if email is None or any(a["email"] == email for a in b["attendees"])
        ]
        take, skip = int(params.get("take", "100")), int(params.get("skip", "0"))
        page = found[skip : skip + take]
        return httpx.Response(
            200,
            json=_envelope(
                page,
                pagination={
                    "totalItems": len(found),
                    "returnedItems": len(page),
                    "hasNextPage": skip + take < len(found),
                },
            ),
        )

    def _reschedule(self, uid: str, body: dict[str, Any]) -> httpx.Response:
        old = self.bookings[uid]
        new = self._insert(body["start"], old["attendees"][0], rescheduledFromUid=uid)
        old["status"] = "cancelled"
        old["rescheduledToUid"] = new["uid"]
        return httpx.Response(201, json=_envelope(new))


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _new_booking(start: datetime, email: str = "erika@example.org") -> CreateBooking:
    return CreateBooking(
        start=start,
        event_type_id=EVENT_TYPE_ID,
        attendee=NewAttendee(name="Erika Mustermann", email=email, time_zone="Europe/Berlin"),
    )


MONDAY_11_BERLIN = datetime(2050, 9, 5, 11, 0, tzinfo=BERLIN)


@pytest.fixture(name="fake")
def fixture_fake() -> FakeCalcom:
    return FakeCalcom(
        free_starts=[
            datetime(2050, 9, 5, 9, 0, tzinfo=UTC),
            datetime(2050, 9, 5, 8, 0, tzinfo=UTC),
            datetime(2050, 9, 6, 7, 30, tzinfo=UTC),
        ]
    )


@pytest.fixture(name="events")
def fixture_events() -> list[CalcomRequestEvent]:
    return []


@pytest.fixture(name="client")
async def fixture_client(fake: FakeCalcom, events: list[CalcomRequestEvent]) -> Any:
    async with CalcomClient(
        api_key=API_KEY,
        base_url=BASE_URL,
        transport=httpx.MockTransport(fake),
        max_attempts=3,
        on_request=events.append,
    ) as client:
        yield client


# -- what goes over the wire ------------------------------------------------------------


async def test_every_request_carries_bearer_key_json_accept_and_user_agent(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """The key travels only in the Authorization header, with our User-Agent."""
    await client.get_slots(
        event_type_id=EVENT_TYPE_ID, start=MONDAY_11_BERLIN, end=MONDAY_11_BERLIN
    )
    await client.create_booking(_new_booking(MONDAY_11_BERLIN))

    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("retell-booking-tools/")


async def test_each_endpoint_family_sends_its_pinned_api_version(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """Without cal-api-version Cal.com falls back to legacy shapes, so every call pins one."""
    await client.get_slots(
        event_type_id=EVENT_TYPE_ID, start=MONDAY_11_BERLIN, end=MONDAY_11_BERLIN
    )
    booking = await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    await client.get_booking(booking.uid)
    await client.list_bookings(attendee_email="erika@example.org")
    moved = await client.reschedule_booking(booking.uid, MONDAY_11_BERLIN + timedelta(hours=1))
    await client.cancel_booking(moved.uid, reason="changed plans")

    versions = [(r.url.path, r.headers["cal-api-version"]) for r in fake.requests]
    assert versions == [
        ("/v2/slots", "2024-09-04"),
        ("/v2/bookings", "2024-08-13"),
        (f"/v2/bookings/{booking.uid}", "2024-08-13"),
        ("/v2/bookings", "2024-08-13"),
        (f"/v2/bookings/{booking.uid}/reschedule", "2024-08-13"),
        (f"/v2/bookings/{moved.uid}/cancel", "2024-08-13"),
    ]


async def test_instants_in_query_strings_are_utc_with_z(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """A Berlin 11:00 goes out as 09:00Z in summer, in slots and booking filters alike."""
    await client.get_slots(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_11_BERLIN,
        end=MONDAY_11_BERLIN + timedelta(days=1),
        time_zone="Europe/Berlin",
    )
    await client.list_bookings(
        attendee_email="erika@example.org",
        after_start=MONDAY_11_BERLIN,
        before_end=MONDAY_11_BERLIN + timedelta(days=1),
        status=["upcoming", "unconfirmed"],
    )

    slots_query = parse_qs(fake.requests[0].url.query.decode())
    assert slots_query["start"] == ["2050-09-05T09:00:00.000Z"]
    assert slots_query["end"] == ["2050-09-06T09:00:00.000Z"]
    assert slots_query["timeZone"] == ["Europe/Berlin"]
    list_query = parse_qs(fake.requests[1].url.query.decode())
    assert list_query["afterStart"] == ["2050-09-05T09:00:00.000Z"]
    assert list_query["beforeEnd"] == ["2050-09-06T09:00:00.000Z"]
    assert list_query["status"] == ["upcoming,unconfirmed"]


async def test_booking_bodies_carry_utc_z_starts(client: CalcomClient, fake: FakeCalcom) -> None:
    """Create and reschedule bodies say 09:00Z for a Berlin 11:00."""
    booking = await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    await client.reschedule_booking(booking.uid, MONDAY_11_BERLIN + timedelta(hours=2), "later")

    assert json.loads(fake.requests[0].content)["start"] == "2050-09-05T09:00:00.000Z"
    assert json.loads(fake.requests[1].content) == {
        "start": "2050-09-05T11:00:00.000Z",
        "reschedulingReason": "later",
    }


async def test_naive_datetimes_are_refused_before_anything_is_sent(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """A naive time would silently be read as the server's local time."""
    naive = datetime(2050, 9, 5, 11, 0)
    with pytest.raises(ValueError, match=r"timezone.aware"):
        await client.get_slots(event_type_id=EVENT_TYPE_ID, start=naive, end=naive)
    with pytest.raises(ValueError, match=r"timezone.aware"):
        await client.create_booking(_new_booking(naive))
    assert fake.attempts == 0


# -- what comes back ----------------------------------------------------------------------


async def test_slots_are_sorted_aware_datetimes_in_the_requested_zone(
    client: CalcomClient,
) -> None:
    """Cal.com groups slots by local day; the caller gets one sorted list with offsets."""
    slots = await client.get_slots(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2050, 9, 5, tzinfo=UTC),
        end=datetime(2050, 9, 7, tzinfo=UTC),
        time_zone="Europe/Berlin",
    )

    assert slots == [
        datetime(2050, 9, 5, 8, 0, tzinfo=UTC),
        datetime(2050, 9, 5, 9, 0, tzinfo=UTC),
        datetime(2050, 9, 6, 7, 30, tzinfo=UTC),
    ]
    assert {slot.utcoffset() for slot in slots} == {timedelta(hours=2)}


async def test_created_booking_is_parsed_from_the_success_envelope(client: CalcomClient) -> None:
    """A 201 gives a Booking with the attendee and an aware start."""
    booking = await client.create_booking(_new_booking(MONDAY_11_BERLIN))

    assert isinstance(booking, Booking)
    assert booking.uid == "uid-1"
    assert booking.start == MONDAY_11_BERLIN
    assert booking.is_active
    assert booking.has_attendee("erika@example.org")


async def test_second_create_for_a_taken_start_is_slot_unavailable(client: CalcomClient) -> None:
    """Cal.com's 400 "already has booking" becomes CalcomSlotUnavailable, not a validation error."""
    await client.create_booking(_new_booking(MONDAY_11_BERLIN))

    with pytest.raises(CalcomSlotUnavailable) as caught:
        await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    assert caught.value.status_code == 400
    assert "already has booking" in caught.value.message


async def test_unknown_uid_is_not_found(client: CalcomClient) -> None:
    with pytest.raises(CalcomNotFound):
        await client.get_booking("does-not-exist")


async def test_list_follows_pagination_until_the_last_page(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """Five bookings with take=2 need three pages: skip 0, 2, 4."""
    for hour in range(5):
        await client.create_booking(_new_booking(MONDAY_11_BERLIN + timedelta(hours=hour)))
    fake.requests.clear()

    bookings = await client.list_bookings(attendee_email="erika@example.org", take=2)

    assert [b.uid for b in bookings] == [f"uid-{n}" for n in range(1, 6)]
    assert [r.url.params["skip"] for r in fake.requests] == ["0", "2", "4"]


async def test_reschedule_returns_the_new_booking_pointing_back(client: CalcomClient) -> None:
    original = await client.create_booking(_new_booking(MONDAY_11_BERLIN))

    moved = await client.reschedule_booking(original.uid, MONDAY_11_BERLIN + timedelta(days=1))

    assert moved.uid != original.uid
    assert moved.rescheduled_from_uid == original.uid
    assert (await client.get_booking(original.uid)).rescheduled_to_uid == moved.uid


async def test_cancel_returns_the_cancelled_booking_with_its_reason(client: CalcomClient) -> None:
    booking = await client.create_booking(_new_booking(MONDAY_11_BERLIN))

    cancelled = await client.cancel_booking(booking.uid, reason="caller asked")

    assert cancelled.status == "cancelled"
    assert not cancelled.is_active
    assert cancelled.cancellation_reason == "caller asked"


# -- status codes -> errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_error(401, "Invalid Access Token."), CalcomAuthError),
        (_error(403, "Forbidden resource"), CalcomAuthError),
        (_error(404, "Not found"), CalcomNotFound),
        (_error(409, "Conflict", "booking_conflict_error"), CalcomSlotUnavailable),
        (_error(400, TAKEN), CalcomSlotUnavailable),
        (_error(400, "Something happened", "booking_conflict_error"), CalcomSlotUnavailable),
        (_error(400, "no_available_users_found_error"), CalcomSlotUnavailable),
        (_error(400, "Slot is NOT AVAILABLE"), CalcomValidationError),
        (_error(400, "property foo should not exist"), CalcomValidationError),
        (_error(422, "Unprocessable"), CalcomValidationError),
        (_error(429, "ThrottlerException: Too Many Requests"), CalcomRateLimited),
        (_error(500, "Internal server error"), CalcomUnavailable),
        (httpx.Response(502, text="<html>Bad gateway</html>"), CalcomUnavailable),
        (_error(503, "Service unavailable"), CalcomUnavailable),
    ],
)
async def test_each_error_status_maps_to_the_error_a_caller_handles(
    client: CalcomClient, fake: FakeCalcom, response: httpx.Response, expected: type[CalcomError]
) -> None:
    fake.faults = [response] * 3

    with pytest.raises(expected) as caught:
        await client.get_booking("uid-1")
    assert caught.value.status_code == response.status_code


def test_a_bare_nestjs_error_body_still_yields_its_message() -> None:
    """Not every Cal.com error wraps its message in ``error``; both shapes are read."""
    error = error_for_status(
        400,
        {"statusCode": 400, "message": ["start must be a valid ISO 8601 date string"]},
        {},
        method="POST",
        endpoint="/bookings",
        write=True,
    )
    assert isinstance(error, CalcomValidationError)
    assert "start must be a valid ISO 8601" in error.message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "Thu, 01 Jan 2060 00:00:30 GMT"}, 30.0),
        ({"X-RateLimit-Reset-Default": "42"}, 42.0),
        ({"X-RateLimit-Reset-Default": "2840140812"}, 12.0),
        ({"X-RateLimit-Reset-Default": "2840140812000"}, 12.0),
        ({"X-RateLimit-Reset-Default": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_wait_comes_from_retry_after_or_the_reset_header(
    headers: dict[str, str], expected: float | None
) -> None:
    """Cal.com sends no Retry-After on 429; its reset header is the next best hint."""
    now = datetime(2060, 1, 1, tzinfo=UTC).timestamp()  # 2840140800
    error = error_for_status(
        429,
        None,
        httpx.Headers(headers),
        method="GET",
        endpoint="/slots",
        write=False,
        now=now,
    )
    assert isinstance(error, CalcomRateLimited)
    assert error.retry_after == expected


# -- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        _error(503, "Service unavailable"),
        httpx.Response(429, headers={"Retry-After": "0"}, json={"status": "error"}),
    ],
    ids=["outage", "rate-limit-already-over"],
)
async def test_reads_are_retried_through_outages_and_rate_limits_that_are_over(
    client: CalcomClient, fake: FakeCalcom, fault: httpx.Response
) -> None:
    """Two failures then an answer: the caller never notices."""
    fake.faults = [fault, fault]

    slots = await client.get_slots(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2050, 9, 5, tzinfo=UTC),
        end=datetime(2050, 9, 6, tzinfo=UTC),
    )

    assert len(slots) == 2
    assert fake.attempts == 3


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "60"}],
    ids=["no-hint", "blocked-for-a-minute"],
)
async def test_a_429_is_not_retried_into_cal_coms_block(
    client: CalcomClient, fake: FakeCalcom, headers: dict[str, str]
) -> None:
    """Cal.com's 429 carries no Retry-After and blocks the key a minute: one attempt only."""
    fake.faults = [httpx.Response(429, headers=headers, json={"status": "error"})] * 3

    with pytest.raises(CalcomRateLimited):
        await client.get_slots(
            event_type_id=EVENT_TYPE_ID,
            start=datetime(2050, 9, 5, tzinfo=UTC),
            end=datetime(2050, 9, 6, tzinfo=UTC),
        )

    assert fake.attempts == 1


async def test_reads_give_up_after_max_attempts_with_the_last_error(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    fake.faults = [_error(503, "down")] * 10

    with pytest.raises(CalcomUnavailable) as caught:
        await client.get_booking("uid-1")
    assert fake.attempts == 3
    assert caught.value.ambiguous is False


async def test_read_timeouts_are_retried(client: CalcomClient, fake: FakeCalcom) -> None:
    fake.faults = [httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")]

    assert await client.list_bookings() == []
    assert fake.attempts == 3


async def test_client_errors_on_reads_are_not_retried(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    """A 404 will not turn into a 200 by asking again."""
    with pytest.raises(CalcomNotFound):
        await client.get_booking("nope")
    assert fake.attempts == 1


async def test_rate_limit_wait_hint_is_honoured_outside_testing_mode(
    fake: FakeCalcom,
) -> None:
    """With a zero hint the retry happens at once even with real backoff switched on."""
    fake.faults = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={"status": "error"}),
    ]
    with stamina.set_testing(False):
        async with CalcomClient(
            api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(fake)
        ) as client:
            started = datetime.now(UTC)
            await client.list_bookings()
    assert fake.attempts == 2
    assert datetime.now(UTC) - started < timedelta(seconds=0.1)


@pytest.mark.parametrize(
    "fault",
    [
        _error(500, "Internal server error"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
    ],
)
async def test_a_create_that_may_have_committed_is_not_retried_and_says_ambiguous(
    client: CalcomClient, fake: FakeCalcom, fault: Fault
) -> None:
    """Re-posting blindly could book twice; the caller looks the booking up instead."""
    fake.faults = [fault]

    with pytest.raises(CalcomUnavailable) as caught:
        await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    assert caught.value.ambiguous is True
    assert fake.attempts == 1


@pytest.mark.parametrize(
    "fault",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("pool")],
)
async def test_a_create_that_never_left_is_not_ambiguous(
    client: CalcomClient, fake: FakeCalcom, fault: Exception
) -> None:
    fake.faults = [fault]

    with pytest.raises(CalcomUnavailable) as caught:
        await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    assert caught.value.ambiguous is False
    assert fake.attempts == 1


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"status": "success"}', b'{"status": "success", "data": {"id": 1}}'],
)
async def test_a_create_answered_with_an_unreadable_201_is_ambiguous(
    client: CalcomClient, fake: FakeCalcom, body: bytes
) -> None:
    """Something was probably booked, but we cannot tell what."""
    fake.faults = [httpx.Response(201, content=body)]

    with pytest.raises(CalcomUnavailable) as caught:
        await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    assert caught.value.ambiguous is True
    assert caught.value.status_code == 201


async def test_cancel_and_reschedule_are_not_retried_either(
    client: CalcomClient, fake: FakeCalcom
) -> None:
    fake.faults = [_error(503, "down"), _error(503, "down")]

    with pytest.raises(CalcomUnavailable):
        await client.cancel_booking("uid-1")
    with pytest.raises(CalcomUnavailable):
        await client.reschedule_booking("uid-1", MONDAY_11_BERLIN)
    assert fake.attempts == 2


# -- events for metrics -----------------------------------------------------------------------


async def test_every_attempt_reports_an_event_with_the_path_template(
    client: CalcomClient, fake: FakeCalcom, events: list[CalcomRequestEvent]
) -> None:
    fake.faults = [_error(503, "down"), httpx.ReadTimeout("slow")]

    with pytest.raises(CalcomNotFound):
        await client.get_booking("uid-404")

    assert [(e.method, e.endpoint, e.status_code, e.error_kind) for e in events] == [
        ("GET", "/bookings/{uid}", 503, "CalcomUnavailable"),
        ("GET", "/bookings/{uid}", None, "CalcomUnavailable"),
        ("GET", "/bookings/{uid}", 404, "CalcomNotFound"),
    ]
    assert all(e.elapsed_seconds >= 0 for e in events)


async def test_a_failing_metrics_hook_does_not_fail_the_booking(fake: FakeCalcom) -> None:
    def broken(event: CalcomRequestEvent) -> None:
        raise RuntimeError("metrics backend down")

    async with CalcomClient(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(fake), on_request=broken
    ) as client:
        booking = await client.create_booking(_new_booking(MONDAY_11_BERLIN))
    assert booking.uid == "uid-1"


# -- secrets and personal data -----------------------------------------------------------------


def _leaky(request: httpx.Request) -> httpx.Response:
    """A server that echoes everything it got into its error message, key included."""
    echoed = f"{request.content.decode()} {request.url} {dict(request.headers)}"
    return _error(401, f"Invalid key {API_KEY}; request was {echoed}")


LEAKY_CASES: list[Callable[[httpx.Request], httpx.Response]] = [
    _leaky,
    lambda request: _error(500, f"crashed on {request.url} for +49 170 1234567"),
    lambda request: _error(400, f"erika@example.org is invalid; auth {request.headers}"),
]


@pytest.mark.parametrize("handler", LEAKY_CASES)
async def test_no_error_message_or_repr_reveals_the_key_or_the_attendee(
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    """Errors end up in logs and tracebacks; neither may carry credentials or personal data."""
    async with CalcomClient(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(handler)
    ) as client:
        assert API_KEY not in repr(client)
        errors: list[CalcomError] = []
        for call in (
            client.create_booking(_new_booking(MONDAY_11_BERLIN, email="erika@example.org")),
            client.list_bookings(attendee_email="erika@example.org"),
        ):
            with pytest.raises(CalcomError) as caught:
                await call
            errors.append(caught.value)

    for error in errors:
        for text in (str(error), repr(error), error.message):
            assert API_KEY not in text
            assert "0123456789abcdef" not in text
            assert "erika@example.org" not in text
            assert "erika%40example.org" not in text
            assert "1234567" not in text
            assert "Mustermann" not in text


async def test_transport_failures_name_the_endpoint_but_not_the_query(fake: FakeCalcom) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    async with CalcomClient(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(refuse), max_attempts=1
    ) as client:
        with pytest.raises(CalcomUnavailable) as caught:
            await client.list_bookings(attendee_email="erika@example.org")
    assert "/bookings" in caught.value.message
    assert "erika" not in caught.value.message


def test_the_calcom_package_exports_exactly_what_all_lists() -> None:
    """Every name in ``__all__`` exists and nothing else is public."""
    import retell_booking_tools.calcom as calcom

    resolved = {name: getattr(calcom, name) for name in calcom.__all__}
    public = {
        name
        for name, value in vars(calcom).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and name != "TYPE_CHECKING"
    }
    assert set(resolved) == public
