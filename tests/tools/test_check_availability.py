"""``check_availability``: what the caller hears about free times, and what it saves later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_backend import CALLER, OTHER_CALLER, RETELL_KEY, World, make_settings

from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import Fault, FaultKind, RetellSimulator

FRIDAY = "2025-10-10"
SATURDAY = "2025-10-11"
FRIDAY_SLOTS = [f"2025-10-10T{hour:02d}:00:00+02:00" for hour in range(9, 17)]


def _slot_requests(world: World) -> int:
    return sum(1 for r in world.calcom.requests if r.path == "/v2/slots")


async def _check(world: World, call_id: str = "call_1", **args: Any) -> dict[str, Any]:
    return await world.tool("check_availability", args, call_id=call_id)


async def test_a_free_day_lists_every_free_start_and_speaks_a_few(world: World) -> None:
    """All eight hours of Friday come back as ISO starts; the message names the day."""
    answer = await _check(world, date=FRIDAY)

    assert answer["status"] == "available"
    assert answer["slots"] == FRIDAY_SLOTS
    assert answer["message"] == (
        "On Friday, October 10 I have several free times, for example "
        "9 AM, 10 AM, 12 PM, 1 PM, 3 PM and 4 PM. Which would suit you?"
    )
    assert "appointment" not in answer
    assert _slot_requests(world) == 1
    assert world.calcom_writes() == []


async def test_a_taken_start_is_not_offered(world: World) -> None:
    """A start another caller booked is missing from the list, and nobody is named."""
    await world.book("call_0", from_number=OTHER_CALLER, at="11:00")

    answer = await _check(world, date=FRIDAY)

    assert "2025-10-10T11:00:00+02:00" not in answer["slots"]
    assert len(answer["slots"]) == 7
    assert "Mustermann" not in str(answer)


@pytest.mark.parametrize("language", ["de"])
async def test_german_speaks_the_times_the_german_way(world: World) -> None:
    """Hours without minutes, one "Uhr" at the end."""
    for hour in (9, 10, 12, 13, 15):
        await world.book(f"call_{hour}", from_number=OTHER_CALLER, at=f"{hour:02d}:00")

    answer = await _check(world, date=FRIDAY)

    assert (
        answer["message"]
        == "Am Freitag, 10. Oktober habe ich um 11, 14 und 16 Uhr frei. Was passt Ihnen?"
    )


async def test_a_free_time_asked_for_is_available_and_nothing_is_booked(world: World) -> None:
    """Asking is not booking: no write reaches Cal.com and the call is linked to nothing."""
    answer = await _check(world, date=FRIDAY, time="11:00")

    assert answer["status"] == "available"
    assert (
        answer["message"]
        == "Friday, October 10, 2025 at 11:00 AM is free. Shall I book it for you?"
    )
    assert world.calcom_writes() == []
    assert await world.repository.links_for_call("call_1") == []


async def test_a_taken_time_is_unavailable_with_the_nearest_free_starts(world: World) -> None:
    """The alternatives are the starts nearest to the one asked for."""
    await world.book("call_0", from_number=OTHER_CALLER, at="11:00")

    answer = await _check(world, date=FRIDAY, time="11:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"] == [
        "2025-10-10T09:00:00+02:00",
        "2025-10-10T10:00:00+02:00",
        "2025-10-10T12:00:00+02:00",
    ]
    assert answer["message"].startswith("That time is not available. I could offer Friday")


async def test_a_day_without_free_times_offers_the_nearest_days(world: World) -> None:
    """Saturday is closed: the slots of Friday and Monday are listed, the nearest offered."""
    answer = await _check(world, date=SATURDAY)

    assert answer["status"] == "unavailable"
    days = {slot[:10] for slot in answer["slots"]}
    assert days == {"2025-10-10", "2025-10-13"}
    assert answer["alternatives"] == [
        "2025-10-10T14:00:00+02:00",
        "2025-10-10T15:00:00+02:00",
        "2025-10-10T16:00:00+02:00",
    ]
    assert answer["message"].startswith(
        "I have nothing free on Saturday, October 11. I could offer"
    )
    assert _slot_requests(world) == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"date": "next friday"}, "date"),
        ({"date": "2025-10-07"}, "date"),
        ({"date": "2027-01-01"}, "date"),
        ({"date": FRIDAY, "time": "25:00"}, "time"),
        ({"time": "11:00"}, "date"),
    ],
)
async def test_unusable_input_is_invalid_naming_the_field_and_asks_nothing(
    world: World, args: dict[str, str], field: str
) -> None:
    """Nothing reaches Cal.com for a date or time that cannot be meant."""
    answer = await _check(world, **args)

    assert answer["status"] == "invalid"
    assert answer["field"] == field
    assert world.calcom.requests == []


async def test_calcom_failing_is_error_and_offers_nothing(world: World) -> None:
    """No slots are invented when Cal.com cannot be asked."""
    world.calcom.inject(Fault(kind=FaultKind.SERVER_ERROR, method="GET", path="/v2/slots", times=3))

    answer = await _check(world, date=FRIDAY)

    assert answer["status"] == "error"
    assert "slots" not in answer
    assert "free" not in answer["message"]


async def test_a_retried_delivery_replays_the_answer_without_asking_again(world: World) -> None:
    """Retell's retry hears the same slots; Cal.com is asked once."""
    invocation = world.retell.start_call("call_1", from_number=CALLER).invoke(
        "check_availability", {"date": FRIDAY}
    )
    first = await invocation.deliver()
    world.calcom.seed_booking(
        event_type_id=2563193,
        start=datetime(2025, 10, 10, 7, 0, tzinfo=UTC),
        attendee_name="Someone",
        attendee_email="someone@example.org",
    )
    world.clock.advance(timedelta(seconds=10))

    again = await invocation.deliver()

    assert again.json() == first.json()
    assert _slot_requests(world) == 1


