"""``find_appointments``: the caller hears their own upcoming appointments, as Cal.com has them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from agent_backend import CALLER, OTHER_CALLER, World

from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.testing import Fault, FaultKind


async def _find(
    world: World,
    call_id: str = "call_find",
    from_number: str | None = "+4915112345678",
    **args: Any,
) -> dict[str, Any]:
    return await world.tool("find_appointments", args, call_id=call_id, from_number=from_number)


async def test_the_callers_appointments_are_listed_soonest_first(world: World) -> None:
    """Both upcoming appointments, with their booking uids, and a message naming them."""
    later = await world.book("call_1", at="14:00")
    sooner = await world.book("call_2", at="11:00")

    answer = await _find(world)

    assert answer["status"] == "found"
    assert [a["booking_uid"] for a in answer["appointments"]] == [
        sooner["appointment"]["booking_uid"],
        later["appointment"]["booking_uid"],
    ]
    assert answer["appointments"][0]["start"] == "2025-10-10T11:00:00+02:00"
    assert answer["message"] == (
        "You have 2 upcoming appointments: Friday, October 10 at 11:00 AM and 2:00 PM."
    )


@pytest.mark.parametrize("language", ["de"])
async def test_one_appointment_is_named_with_its_date_the_german_way(world: World) -> None:
    await world.book("call_1")

    answer = await _find(world)

    assert answer["message"] == "Ihr nächster Termin ist am 10.10.2025 um 11:00 Uhr."


async def test_a_lookup_links_nothing_and_changes_nothing(world: World) -> None:
    """Reading is not touching: the appointment's history stays as it was."""
    booked = await world.book("call_1")

    await _find(world)

    assert await world.links_of(booked["appointment"]["booking_uid"]) == {"call_1": "original"}
    assert await world.repository.links_for_call("call_find") == []
    assert world.calcom_writes() == ["/v2/bookings"]


async def test_a_caller_without_appointments_hears_none_and_cal_com_is_not_asked(
    world: World,
) -> None:
    answer = await _find(world)

    assert answer["status"] == "none"
    assert "appointments" not in answer
    assert world.calcom.requests == []


async def test_another_callers_appointments_are_never_listed(world: World) -> None:
    """Not by calling from one's own number, nor by saying the other caller's number."""
    await world.book("call_1", from_number=OTHER_CALLER)

    own = await _find(world)
    claimed = await _find(world, "call_claim", phone=OTHER_CALLER)

    assert own["status"] == claimed["status"] == "none"
    assert "appointments" not in claimed


async def test_a_phone_said_aloud_never_identifies_a_caller_whose_call_has_no_number(
    world: World,
) -> None:
    """A web call carries no number; saying someone's number lists nothing of theirs."""
    booked = await world.book("call_1")

    answer = await _find(world, from_number=None, phone="0151 12345678")

    assert answer["status"] == "invalid"
    assert answer["field"] == "booking_reference"
    assert booked["appointment"]["booking_uid"] not in str(answer)
    assert world.calcom.requests[-1].method == "POST"


async def test_an_appointment_cancelled_only_in_cal_com_is_left_out_and_recorded(
    world: World,
) -> None:
    """The store is re-checked with Cal.com: a cancelled booking is never reported."""
    booked = await world.book("call_1")
    world.calcom.cancel_booking(booked["appointment"]["booking_uid"])

    answer = await _find(world)

    assert answer["status"] == "none"
    stored = await world.repository.get_appointment(booked["appointment"]["id"])
    assert stored is not None
    assert stored.status is AppointmentStatus.CANCELLED


async def test_an_appointment_moved_only_in_cal_com_is_followed_to_its_new_time(
    world: World,
) -> None:
    """The new booking is listed and stored, related to the old one."""
    booked = await world.book("call_1")
    old_uid = booked["appointment"]["booking_uid"]
    new = world.calcom.reschedule_booking(old_uid, datetime(2025, 10, 10, 13, 0, tzinfo=UTC))

    answer = await _find(world)

    assert answer["status"] == "found"
    assert [a["booking_uid"] for a in answer["appointments"]] == [new.uid]
    assert answer["appointments"][0]["start"] == "2025-10-10T15:00:00+02:00"
    stored_new = await world.repository.get_appointment_by_uid(new.uid)
    stored_old = await world.repository.get_appointment_by_uid(old_uid)
    assert stored_new is not None
    assert stored_new.rescheduled_from_uid == old_uid
    assert stored_old is not None
    assert stored_old.status is AppointmentStatus.RESCHEDULED


@pytest.mark.parametrize(
    ("from_number", "args", "field"),
    [(None, {}, "booking_reference"), (None, {"email": "not-an-email"}, "booking_reference")],
)
async def test_a_caller_who_cannot_be_identified_is_asked_again(
    world: World, from_number: str | None, args: dict[str, str], field: str
) -> None:
    answer = await _find(world, from_number=from_number, **args)

    assert answer["status"] == "invalid"
    assert answer["field"] == field
    assert world.calcom.requests == []


async def test_cal_com_failing_is_error_and_lists_nothing(world: World) -> None:
    """When the stored appointments cannot be re-checked, nothing is claimed."""
    await world.book("call_1")
    world.calcom.inject(Fault(kind=FaultKind.CONNECT_ERROR, method="GET", times=10))

    answer = await _find(world)

    assert answer["status"] == "error"
    assert "appointments" not in answer


async def test_a_retried_delivery_replays_the_same_list(world: World) -> None:
    """Retell's retry of the invocation hears the same answer and Cal.com is not asked again."""
    await world.book("call_1")
    invocation = world.retell.start_call("call_find", from_number=CALLER).invoke(
        "find_appointments", {}
    )
    first = await invocation.deliver()
    requests = len(world.calcom.requests)

    again = await invocation.deliver()

    assert first.json()["status"] == "found"
    assert again.json() == first.json()
    assert len(world.calcom.requests) == requests


async def test_without_a_transcript_a_repeated_look_up_asks_cal_com_afresh(world: World) -> None:
    """Without tool calls in the call object nothing tells a retry: the list is read again."""
    booked = await world.book("call_1")
    first = await _find(world)
    world.calcom.cancel_booking(booked["appointment"]["booking_uid"])

    again = await _find(world)

    assert first["status"] == "found"
    assert again["status"] == "none"
