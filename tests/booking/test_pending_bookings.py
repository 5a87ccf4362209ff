"""Event types that require confirmation: pending requests, host decisions, freed slots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agent_backend import OTHER_CALLER, WEBHOOK_SECRET, World

from retell_booking_tools.domain import AppointmentStatus

pytestmark = pytest.mark.parametrize("requires_confirmation", [True])


async def _status(world: World, uid: str) -> AppointmentStatus:
    appointment = await world.repository.get_appointment_by_uid(uid)
    assert appointment is not None
    return appointment.status


async def test_a_pending_booking_is_booked_with_words_that_say_the_host_must_confirm(
    world: World,
) -> None:
    """Still ``booked`` (this call made the request), but nobody is told it is confirmed."""
    answer = await world.book("call_1")

    assert answer["status"] == "booked"
    assert answer["appointment"]["status"] == "pending"
    reference = answer["appointment"]["booking_reference"]
    assert answer["message"] == (
        "Your request for Friday, October 10, 2025 at 11:00 AM is in, but the host still "
        "has to confirm it. You'll hear from them once they have. "
        f"Your booking reference is {' '.join(reference[:3])}, {' '.join(reference[3:])}."
    )
    assert "is booked" not in answer["message"]


@pytest.mark.parametrize("language", ["de"])
async def test_german_says_the_request_is_in_and_awaits_confirmation(world: World) -> None:
    answer = await world.book("call_1")

    assert answer["appointment"]["status"] == "pending"
    assert answer["message"].startswith("Ihre Anfrage für den 10.10.2025 um 11:00 Uhr")
    assert "bestätigt" in answer["message"]


async def test_a_repeat_of_a_pending_request_is_existing_and_says_it_is_still_a_request(
    world: World,
) -> None:
    await world.book("call_1")

    again = await world.book("call_2")

    assert again["status"] == "existing"
    assert "the host still has to confirm it" in again["message"]


async def test_find_appointments_says_a_pending_one_still_has_to_be_confirmed(
    world: World,
) -> None:
    await world.book("call_1")

    found = await world.tool("find_appointments", {}, call_id="call_2")

    assert found["status"] == "found"
    assert found["appointments"][0]["status"] == "pending"
    assert found["message"].endswith("the host still has to confirm it.")


async def test_a_requested_webhook_is_applied_once(world: World) -> None:
    """Verified and idempotent like the other triggers: a repeat changes nothing."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    requested = world.calcom.webhook("BOOKING_REQUESTED", uid, secret=WEBHOOK_SECRET)

    first = await world.deliver(requested)
    again = await world.deliver(requested)

    assert first.status_code == again.status_code == 200
    assert again.json() == {"status": "unchanged"}
    assert await _status(world, uid) is AppointmentStatus.PENDING


async def test_a_rejection_frees_the_slot_for_another_caller_and_leaves_the_first_with_none(
    world: World,
) -> None:
    """The store no longer refuses others with ``conflict``; the first caller is not told
    they hold it."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    world.clock.advance(timedelta(minutes=5))
    world.calcom.reject_booking(uid, "fully booked")

    rejected = await world.deliver(
        world.calcom.webhook("BOOKING_REJECTED", uid, secret=WEBHOOK_SECRET)
    )
    other = await world.book("call_other", from_number=OTHER_CALLER)
    found = await world.tool("find_appointments", {}, call_id="call_2")

    assert rejected.json() == {"status": "applied"}
    assert await _status(world, uid) is AppointmentStatus.REJECTED
    assert other["status"] == "booked"
    assert other["appointment"]["booking_uid"] != uid
    assert found["status"] == "none"


async def test_after_a_rejection_the_same_caller_is_not_existing_but_can_ask_again(
    world: World,
) -> None:
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    world.calcom.reject_booking(uid)
    await world.deliver(world.calcom.webhook("BOOKING_REJECTED", uid, secret=WEBHOOK_SECRET))

    again = await world.book("call_2")

    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] != uid


async def test_a_late_request_never_undoes_a_rejection(world: World) -> None:
    """Forward-only: an older BOOKING_REQUESTED delivered after BOOKING_REJECTED is ignored."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    requested = world.calcom.webhook("BOOKING_REQUESTED", uid, secret=WEBHOOK_SECRET)
    world.clock.advance(timedelta(minutes=5))
    world.calcom.reject_booking(uid)
    rejected = world.calcom.webhook("BOOKING_REJECTED", uid, secret=WEBHOOK_SECRET)

    await world.deliver(rejected)
    late = await world.deliver(requested)

    assert late.json() == {"status": "unchanged"}
    assert await _status(world, uid) is AppointmentStatus.REJECTED


async def test_a_rejection_noticed_at_look_up_is_recorded_even_without_the_webhook(
    world: World,
) -> None:
    """Cal.com is asked before a caller hears ``existing``: a rejected request is left out."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    world.calcom.reject_booking(uid)

    found = await world.tool("find_appointments", {}, call_id="call_2")

    assert found["status"] == "none"
    assert await _status(world, uid) is AppointmentStatus.REJECTED


async def test_a_host_confirmation_makes_the_appointment_active(world: World) -> None:
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    world.clock.advance(timedelta(minutes=5))
    world.calcom.confirm_booking(uid)

    await world.deliver(world.calcom.webhook("BOOKING_CREATED", uid, secret=WEBHOOK_SECRET))
    found = await world.tool("find_appointments", {}, call_id="call_2")

    assert await _status(world, uid) is AppointmentStatus.ACTIVE
    assert found["message"] == "Your next appointment is on Friday, October 10, 2025 at 11:00 AM."
