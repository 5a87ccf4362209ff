"""A caller checks, books, looks up, moves and cancels by voice; support sees every call."""

from __future__ import annotations

from agent_backend import World

from retell_booking_tools.ops.history import appointment_history, call_history


async def test_every_call_of_the_journey_appears_with_its_relationship(world: World) -> None:
    """Five calls, two appointments; `appointments show` tells the whole story."""
    checked = await world.tool("check_availability", {"date": "2025-10-10"}, call_id="call_1")
    booked = await world.book("call_1", at="10:00")
    found = await world.tool("find_appointments", {}, call_id="call_2")
    moved = await world.tool(
        "reschedule_appointment",
        {
            "booking_uid": booked["appointment"]["booking_uid"],
            "date": "2025-10-13",
            "time": "15:00",
        },
        call_id="call_3",
    )
    existing = await world.book("call_4", date="2025-10-13", at="15:00")
    cancelled = await world.tool(
        "cancel_appointment",
        {"booking_uid": moved["appointment"]["booking_uid"], "reason": "verreist"},
        call_id="call_5",
    )

    statuses = [a["status"] for a in (checked, booked, found, moved, existing, cancelled)]
    assert statuses == ["available", "booked", "found", "rescheduled", "existing", "cancelled"]
    old = await appointment_history(world.repository, booked["appointment"]["booking_uid"])
    new = await appointment_history(world.repository, moved["appointment"]["booking_uid"])
    assert old is not None
    assert new is not None
    assert old["appointment"]["status"] == "rescheduled"
    assert new["appointment"]["status"] == "cancelled"
    assert new["appointment"]["rescheduled_from_uid"] == booked["appointment"]["booking_uid"]
    assert [(link["call_id"], link["relationship"]) for link in old["links"]] == [
        ("call_1", "original"),
        ("call_3", "reschedule"),
    ]
    assert [(link["call_id"], link["relationship"]) for link in new["links"]] == [
        ("call_3", "reschedule"),
        ("call_4", "duplicate_attempt"),
        ("call_5", "cancellation"),
    ]
    lookup = await call_history(world.repository, "call_2")
    assert lookup is not None
    assert lookup["links"] == []
    assert world.calcom.created_bookings_count() == 2