async def test_booking_an_offered_start_costs_exactly_one_calcom_request(world: World) -> None:
    """The offered slots are remembered: booking one needs only the create request."""
    await _check(world, date=FRIDAY)
    before = len(world.calcom.requests)

    answer = await world.book("call_1", at="14:00")

    assert answer["status"] == "booked"
    assert [r.path for r in world.calcom.requests[before:]] == ["/v2/bookings"]


async def test_a_start_that_was_not_offered_is_unavailable_without_asking_again(
    world: World,
) -> None:
    """The remembered day answers: no create, no second slots request, offered alternatives."""
    await world.book("call_0", from_number=OTHER_CALLER, at="11:00")
    await _check(world, date=FRIDAY)
    before = len(world.calcom.requests)

    answer = await world.book("call_1", at="11:00")

    assert answer["status"] in ("unavailable", "conflict")
    assert answer["alternatives"] == [
        "2025-10-10T09:00:00+02:00",
        "2025-10-10T10:00:00+02:00",
        "2025-10-10T12:00:00+02:00",
    ]
    assert world.calcom.requests[before:] == []


async def test_a_start_not_offered_because_it_was_outside_the_hours_is_refused_locally(
    world: World,
) -> None:
    """08:00 was never free on Friday: `unavailable` from memory, Cal.com not asked."""
    await _check(world, date=FRIDAY)
    before = len(world.calcom.requests)

    answer = await world.book("call_1", at="08:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"][0] == "2025-10-10T09:00:00+02:00"
    assert world.calcom.requests[before:] == []


async def test_remembered_slots_never_book_a_start_cal_com_refuses(world: World) -> None:
    """Offered earlier, taken since: Cal.com's refusal wins and nothing is claimed."""
    await _check(world, date=FRIDAY)
    world.calcom.seed_booking(
        event_type_id=2563193,
        start=datetime(2025, 10, 10, 12, 0, tzinfo=UTC),
        attendee_name="Someone",
        attendee_email="someone@example.org",
        created_at=world.clock() - timedelta(minutes=1),
    )

    answer = await world.book("call_1", at="14:00")

    assert answer["status"] == "unavailable"
    assert "appointment" not in answer
    assert world.calcom.created_bookings_count() == 0


