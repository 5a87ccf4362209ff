"""A process died mid-booking: after a restart, the next delivery records its booking once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, RETELL_KEY, World, make_settings

from retell_booking_tools.booking.records import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import ToolCallKey
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import RetellSimulator
from retell_booking_tools.tools.runner import args_digest

LEASE = timedelta(seconds=5)
ELEVEN_IN_BERLIN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


@pytest.fixture(name="restarted")
async def fixture_restarted(world: World) -> AsyncIterator[RetellSimulator]:
    """The server started again on the same store and Cal.com, with the lease set to 5 s."""
    runtime = await build_runtime(
        make_settings(tool_call_lease_seconds=LEASE.total_seconds()),
        repository=world.repository,
        calcom_transport=world.calcom.transport,
        clock=world.clock,
    )
    app = create_app(runtime=runtime, clock=world.clock)
    retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=world.clock)
    try:
        yield retell
    finally:
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()


async def book(retell: RetellSimulator, call_id: str) -> dict[str, Any]:
    call = retell.call_object(call_id, from_number=CALLER)
    response = await retell.function_call("collect_appointment_data", ARGS, call=call)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def die_after_calcom_booked(world: World, call_id: str) -> str:
    """What a process leaves behind when killed between Cal.com's 201 and the store's write:
    a claim that never finished, and the Cal.com booking it made. Returns the booking uid."""
    key = ToolCallKey(call_id, "collect_appointment_data", args_digest(ARGS))
    await world.repository.claim_tool_call(key, now=world.clock(), lease=LEASE)
    booking = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=ELEVEN_IN_BERLIN,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
        metadata={CALL_ID_METADATA_KEY: call_id},
    )
    return booking.uid


async def test_the_next_delivery_after_the_lease_records_the_dead_owners_booking_as_booked(
    world: World, restarted: RetellSimulator
) -> None:
    """Past the configured lease, the retry looks Cal.com up, adopts the booking, books nothing."""
    uid = await die_after_calcom_booked(world, "call_1")
    world.clock.advance(LEASE + timedelta(seconds=1))

    answer = await book(restarted, "call_1")

    assert answer["status"] == "booked"
    assert answer["appointment"]["booking_uid"] == uid
    assert world.booking_posts() == 0
    assert len(world.calcom.bookings) == 1
    assert await world.links_of(uid) == {"call_1": "original"}


async def test_a_replayed_delivery_after_recovery_gives_the_same_answer_and_one_link(
    world: World, restarted: RetellSimulator
) -> None:
    """Recovery finishes the call: later deliveries replay it and add nothing."""
    uid = await die_after_calcom_booked(world, "call_1")
    world.clock.advance(LEASE + timedelta(seconds=1))
    recovered = await book(restarted, "call_1")

    again = await book(restarted, "call_1")

    assert again == recovered
    assert await world.links_of(uid) == {"call_1": "original"}
    appointment = await world.repository.get_appointment_by_uid(uid)
    assert appointment is not None
    assert len(await world.repository.appointments_for_customer(appointment.customer_id)) == 1
