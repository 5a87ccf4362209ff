"""``cancel_appointment``: cancelling the caller's own appointment, honestly and once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agent_backend import OTHER_CALLER, World

from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.testing import Fault, FaultKind


async def _cancel(
    world: World,
    booking_uid: str,
    call_id: str = "call_cancel",
    *,
    from_number: str | None = "+4915112345678",
    **args: Any,
) -> dict[str, Any]:
    return await world.tool(
        "cancel_appointment",
        {"booking_uid": booking_uid, **args},
        call_id=call_id,
        from_number=from_number,
    )


def _cancel_posts(world: World) -> int:
    return sum(1 for path in world.calcom_writes() if path.endswith("/cancel"))


async def _status(world: World, booking_uid: str) -> AppointmentStatus:
    stored = await world.repository.get_appointment_by_uid(booking_uid)
    assert stored is not None
    return stored.status


async def test_a_cancelled_appointment_is_cancelled_in_cal_com_stored_and_linked(
    world: World,
) -> None:
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]

    answer = await _cancel(world, uid, reason="Ich bin krank")

    assert answer["status"] == "cancelled"
    assert answer["appointment"]["booking_uid"] == uid
    assert (
        answer["message"]
        == "Your appointment on Friday, October 10, 2025 at 11:00 AM is cancelled."
    )
    assert world.calcom.booking(uid).status == "cancelled"
    assert world.calcom.booking(uid).cancellation_reason == "Ich bin krank"
    assert await _status(world, uid) is AppointmentStatus.CANCELLED
    assert await world.links_of(uid) == {"call_1": "original", "call_cancel": "cancellation"}
    [link] = await world.repository.links_for_call("call_cancel")
    assert link.metadata["reason"] == "Ich bin krank"


@pytest.mark.parametrize("language", ["de"])
async def test_german_confirms_the_cancellation_with_the_local_date(world: World) -> None:
    booked = await world.book("call_1")

    answer = await _cancel(world, booked["appointment"]["booking_uid"])

    assert answer["message"] == "Ihr Termin am 10.10.2025 um 11:00 Uhr ist storniert."


async def test_the_cancelled_slot_is_booked_anew_never_existing(world: World) -> None:
    booked = await world.book("call_1")
    await _cancel(world, booked["appointment"]["booking_uid"])

    again = await world.book("call_2")

    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] != booked["appointment"]["booking_uid"]
    assert world.calcom.created_bookings_count() == 2


async def test_cancelling_again_in_another_call_is_already_cancelled_and_linked(
    world: World,
) -> None:
    """The store knows: no second request to Cal.com, but the call is still traced."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    await _cancel(world, uid)

    again = await _cancel(world, uid, "call_again")

    assert again["status"] == "already_cancelled"
    assert again["message"] == (
        "Your appointment on Friday, October 10, 2025 at 11:00 AM was already cancelled."
    )
    assert _cancel_posts(world) == 1
    assert (await world.links_of(uid))["call_again"] == "cancellation"


async def test_an_appointment_cancelled_only_in_cal_com_is_already_cancelled(
    world: World,
) -> None:
    """Cal.com refuses the cancel; reading the booking back tells why, and it is recorded."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.cancel_booking(uid, reason="closed that day")

    answer = await _cancel(world, uid)

    assert answer["status"] == "already_cancelled"
    assert await _status(world, uid) is AppointmentStatus.CANCELLED


async def test_another_callers_booking_is_answered_like_an_unknown_one_and_stays_booked(
    world: World,
) -> None:
    """Nothing about it is said, sent or linked: the answer is that of a uid nobody holds."""
    booked = await world.book("call_1", from_number=OTHER_CALLER)
    uid = booked["appointment"]["booking_uid"]

    answer = await _cancel(world, uid)

    assert answer == await _cancel(world, "no-such-booking", "call_unknown")
    assert answer["status"] == "not_found"
    assert _cancel_posts(world) == 0
    assert world.calcom.booking(uid).status == "accepted"
    assert await world.links_of(uid) == {"call_1": "original"}


async def test_an_unknown_booking_uid_is_not_found_without_asking_cal_com(world: World) -> None:
    answer = await _cancel(world, "no-such-booking")

    assert answer["status"] == "not_found"
    assert world.calcom.requests == []


async def test_a_rescheduled_away_booking_uid_is_not_found(world: World) -> None:
    """The old uid of a moved appointment no longer names anything to cancel."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    await world.tool(
        "reschedule_appointment",
        {"booking_uid": uid, "date": "2025-10-10", "time": "14:00"},
        call_id="call_move",
    )

    answer = await _cancel(world, uid)

    assert answer["status"] == "not_found"
    assert _cancel_posts(world) == 0


@pytest.mark.parametrize(
    ("uid", "args", "from_number", "field"),
    [
        ("", {}, "+4915112345678", "booking_uid"),
        ("uid", {"reason": "x" * 501}, "+4915112345678", "reason"),
        ("uid", {"email": "nope"}, None, "booking_reference"),
    ],
)
async def test_unusable_input_is_invalid_naming_the_field(
    world: World, uid: str, args: dict[str, str], from_number: str | None, field: str
) -> None:
    answer = await _cancel(world, uid, from_number=from_number, **args)

    assert answer["status"] == "invalid"
    assert answer["field"] == field
    assert world.calcom.requests == []


async def test_a_cancel_committed_despite_a_failed_answer_is_read_back(world: World) -> None:
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.inject(
        Fault(
            kind=FaultKind.SERVER_ERROR_AFTER_COMMIT,
            method="POST",
            path=f"/v2/bookings/{uid}/cancel",
        )
    )

    answer = await _cancel(world, uid)

    assert answer["status"] == "cancelled"
    assert _cancel_posts(world) == 1
    assert await _status(world, uid) is AppointmentStatus.CANCELLED


@pytest.mark.parametrize("kind", [FaultKind.CONNECT_ERROR, FaultKind.SERVER_ERROR])
async def test_a_failed_cancel_is_error_and_a_retried_delivery_cancels_once(
    world: World, kind: FaultKind
) -> None:
    """`error` says it may still stand and records nothing; the retry cancels it."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    world.calcom.inject(Fault(kind=kind, method="POST"))

    failed = await _cancel(world, uid)

    assert failed["status"] == "error"
    assert set(failed) == {"status", "message"}
    assert await _status(world, uid) is AppointmentStatus.ACTIVE
    assert await world.repository.links_for_call("call_cancel") == []

    retried = await _cancel(world, uid)

    assert retried["status"] == "cancelled"
    assert world.calcom.booking(uid).status == "cancelled"


async def test_a_retried_delivery_after_success_replays_without_a_second_cancel(
    world: World,
) -> None:
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]
    first = await _cancel(world, uid)

    again = await _cancel(world, uid)

    assert again == first
    assert _cancel_posts(world) == 1


async def test_two_calls_cancelling_at_once_cancel_once(world: World) -> None:
    """Under the appointment's lock one call cancels, the other hears it already was."""
    booked = await world.book("call_1")
    uid = booked["appointment"]["booking_uid"]

    answers = await asyncio.gather(_cancel(world, uid, "call_a"), _cancel(world, uid, "call_b"))

    assert sorted(a["status"] for a in answers) == ["already_cancelled", "cancelled"]
    assert _cancel_posts(world) == 1
    links = await world.links_of(uid)
    assert (links["call_a"], links["call_b"]) == ("cancellation", "cancellation")
