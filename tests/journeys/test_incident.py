"""The incident, replayed: the second call for a slot the caller already holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from agent_backend import World


async def test_second_call_for_same_slot_is_existing_and_linked(world: World) -> None:
    """Call B hears `existing`, is linked as duplicate_attempt, and Cal.com books nothing."""
    first = await world.book("call_682")
    assert first["status"] == "booked"
    world.clock.advance(timedelta(hours=20, minutes=1))

    second = await world.book("call_766")

    assert second["status"] == "existing"
    assert second["message"].startswith(
        "You already have an appointment on Friday, October 10, 2025 at 11:00 AM."
    )
    assert "booked" not in second["message"]
    assert second["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
    assert second["appointment"]["start"] == "2025-10-10T11:00:00+02:00"
    assert world.calcom.created_bookings_count() == 1
    assert world.booking_posts() == 1
    uid = first["appointment"]["booking_uid"]
    assert await world.links_of(uid) == {
        "call_682": "original",
        "call_766": "duplicate_attempt",
    }


async def test_duplicate_link_records_original_call_and_detection_time(world: World) -> None:
    """The duplicate_attempt link says which call made the booking and when it was noticed."""
    first = await world.book("call_682")
    world.clock.advance(timedelta(hours=20))
    await world.book("call_766")

    links = await world.repository.links_for_call("call_766")
    assert len(links) == 1
    assert links[0].metadata["original_call_id"] == "call_682"
    assert links[0].metadata["detected_at"] == world.clock().isoformat()
    appointment = await world.repository.get_appointment(links[0].appointment_id)
    assert appointment is not None
    assert appointment.booking_uid == first["appointment"]["booking_uid"]


@pytest.mark.parametrize("language", ["de"])
async def test_german_caller_hears_the_honest_sentence_the_incident_asked_for(
    world: World,
) -> None:
    """Word for word the wording the incident report asked for, in German."""
    assert (await world.book("call_682"))["status"] == "booked"
    world.clock.advance(timedelta(hours=20))

    second = await world.book("call_766")

    assert second["message"] == (
        "Sie haben bereits einen Termin am 10.10.2025 um 11:00 Uhr. "
        "Möchten Sie diesen Termin bestätigen oder ändern?"
    )
