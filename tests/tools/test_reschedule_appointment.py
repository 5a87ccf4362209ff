"""``reschedule_appointment``: moving the caller's own appointment, honestly and once."""

from __future__ import annotations

from typing import Any

import pytest
from agent_backend import OTHER_CALLER, World

from retell_booking_tools.booking.identity import spoken_reference
from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.testing import Fault, FaultKind


async def _reschedule(
    world: World,
    booking_uid: str,
    call_id: str = "call_move",
    *,
    date: str = "2025-10-10",
    at: str = "14:00",
    from_number: str | None = "+4915112345678",
) -> dict[str, Any]:
    return await world.tool(
        "reschedule_appointment",
        {"booking_uid": booking_uid, "date": date, "time": at},
        call_id=call_id,
        from_number=from_number,
    )


def _reschedule_posts(world: World) -> int:
    return sum(1 for path in world.calcom_writes() if path.endswith("/reschedule"))


async def test_a_moved_appointment_is_a_new_booking_related_to_the_old_one(world: World) -> None:
    """New uid and time in the answer, the old uid beside it, both stored and related."""
    booked = await world.book("call_1")
    old_uid = booked["appointment"]["booking_uid"]

    answer = await _reschedule(world, old_uid)

    assert answer["status"] == "rescheduled"
    assert answer["previous_booking_uid"] == old_uid
    new_uid = answer["appointment"]["booking_uid"]
    assert new_uid != old_uid
    assert answer["appointment"]["start"] == "2025-10-10T14:00:00+02:00"
    assert (
        answer["message"]
        == "Done: your appointment is now on Friday, October 10, 2025 at 2:00 PM. "
        f"Your booking reference is {spoken_reference(answer['appointment']['booking_reference'])}."
    )
    old = await world.repository.get_appointment_by_uid(old_uid)
    new = await world.repository.get_appointment_by_uid(new_uid)
    assert old is not None
    assert old.status is AppointmentStatus.RESCHEDULED
    assert new is not None
    assert new.status is AppointmentStatus.ACTIVE
    assert new.rescheduled_from_uid == old_uid
    assert new.customer_id == old.customer_id
    assert _reschedule_posts(world) == 1
    assert world.calcom.booking(new_uid).rescheduled_from_uid == old_uid


async def test_the_call_is_linked_to_both_the_old_and_the_new_appointment(world: World) -> None:
    booked = await world.book("call_1")
    old_uid = booked["appointment"]["booking_uid"]

    answer = await _reschedule(world, old_uid)

    new_uid = answer["appointment"]["booking_uid"]
    assert await world.links_of(old_uid) == {"call_1": "original", "call_move": "reschedule"}
    assert await world.links_of(new_uid) == {"call_move": "reschedule"}
    links = await world.repository.links_for_call("call_move")
    assert {link.metadata.get("rescheduled_from_uid") for link in links} == {old_uid, None}


@pytest.mark.parametrize("language", ["de"])
async def test_german_says_where_the_appointment_is_now(world: World) -> None:
    booked = await world.book("call_1")

    answer = await _reschedule(world, booked["appointment"]["booking_uid"])

    assert answer["message"] == (
        "Erledigt: Ihr Termin ist jetzt am 10.10.2025 um 14:00 Uhr. "
        f"Ihre Buchungsnummer ist {spoken_reference(answer['appointment']['booking_reference'])}."
    )


async def test_the_old_slot_can_be_booked_again_and_is_never_existing(world: World) -> None:
    """After the move, the old start is free: new bookings of it are `booked`."""
    booked = await world.book("call_1")
    await _reschedule(world, booked["appointment"]["booking_uid"])

    again = await world.book("call_2")

    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] != booked["appointment"]["booking_uid"]


async def test_another_callers_booking_is_answered_like_an_unknown_one_and_stays_untouched(
    world: World,
) -> None:
    """Naming someone else's uid reveals nothing, writes nothing, links nothing."""
    booked = await world.book("call_1", from_number=OTHER_CALLER)
    uid = booked["appointment"]["booking_uid"]

    answer = await _reschedule(world, uid)

    assert answer == await _reschedule(world, "no-such-booking", "call_unknown")
    assert answer["status"] == "not_found"
    assert "11:00" not in answer["message"]
    assert _reschedule_posts(world) == 0
    assert await world.links_of(uid) == {"call_1": "original"}
    stored = await world.repository.get_appointment_by_uid(uid)
    assert stored is not None
    assert stored.status is AppointmentStatus.ACTIVE


async def test_an_unknown_booking_uid_is_not_found_without_asking_cal_com(world: World) -> None:
    answer = await _reschedule(world, "no-such-booking")

    assert answer["status"] == "not_found"
    assert world.calcom.requests == []


async def test_a_cancelled_appointment_cannot_be_moved(world: World) -> None:
    booked = await world.book("call_1")
    await world.tool(
        "cancel_appointment",
        {"booking_uid": booked["appointment"]["booking_uid"]},
        call_id="call_cancel",
    )

    answer = await _reschedule(world, booked["appointment"]["booking_uid"])

    assert answer["status"] == "not_found"
    assert _reschedule_posts(world) == 0


