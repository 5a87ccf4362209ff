"""Each rule of the booking decision, as the caller hears it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, OTHER_CALLER, World, open_world

from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.repository.protocol import Repository

TEN_OCTOBER_11 = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


async def test_same_slot_after_cancellation_is_booked_anew(world: World) -> None:
    """A cancelled appointment is not `existing`: the same start books a new appointment."""
    first = await world.book("call_1")
    world.calcom.cancel_booking(first["appointment"]["booking_uid"], reason="caller cancelled")
    appointment = await world.repository.get_appointment(first["appointment"]["id"])
    assert appointment is not None
    await world.repository.set_appointment_status(appointment.id, AppointmentStatus.CANCELLED)

    second = await world.book("call_2")

    assert second["status"] == "booked"
    assert second["appointment"]["booking_uid"] != first["appointment"]["booking_uid"]
    assert world.calcom.created_bookings_count() == 2


async def test_cancellation_made_only_in_calcom_is_noticed_and_booked_anew(world: World) -> None:
    """The store still says active, but Cal.com cancelled it: never answer `existing`."""
    first = await world.book("call_1")
    world.calcom.cancel_booking(first["appointment"]["booking_uid"])

    second = await world.book("call_2")

    assert second["status"] == "booked"
    old = await world.repository.get_appointment(first["appointment"]["id"])
    assert old is not None
    assert old.status is AppointmentStatus.CANCELLED


async def test_same_time_of_day_after_the_old_appointment_is_past_is_booked(
    world: World,
) -> None:
    """A week later, the same weekday and time is a new appointment, not `existing`."""
    first = await world.book("call_1")
    world.clock.set(datetime(2025, 10, 13, 8, 0, tzinfo=UTC))

    second = await world.book("call_2", date="2025-10-17")

    assert second["status"] == "booked"
    assert second["appointment"]["id"] != first["appointment"]["id"]


async def test_same_customer_different_slot_is_booked_as_new_appointment(world: World) -> None:
    """Two slots, two appointments, each linked to its own call as original."""
    first = await world.book("call_1")
    second = await world.book("call_2", at="14:00")

    assert (first["status"], second["status"]) == ("booked", "booked")
    assert first["appointment"]["booking_uid"] != second["appointment"]["booking_uid"]
    assert await world.links_of(second["appointment"]["booking_uid"]) == {"call_2": "original"}


async def test_slot_held_by_another_customer_is_refused_without_naming_them(
    world: World,
) -> None:
    """Another caller's slot: no booking, no trace of who holds it, free times offered."""
    await world.book("call_1")
    answer = await world.book("call_2", from_number=OTHER_CALLER)

    assert answer["status"] in ("conflict", "unavailable")
    assert "appointment" not in answer
    assert CALLER not in str(answer)
    assert "Mustermann" not in answer["message"]
    assert 1 <= len(answer["alternatives"]) <= 3
    assert world.calcom.created_bookings_count() == 1


@pytest.mark.parametrize("requires_confirmation", [False, True])
async def test_booking_uid_held_for_another_customer_is_refused_and_reveals_nothing(
    world: World,
) -> None:
    """Two callers sharing one email: Cal.com points at the first caller's booking.

    The store is made stale on purpose, so the decision rests on Cal.com's answer (a 400
    and a look-up, or a 201 carrying the first caller's uid). A spoken email is no claim to
    a booking, so the second caller is refused either way, learning nothing about it.
    """
    first = await world.book("call_1", email="family@example.org")
    assert first["status"] == "booked"
    await world.repository.set_appointment_status(
        first["appointment"]["id"], AppointmentStatus.CANCELLED
    )

    answer = await world.book("call_2", from_number=OTHER_CALLER, email="family@example.org")

    assert answer["status"] in ("conflict", "unavailable")
    assert "appointment" not in answer
    assert first["appointment"]["booking_uid"] not in str(answer)
    assert "family" not in str(answer)
    assert await world.repository.links_for_call("call_2") == []
    assert world.calcom.created_bookings_count() == 1