async def test_slots_offered_in_another_call_are_not_remembered(world: World) -> None:
    """Memory is per call: another call's booking asks Cal.com as usual."""
    await _check(world, "call_other", date=FRIDAY)

    answer = await world.book("call_1", at="08:00")

    assert answer["status"] == "unavailable"
    assert world.booking_posts() == 1


async def test_slots_offered_by_one_replica_are_remembered_by_another(world: World) -> None:
    """The memory is the store's record of the call, not a process cache."""
    second = await build_runtime(
        make_settings(),
        repository=world.repository,
        calcom_transport=world.calcom.transport,
        clock=world.clock,
    )
    other_replica = RetellSimulator.for_app(
        create_app(runtime=second, clock=world.clock), api_key=RETELL_KEY, clock=world.clock
    )
    try:
        await _check(world, date=FRIDAY)
        before = len(world.calcom.requests)
        call = other_replica.call_object("call_1", from_number=CALLER)

        refused = await other_replica.function_call(
            "collect_appointment_data",
            {"customer_name": "Max Mustermann", "date": FRIDAY, "time": "08:00"},
            call=call,
        )
        booked = await other_replica.function_call(
            "collect_appointment_data",
            {"customer_name": "Max Mustermann", "date": FRIDAY, "time": "15:00"},
            call=call,
        )
    finally:
        await other_replica.aclose()
        await second.calcom.aclose()

    assert refused.json()["status"] == "unavailable"
    assert booked.json()["status"] == "booked"
    assert [r.path for r in world.calcom.requests[before:]] == ["/v2/bookings"]


class TestTheCallersOwnSlotAsCalcomHasIt:
    """The caller's appointment is re-checked with Cal.com before they hear they hold it."""

    async def test_an_appointment_cancelled_in_cal_com_without_a_webhook_is_free_again(
        self, world: World
    ) -> None:
        """Cancelled in Cal.com, its webhook lost: the time is `available`, stored cancelled."""
        booked = await world.book("call_1")
        uid = booked["appointment"]["booking_uid"]
        world.calcom.cancel_booking(uid)

        answer = await _check(world, call_id="call_2", date=FRIDAY, time="11:00")

        assert answer["status"] == "available"
        assert "appointment" not in answer
        assert "already" not in answer["message"]
        stored = await world.repository.get_appointment_by_uid(uid)
        assert stored is not None
        assert stored.status is AppointmentStatus.CANCELLED

    async def test_a_day_whose_appointment_was_cancelled_in_cal_com_offers_its_time_again(
        self, world: World
    ) -> None:
        """Asked about the day, the caller is not told of an appointment Cal.com cancelled."""
        booked = await world.book("call_1")
        world.calcom.cancel_booking(booked["appointment"]["booking_uid"])

        answer = await _check(world, call_id="call_2", date=FRIDAY)

        assert answer["status"] == "available"
        assert "appointment" not in answer
        assert answer["slots"] == FRIDAY_SLOTS

    async def test_an_appointment_cal_com_still_has_is_existing(self, world: World) -> None:
        """Cal.com confirms it: the caller hears `existing` with their appointment."""
        booked = await world.book("call_1")
        uid = booked["appointment"]["booking_uid"]

        answer = await _check(world, call_id="call_2", date=FRIDAY, time="11:00")

        assert answer["status"] == "existing"
        assert answer["appointment"]["booking_uid"] == uid

    async def test_when_cal_com_cannot_be_asked_about_it_the_store_is_trusted(
        self, world: World
    ) -> None:
        """The re-check fails: the stored appointment still counts, as booking does."""
        booked = await world.book("call_1")
        uid = booked["appointment"]["booking_uid"]
        world.calcom.inject(
            Fault(kind=FaultKind.CONNECT_ERROR, method="GET", path=f"/v2/bookings/{uid}", times=5)
        )

        answer = await _check(world, call_id="call_2", date=FRIDAY, time="11:00")

        assert answer["status"] == "existing"
        stored = await world.repository.get_appointment_by_uid(uid)
        assert stored is not None
        assert stored.status is AppointmentStatus.ACTIVE
