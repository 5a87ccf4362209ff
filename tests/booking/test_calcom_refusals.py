"""Cal.com's refusals heard honestly: too soon, too far, the booking limit, unknown ones."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from agent_backend import EVENT_TYPE_ID, World

from retell_booking_tools.booking.attendees import attendee_email
from retell_booking_tools.testing import BusinessHours, EventTypeSpec, Fault, FaultKind


def _configure(world: World, **rules: Any) -> None:
    """Give the booked event type Cal.com rules (notice, window, limit) from now on."""
    world.calcom.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
            ),
            **rules,
        )
    )


async def _reschedule(world: World, uid: str, date: str, at: str) -> dict[str, Any]:
    return await world.tool(
        "reschedule_appointment",
        {"booking_uid": uid, "date": date, "time": at},
        call_id="call_move",
    )


# Wednesday 2025-10-08 22:21 in Berlin. Two days' notice: nothing before Friday 22:21.
TWO_DAYS = 48 * 60


async def test_a_start_inside_the_minimum_notice_is_unavailable_with_the_earliest_free_starts(
    world: World,
) -> None:
    """Not ``error``: Cal.com's "too soon" sentence is a refusal of the start."""
    _configure(world, minimum_booking_notice_minutes=TWO_DAYS)

    answer = await world.book("call_1", date="2025-10-10", at="11:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"] == [
        "2025-10-13T09:00:00+02:00",
        "2025-10-13T10:00:00+02:00",
        "2025-10-13T11:00:00+02:00",
    ]
    assert answer["message"].startswith("That time is too soon to book; the earliest I can offer")
    assert world.calcom.bookings == []


async def test_a_start_past_the_booking_window_is_unavailable_with_the_latest_free_starts(
    world: World,
) -> None:
    _configure(world, booking_window_days=2)

    answer = await world.book("call_1", date="2025-10-13", at="11:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"] == [
        "2025-10-10T14:00:00+02:00",
        "2025-10-10T15:00:00+02:00",
        "2025-10-10T16:00:00+02:00",
    ]
    assert "too far ahead" in answer["message"]


@pytest.mark.parametrize("language", ["de"])
async def test_german_says_that_a_start_is_too_soon(world: World) -> None:
    _configure(world, minimum_booking_notice_minutes=TWO_DAYS)

    answer = await world.book("call_1", date="2025-10-10", at="11:00")

    assert answer["status"] == "unavailable"
    assert answer["message"].startswith("Dieser Termin ist zu kurzfristig")


async def test_moving_an_appointment_inside_the_notice_is_unavailable_and_leaves_it(
    world: World,
) -> None:
    booked = await world.book("call_1", date="2025-10-13", at="11:00")
    _configure(world, minimum_booking_notice_minutes=TWO_DAYS)

    answer = await _reschedule(world, booked["appointment"]["booking_uid"], "2025-10-10", "14:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"][0] == "2025-10-13T09:00:00+02:00"
    assert "too soon" in answer["message"]
    assert world.calcom.booking(booked["appointment"]["booking_uid"]).status == "accepted"


async def test_moving_an_appointment_past_the_booking_window_is_unavailable(
    world: World,
) -> None:
    booked = await world.book("call_1", date="2025-10-09", at="11:00")
    _configure(world, booking_window_days=2)

    answer = await _reschedule(world, booked["appointment"]["booking_uid"], "2025-10-13", "11:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"] == [
        "2025-10-10T14:00:00+02:00",
        "2025-10-10T15:00:00+02:00",
        "2025-10-10T16:00:00+02:00",
    ]
    assert "too far ahead" in answer["message"]


async def test_the_per_attendee_limit_is_its_own_answer_offering_to_move_the_held_one(
    world: World,
) -> None:
    """Cal.com names the booking to move; the caller hears it, and nothing is booked."""
    _configure(world, max_active_bookings_per_attendee=1, offer_reschedule_when_limited=True)
    first = await world.book("call_1", date="2025-10-10", at="11:00")

    answer = await world.book("call_2", date="2025-10-10", at="14:00")

    assert answer["status"] == "limit_reached"
    assert answer["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
    assert answer["message"] == (
        "You already have as many appointments as this service allows, so I can't book "
        "another one. I could move your appointment on Friday, October 10, 2025 at 11:00 AM "
        "instead. Would you like that?"
    )
    assert len(world.calcom.bookings) == 1


async def test_the_limit_without_a_booking_we_hold_offers_to_look_them_up(world: World) -> None:
    """The caller's booking was made elsewhere: nothing about it is invented."""
    _configure(world, max_active_bookings_per_attendee=1)
    world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2025, 10, 9, 9, 0, tzinfo=UTC),
        attendee_name="Max",
        attendee_email=attendee_email("+4915112345678"),
        attendee_phone_number="+4915112345678",
    )

    answer = await world.book("call_2", date="2025-10-10", at="14:00")

    assert answer["status"] == "limit_reached"
    assert "appointment" not in answer
    assert answer["message"].endswith("shall I look them up?")


async def test_a_repeat_refused_by_the_limit_is_still_existing(world: World) -> None:
    """The caller's own booking at that start counts as theirs, whatever Cal.com says."""
    _configure(world, max_active_bookings_per_attendee=1)
    first = await world.book("call_1")

    again = await world.book("call_2")

    assert again["status"] == "existing"
    assert again["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]


async def test_an_unknown_refusal_is_error_and_its_message_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """So the refusal table can grow; nothing is claimed."""
    world.calcom.inject(
        Fault(FaultKind.SERVER_ERROR, method="POST", path="/v2/bookings", status_code=400)
    )

    answer = await world.book("call_1")

    assert answer["status"] == "error"
    logged = [r.getMessage() for r in caplog.records if "refusal table" in r.getMessage()]
    assert logged == [
        "Cal.com refused with an answer the refusal table does not know: "
        "Cal.com answered 400 to POST /bookings: Bad Request"
    ]