async def test_booking_cal_com_holds_but_store_does_not_is_existing_after_400(
    world: World,
) -> None:
    """Cal.com refuses the repeat with 400; the look-up finds the caller's booking."""
    seeded = world.calcom.seed_booking(
        event_type_id=2563193,
        start=TEN_OCTOBER_11,
        attendee_name="Max Mustermann",
        attendee_email="tel-4915112345678@phone.invalid",
        created_at=world.clock() - timedelta(days=1),
    )

    answer = await world.book("call_766")

    assert answer["status"] == "existing"
    assert answer["appointment"]["booking_uid"] == seeded.uid
    assert await world.links_of(seeded.uid) == {"call_766": "duplicate_attempt"}
    assert world.calcom.created_bookings_count() == 0


@pytest.mark.parametrize("requires_confirmation", [True])
async def test_booking_cal_com_holds_but_store_does_not_is_existing_after_201(
    world: World,
) -> None:
    """Cal.com answers 201 with the day-old booking: a 201 is not proof of a new booking."""
    seeded = world.calcom.seed_booking(
        event_type_id=2563193,
        start=TEN_OCTOBER_11,
        attendee_name="Max Mustermann",
        attendee_email="tel-4915112345678@phone.invalid",
        created_at=world.clock() - timedelta(days=1),
        status="pending",
    )

    answer = await world.book("call_766")

    assert answer["status"] == "existing"
    assert answer["appointment"]["booking_uid"] == seeded.uid
    assert world.booking_posts() == 1
    assert world.calcom.created_bookings_count() == 0
    assert await world.links_of(seeded.uid) == {"call_766": "duplicate_attempt"}


def _someone_else_holds_ten_october_11(world: World) -> None:
    """A Cal.com booking at the test's start that the store knows nothing of."""
    world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=TEN_OCTOBER_11,
        attendee_name="Someone Else",
        attendee_email="someone@example.org",
        created_at=world.clock() - timedelta(days=2),
    )


async def test_slot_taken_upstream_by_someone_unknown_is_unavailable_with_alternatives(
    world: World,
) -> None:
    """Cal.com refuses a start held by another attendee: `unavailable`, nearby free times."""
    _someone_else_holds_ten_october_11(world)

    answer = await world.book("call_1")

    assert answer["status"] == "unavailable"
    assert "appointment" not in answer
    assert "someone" not in str(answer).lower()
    alternatives = [datetime.fromisoformat(a) for a in answer["alternatives"]]
    assert 1 <= len(alternatives) <= 3
    assert TEN_OCTOBER_11 not in alternatives
    assert "That time is not available. I could offer" in answer["message"]


class _LookUpWaitsForAlternatives(httpx.AsyncBaseTransport):
    """Answers the booking look-up only once the alternatives request has arrived too."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._slots_asked = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/slots":
            self._slots_asked.set()
        elif request.method == "GET" and request.url.path == "/v2/bookings":
            await asyncio.wait_for(self._slots_asked.wait(), timeout=2)
        return await self._inner.handle_async_request(request)


async def test_a_refused_start_asks_for_the_look_up_and_the_alternatives_at_once(
    repository: Repository,
) -> None:
    """After Cal.com refuses, the caller waits one round trip, not two: if the look-up
    were sent before the alternatives, it would never be answered and the call would fail."""
    async with open_world(repository, wrap_calcom=_LookUpWaitsForAlternatives) as world:
        _someone_else_holds_ten_october_11(world)

        answer = await world.book("call_1")

        assert answer["status"] == "unavailable"
        assert len(answer["alternatives"]) == 3
        first, *others = [(r.method, r.path) for r in world.calcom.requests]
        assert first == ("POST", "/v2/bookings")
        assert sorted(others) == [
            ("GET", "/v2/bookings"),
            ("GET", "/v2/slots"),
        ]