@pytest.mark.parametrize(
    ("uid", "date", "at", "field"),
    [
        ("", "2025-10-10", "14:00", "booking_uid"),
        ("uid", "10/10/2025", "14:00", "date"),
        ("uid", "2025-10-10", "2 pm", "time"),
        ("uid", "2025-10-08", "09:00", "time"),
    ],
)
async def test_unusable_input_is_invalid_naming_the_field(
    world: World, uid: str, date: str, at: str, field: str
) -> None:
    """Nothing reaches Cal.com."""
    answer = await _reschedule(world, uid, date=date, at=at)

    assert answer["status"] == "invalid"
    assert answer["field"] == field
    assert world.calcom.requests == []


async def test_moving_to_the_time_it_already_has_is_invalid_and_changes_nothing(
    world: World,
) -> None:
    booked = await world.book("call_1")

    answer = await _reschedule(world, booked["appointment"]["booking_uid"], at="11:00")

    assert answer["status"] == "invalid"
    assert answer["field"] == "time"
    assert answer["message"].startswith("Your appointment is already at that time.")
    assert _reschedule_posts(world) == 0


async def test_a_taken_new_time_is_unavailable_and_the_appointment_stays(world: World) -> None:
    """Alternatives offered; the old appointment stands, nothing linked or stored."""
    booked = await world.book("call_1")
    await world.book("call_0", at="14:00", from_number=OTHER_CALLER)

    answer = await _reschedule(world, booked["appointment"]["booking_uid"])

    assert answer["status"] == "unavailable"
    assert "appointment" not in answer
    assert 1 <= len(answer["alternatives"]) <= 3
    assert "2025-10-10T14:00:00+02:00" not in answer["alternatives"]
    stored = await world.repository.get_appointment_by_uid(booked["appointment"]["booking_uid"])
    assert stored is not None
    assert stored.status is AppointmentStatus.ACTIVE
    assert await world.repository.links_for_call("call_move") == []


async def test_a_time_not_offered_earlier_in_the_call_is_unavailable_without_cal_com(
    world: World,
) -> None:
    """check_availability listed Friday; 08:00 was not on it."""
    booked = await world.book("call_1")
    await world.tool("check_availability", {"date": "2025-10-10"}, call_id="call_move")
    before = len(world.calcom.requests)

    answer = await _reschedule(world, booked["appointment"]["booking_uid"], at="08:00")

    assert answer["status"] == "unavailable"
    assert answer["alternatives"][0] == "2025-10-10T09:00:00+02:00"
    assert world.calcom.requests[before:] == []


@pytest.mark.parametrize(
    "kind",
    [FaultKind.SERVER_ERROR_AFTER_COMMIT, FaultKind.TIMEOUT_AFTER_COMMIT],
)
async def test_a_reschedule_committed_despite_a_failed_answer_is_read_back(
    world: World, kind: FaultKind
) -> None:
    """Cal.com moved it but the answer was lost: `rescheduled`, sent once."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.inject(Fault(kind=kind, method="POST", path=f"/v2/bookings/{uid}/reschedule"))

    answer = await _reschedule(world, uid)

    assert answer["status"] == "rescheduled"
    assert answer["previous_booking_uid"] == uid
    assert _reschedule_posts(world) == 1
    assert await world.links_of(answer["appointment"]["booking_uid"]) == {"call_move": "reschedule"}


@pytest.mark.parametrize("kind", [FaultKind.CONNECT_ERROR, FaultKind.SERVER_ERROR])
async def test_a_failed_reschedule_is_error_and_a_retried_delivery_moves_it_once(
    world: World, kind: FaultKind
) -> None:
    """`error` claims nothing and stores nothing; Retell's retry then moves it."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.inject(Fault(kind=kind, method="POST"))

    failed = await _reschedule(world, uid)

    assert failed["status"] == "error"
    assert set(failed) == {"status", "message"}
    assert await world.repository.links_for_call("call_move") == []
    stored = await world.repository.get_appointment_by_uid(uid)
    assert stored is not None
    assert stored.status is AppointmentStatus.ACTIVE

    retried = await _reschedule(world, uid)

    assert retried["status"] == "rescheduled"
    assert world.calcom.created_bookings_count() == 2


async def test_a_retried_delivery_after_success_replays_without_a_second_move(
    world: World,
) -> None:
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    first = await _reschedule(world, uid)

    again = await _reschedule(world, uid)

    assert again == first
    assert _reschedule_posts(world) == 1


async def test_an_appointment_cancelled_only_in_cal_com_is_not_found_and_recorded(
    world: World,
) -> None:
    """Cal.com refuses to move it; reading it back shows why, and the store learns it."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.cancel_booking(uid)

    answer = await _reschedule(world, uid)

    assert answer["status"] == "not_found"
    stored = await world.repository.get_appointment_by_uid(uid)
    assert stored is not None
    assert stored.status is AppointmentStatus.CANCELLED
    assert world.calcom.created_bookings_count() == 1
