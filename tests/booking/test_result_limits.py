"""Retell hands the model at most 15,000 characters of a result: every answer fits whole."""

from __future__ import annotations

from datetime import time

from agent_backend import World

from retell_booking_tools.testing import BusinessHours, EventTypeSpec
from retell_booking_tools.tools.base import MAX_RESULT_CHARS

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


async def test_a_day_of_five_minute_slots_fits_in_one_result(world: World) -> None:
    """Every start of a day open around the clock, listed whole, stays under the limit."""
    world.calcom.add_event_type(
        EventTypeSpec(
            id=FIVE_MINUTE_EVENT_TYPE,
            title="Quick call",
            length_minutes=5,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(7)), opens=time(0), closes=time(23, 59)
            ),
        )
    )
    call = world.retell.call_object(
        "call_slots",
        from_number="+4915112345678",
        retell_llm_dynamic_variables={"booking_event_type_id": str(FIVE_MINUTE_EVENT_TYPE)},
    )

    response = await world.retell.function_call(
        "check_availability", {"date": "2025-10-10"}, call=call
    )

    assert response.status_code == 200
    assert len(response.json()["slots"]) > 250
    assert len(response.text) < MAX_RESULT_CHARS
