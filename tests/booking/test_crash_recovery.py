"""A process died mid-booking: the next delivery of the call finds and records its booking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import (
    CALLER,
    DAY_ONE,
    EVENT_TYPE_ID,
    RETELL_KEY,
    World,
    make_emulator,
    make_settings,
)

from retell_booking_tools.booking import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import ToolCallKey
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import FakeClock, RetellSimulator
from retell_booking_tools.tools.runner import args_digest

LEASE = timedelta(seconds=5)
ELEVEN_IN_BERLIN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


@pytest.fixture(name="world")
async def fixture_world(repository: Repository) -> AsyncIterator[World]:
    """The usual world, with the tool-call lease set through its setting."""
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    settings = make_settings(tool_call_lease_seconds=LEASE.total_seconds())
    runtime = await build_runtime(
        settings, repository=repository, calcom_transport=emulator.transport, clock=clock
    )
    app = create_app(runtime=runtime, clock=clock)
    retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=clock)
    try:
        yield World(clock, emulator, repository, runtime, retell)
    finally:
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()


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
    world: World,
) -> None:
    """Past the configured lease, the retry looks Cal.com up, adopts the booking, books nothing."""
    uid = await die_after_calcom_booked(world, "call_1")
    world.clock.advance(LEASE + timedelta(seconds=1))

    answer = await world.book("call_1")

    assert answer["status"] == "booked"
    assert answer["appointment"]["booking_uid"] == uid
    assert world.booking_posts() == 0
    assert len(world.calcom.bookings) == 1
    assert await world.links_of(uid) == {"call_1": "original"}


async def test_a_replayed_delivery_after_recovery_gives_the_same_answer_and_one_link(
    world: World,
) -> None:
    """Recovery finishes the call: later deliveries replay it and add nothing."""
    uid = await die_after_calcom_booked(world, "call_1")
    world.clock.advance(LEASE + timedelta(seconds=1))
    recovered = await world.book("call_1")

    again = await world.book("call_1")

    assert again == recovered
    assert await world.links_of(uid) == {"call_1": "original"}
    appointment = await world.repository.get_appointment_by_uid(uid)
    assert appointment is not None
    assert len(await world.repository.appointments_for_customer(appointment.customer_id)) == 1
