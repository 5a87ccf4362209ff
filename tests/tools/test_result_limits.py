"""Retell hands the model at most 15,000 characters of a result: every answer fits whole."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import httpx
from agent_backend import CALLER, World

from retell_booking_tools.testing import BusinessHours, EventTypeSpec
from retell_booking_tools.tools.base import MAX_RESULT_CHARS
from retell_booking_tools.tools.check_availability import MAX_LISTED_SLOTS

FIVE_MINUTE_EVENT_TYPE = 77


async def _book_many(world: World, count: int) -> None:
    """``count`` appointments of the caller, eight a day on the weekdays after DAY_ONE."""
    days = ["2025-10-10", "2025-10-13", "2025-10-14", "2025-10-15", "2025-10-16", "2025-10-17"]
    for index in range(count):
        day, hour = days[index // 8], 9 + index % 8
        answer = await world.book(f"call_book_{index}", date=day, at=f"{hour:02d}:00")
        assert answer["status"] == "booked", answer


async def test_a_caller_with_many_appointments_hears_the_soonest_and_how_many_there_are(
    world: World,
) -> None:
    """Forty appointments: the answer lists the ten soonest, counts the rest, names three."""
    await _book_many(world, 40)

    response = await world.call_tool("find_appointments", {}, call_id="call_find")

    assert len(response.text) < MAX_RESULT_CHARS
    answer = response.json()
    assert answer["status"] == "found"
    assert len(answer["appointments"]) == 10
    assert answer["appointments"][0]["start"] == "2025-10-10T09:00:00+02:00"
    assert answer["more_appointments"] == 30
    assert answer["message"] == (
        "You have 40 upcoming appointments. The soonest are "
        "Friday, October 10 at 9:00 AM, 10:00 AM and 11:00 AM."
    )


async def test_a_short_list_is_read_out_whole_and_counts_nothing_more(world: World) -> None:
    await _book_many(world, 2)

    answer = await world.tool("find_appointments", {}, call_id="call_find")

    assert len(answer["appointments"]) == 2
    assert "more_appointments" not in answer


def _add_round_the_clock_event_type(
    world: World, *, weekdays: frozenset[int], interval_minutes: int | None = None
) -> dict[str, Any]:
    """An event type of 5-minute appointments open all day on ``weekdays``; its call object."""
    world.calcom.add_event_type(
        EventTypeSpec(
            id=FIVE_MINUTE_EVENT_TYPE,
            title="Quick call",
            length_minutes=5,
            slot_interval_minutes=interval_minutes,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(weekdays=weekdays, opens=time(0), closes=time(23, 59)),
        )
    )
    return world.retell.call_object(
        "call_slots",
        from_number=CALLER,
        retell_llm_dynamic_variables={"booking_event_type_id": str(FIVE_MINUTE_EVENT_TYPE)},
    )


async def _check_day(world: World, call: dict[str, Any], **args: str) -> httpx.Response:
    response = await world.retell.function_call("check_availability", args, call=call)
    assert response.status_code == 200, response.text
    return response


async def test_a_day_of_five_minute_slots_lists_some_spread_over_it_and_counts_the_rest(
    world: World,
) -> None:
    """A day open around the clock: 48 starts listed from first to last, the rest counted."""
    call = _add_round_the_clock_event_type(world, weekdays=frozenset(range(7)))

    response = await _check_day(world, call, date="2025-10-10")

    answer = response.json()
    assert len(response.text) < MAX_RESULT_CHARS
    assert answer["status"] == "available"
    assert len(answer["slots"]) == MAX_LISTED_SLOTS
    assert answer["slots"][0] == "2025-10-10T00:00:00+02:00"
    assert answer["slots"][-1] > "2025-10-10T23:00:00+02:00"
    assert len(answer["slots"]) + answer["more_slots"] > 250


async def test_a_closed_day_between_two_open_five_minute_days_fits_in_one_result(
    world: World,
) -> None:
    """A Sunday between round-the-clock days: the nearest days are listed in part, under 15,000."""
    call = _add_round_the_clock_event_type(world, weekdays=frozenset(range(6)))

    response = await _check_day(world, call, date="2025-10-12")

    answer = response.json()
    assert len(response.text) < MAX_RESULT_CHARS
    assert answer["status"] == "unavailable"
    assert len(answer["slots"]) == MAX_LISTED_SLOTS
    days = {slot[:10] for slot in answer["slots"]}
    assert days == {"2025-10-11", "2025-10-13"}
    assert answer["more_slots"] > 2 * 250 - MAX_LISTED_SLOTS


async def test_a_one_minute_slot_interval_fits_in_one_result(world: World) -> None:
    """Starts every minute around the clock, over a thousand of them, stay under the limit."""
    call = _add_round_the_clock_event_type(world, weekdays=frozenset(range(7)), interval_minutes=1)

    response = await _check_day(world, call, date="2025-10-10")

    answer = response.json()
    assert len(response.text) < MAX_RESULT_CHARS
    assert len(answer["slots"]) == MAX_LISTED_SLOTS
    assert len(answer["slots"]) + answer["more_slots"] > 1000


async def test_a_free_start_left_out_of_a_long_list_is_booked_by_asking_cal_com(
    world: World,
) -> None:
    """A day listed in part is not taken as listed whole: an unlisted free start books."""
    call = _add_round_the_clock_event_type(world, weekdays=frozenset(range(7)))
    listed = (await _check_day(world, call, date="2025-10-10")).json()["slots"]
    unlisted = next(
        f"{hour:02d}:{minute:02d}"
        for hour in range(9, 18)
        for minute in range(0, 60, 5)
        if f"2025-10-10T{hour:02d}:{minute:02d}:00+02:00" not in listed
    )
    booking = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": unlisted}

    response = await world.retell.function_call("collect_appointment_data", booking, call=call)

    answer = response.json()
    assert answer["status"] == "booked", answer
    assert answer["appointment"]["start"] == f"2025-10-10T{unlisted}:00+02:00"
    assert world.calcom.created_bookings_count() == 1


async def test_a_taken_start_left_out_of_a_long_list_is_unavailable_as_cal_com_says(
    world: World,
) -> None:
    """An unlisted start that is not free is refused by Cal.com, not guessed from the list."""
    call = _add_round_the_clock_event_type(world, weekdays=frozenset(range(7)))
    world.calcom.seed_booking(
        event_type_id=FIVE_MINUTE_EVENT_TYPE,
        start=datetime(2025, 10, 10, 8, 5, tzinfo=UTC),
        attendee_name="Someone Else",
        attendee_email="someone@example.org",
    )
    listed = (await _check_day(world, call, date="2025-10-10")).json()["slots"]
    booking = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "10:05"}
    before = len(world.calcom.requests)

    response = await world.retell.function_call("collect_appointment_data", booking, call=call)

    assert "2025-10-10T10:05:00+02:00" not in listed
    assert response.json()["status"] == "unavailable"
    assert "/v2/bookings" in [request.path for request in world.calcom.requests[before:]]
    assert world.calcom.created_bookings_count() == 0
