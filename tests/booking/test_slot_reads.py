"""Slot reads shared per event type and day, and dropped as soon as that day changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from agent_backend import WEBHOOK_SECRET, World


def _slot_reads(world: World) -> int:
    return sum(1 for r in world.calcom.requests if r.path == "/v2/slots")


async def _check(world: World, call_id: str, day: str = "2025-10-10", **extra: Any) -> Any:
    return await world.tool("check_availability", {"date": day, **extra}, call_id=call_id)


async def test_concurrent_questions_about_one_day_share_one_cal_com_request(
    world: World,
) -> None:
    answers = await asyncio.gather(*(_check(world, f"call_{n}") for n in range(6)))

    assert {answer["status"] for answer in answers} == {"available"}
    assert len({tuple(answer["slots"]) for answer in answers}) == 1
    assert _slot_reads(world) == 1


async def test_an_answer_is_reused_for_a_few_seconds_then_read_again(world: World) -> None:
    await _check(world, "call_1")
    await _check(world, "call_2")
    world.clock.advance(timedelta(seconds=6))
    await _check(world, "call_3")

    assert _slot_reads(world) == 2


async def test_a_booking_made_here_leaves_its_start_out_of_the_reused_answer(
    world: World,
) -> None:
    """Nobody is offered a start that was just taken, and the day is not read again."""
    before = await _check(world, "call_1")
    booked = await world.book("call_1", at="11:00")

    after = await _check(world, "call_2")

    assert booked["status"] == "booked"
    assert "2025-10-10T11:00:00+02:00" in before["slots"]
    assert "2025-10-10T11:00:00+02:00" not in after["slots"]
    assert len(after["slots"]) == len(before["slots"]) - 1
    assert _slot_reads(world) == 1


async def test_a_moved_appointment_drops_the_reused_answers_of_both_days(world: World) -> None:
    booked = await world.book("call_1", at="11:00")
    await _check(world, "call_2", day="2025-10-10")
    await _check(world, "call_2", day="2025-10-13")
    moved = await world.tool(
        "reschedule_appointment",
        {
            "booking_uid": booked["appointment"]["booking_uid"],
            "date": "2025-10-13",
            "time": "10:00",
        },
        call_id="call_2",
    )

    friday = await _check(world, "call_3", day="2025-10-10")
    monday = await _check(world, "call_3", day="2025-10-13")

    assert moved["status"] == "rescheduled"
    assert "2025-10-10T11:00:00+02:00" in friday["slots"]
    assert "2025-10-13T10:00:00+02:00" not in monday["slots"]


async def test_a_cancellation_webhook_drops_the_reused_answer(world: World) -> None:
    """A booking made in Cal.com's own UI reaches every replica through its webhook."""
    seeded = world.calcom.seed_booking(
        event_type_id=world.runtime.core.policy.event_type_id,
        start=world.clock() + timedelta(hours=36, minutes=39),
        attendee_name="Someone",
        attendee_email="someone@example.org",
    )
    before = await _check(world, "call_1")
    world.calcom.cancel_booking(seeded.uid)
    await world.deliver(
        world.calcom.webhook("BOOKING_CANCELLED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    after = await _check(world, "call_2")

    assert _slot_reads(world) == 2
    assert len(after["slots"]) == len(before["slots"]) + 1


async def test_another_day_is_another_read(world: World) -> None:
    await _check(world, "call_1", day="2025-10-10")
    await _check(world, "call_2", day="2025-10-13")

    assert _slot_reads(world) == 2


async def test_a_refused_start_is_not_offered_again_from_a_reused_answer(world: World) -> None:
    """Taken in Cal.com since it was read: the refusal drops what was read of that day."""
    await _check(world, "call_1")
    world.calcom.seed_booking(
        event_type_id=world.runtime.core.policy.event_type_id,
        start=world.clock() + timedelta(hours=36, minutes=39),
        attendee_name="Someone",
        attendee_email="someone@example.org",
    )

    refused = await world.book("call_1", at="11:00")
    other = await _check(world, "call_other_day_check")

    assert refused["status"] == "unavailable"
    assert "2025-10-10T11:00:00+02:00" not in refused["alternatives"]
    assert "2025-10-10T11:00:00+02:00" not in other["slots"]
