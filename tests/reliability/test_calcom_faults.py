"""Cal.com misbehaving in every way we know of: the caller hears the truth, once.

Each row of ``FAULTS`` is injected into the first delivery of a function call, for a caller
who holds nothing yet (``fresh``) and for one Cal.com already holds a booking for, made
outside this store (``held_on_calcom``). Whatever the first answer, it is honest: `booked`
only for a booking this call created, never a second booking, nothing stored that Cal.com
does not hold; and Retell's retried delivery converges to exactly one booking.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from reliability_world import CALLER, EVENT_TYPE_ID, LOCAL_STORES, World

from retell_booking_tools.booking.attendees import attendee_email
from retell_booking_tools.booking.records import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import Relationship
from retell_booking_tools.testing import Fault, FaultKind

SLOT = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
"""11:00 in Berlin, the slot every call asks for."""
CALLER_EMAIL = attendee_email(CALLER)

pytestmark = LOCAL_STORES

CREATE = {"method": "POST", "path": "/v2/bookings"}
READS = {"method": "GET"}


@attrs.frozen
class Row:
    """Faults for the first delivery, and what it must answer for a fresh caller."""

    faults: tuple[Fault, ...]
    fresh: str
    held_on_calcom: str


FAULTS: dict[str, Row] = {
    "create_times_out_twice": Row(
        (Fault(FaultKind.TIMEOUT, **CREATE, times=2),), "error", "existing"
    ),
    "everything_times_out": Row((Fault(FaultKind.TIMEOUT, times=20),), "error", "error"),
    "create_committed_then_connection_reset": Row(
        (Fault(FaultKind.RESET_AFTER_COMMIT, **CREATE),), "booked", "existing"
    ),
    "create_committed_then_reset_and_look_ups_time_out": Row(
        (
            Fault(FaultKind.RESET_AFTER_COMMIT, **CREATE),
            Fault(FaultKind.TIMEOUT, **READS, times=20),
        ),
        "error",
        "error",
    ),
    "create_rate_limited_without_retry_after": Row(
        (Fault(FaultKind.RATE_LIMITED, **CREATE),), "error", "error"
    ),
    "create_rate_limited_with_retry_after": Row(
        (Fault(FaultKind.RATE_LIMITED, **CREATE, retry_after=2),), "error", "error"
    ),
    "look_ups_rate_limited_for_a_minute": Row(
        (
            Fault(FaultKind.SERVER_ERROR, **CREATE),
            Fault(FaultKind.RATE_LIMITED, **READS, times=2),
        ),
        "error",
        "error",
    ),
    "look_ups_rate_limited_with_retry_after_then_answered": Row(
        (
            Fault(FaultKind.SERVER_ERROR, **CREATE),
            Fault(FaultKind.RATE_LIMITED, **READS, retry_after=1, times=2),
        ),
        "booked",
        "existing",
    ),
    "everything_rate_limited": Row((Fault(FaultKind.RATE_LIMITED, times=20),), "error", "error"),
    "create_503_twice": Row(
        (Fault(FaultKind.SERVER_ERROR, **CREATE, status_code=503, times=2),), "error", "existing"
    ),
    "create_committed_then_502": Row(
        (Fault(FaultKind.SERVER_ERROR_AFTER_COMMIT, **CREATE, status_code=502),),
        "booked",
        "existing",
    ),
    "create_answers_malformed_json": Row(
        (Fault(FaultKind.MALFORMED_JSON, **CREATE),), "booked", "error"
    ),
    "look_up_answers_malformed_json": Row(
        (
            Fault(FaultKind.SERVER_ERROR, **CREATE),
            Fault(FaultKind.MALFORMED_JSON, **READS, times=20),
        ),
        "error",
        "error",
    ),
    "connection_refused_everywhere": Row(
        (Fault(FaultKind.CONNECT_ERROR, times=20),), "error", "error"
    ),
}


def _hold_on_calcom(world: World) -> str:
    """A booking of this caller's at the slot, made on Cal.com yesterday, unknown to the store."""
    booking = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=SLOT,
        attendee_name="Max Mustermann",
        attendee_email=CALLER_EMAIL,
        created_at=world.clock() - timedelta(days=1),
    )
    return booking.uid


async def assert_store_matches_calcom(world: World) -> None:
    """No double booking; every stored appointment is an active Cal.com booking, linked."""
    active = [b for b in world.calcom.bookings if b.is_active]
    held = {(b.start, a.email.lower()) for b in active for a in b.attendees}
    assert len(held) == sum(len(b.attendees) for b in active), "two bookings for one attendee"
    call = await world.repository.get_call("call_1")
    assert call is not None
    if call.customer_id is None:
        return
    for appointment in await world.repository.appointments_for_customer(call.customer_id):
        booking = world.calcom.booking(appointment.booking_uid)
        assert booking.is_active
        assert booking.start == appointment.start
        links = await world.repository.links_for_appointment(appointment.id)
        assert links, "a stored appointment with no call linked"
        for link in links:
            if link.relationship is Relationship.ORIGINAL:
                assert booking.metadata.get(CALL_ID_METADATA_KEY) == link.call_id


def assert_honest(world: World, answer: dict[str, Any], seeded_uid: str | None) -> None:
    """`booked` names a booking this call created; `existing` names the caller's own."""
    status = answer["status"]
    if status in {"error", "pending"}:
        assert "appointment" not in answer
        return
    uid = answer["appointment"]["booking_uid"]
    booking = world.calcom.booking(uid)
    assert booking.is_active
    assert any(a.email == CALLER_EMAIL for a in booking.attendees)
    if status == "booked":
        assert booking.metadata.get(CALL_ID_METADATA_KEY) == "call_1"
        assert uid != seeded_uid
    else:
        assert status == "existing"


@pytest.mark.parametrize("scenario", ["fresh", "held_on_calcom"])
@pytest.mark.parametrize("fault_name", list(FAULTS))
async def test_faulty_calcom_answers_honestly_and_a_retry_converges_to_one_booking(
    world: World, fault_name: str, scenario: str
) -> None:
    """Honest first answer, consistent store, then exactly one booking after the retry."""
    row = FAULTS[fault_name]
    seeded_uid = _hold_on_calcom(world) if scenario == "held_on_calcom" else None
    for fault in row.faults:
        world.calcom.inject(fault)

    first = await world.book("call_1")

    assert first["status"] == getattr(row, scenario)
    assert_honest(world, first, seeded_uid)
    await assert_store_matches_calcom(world)
    if first["status"] == "error":
        assert await world.repository.links_for_call("call_1") == []

    world.calcom.clear_faults()
    if any(fault.kind is FaultKind.RATE_LIMITED for fault in row.faults):
        # Cal.com's block lasts a minute; the retry comes after it, never into it.
        world.clock.advance(timedelta(seconds=61))
    retried = await world.book("call_1")

    assert retried["status"] == ("booked" if scenario == "fresh" else "existing")
    assert_honest(world, retried, seeded_uid)
    await assert_store_matches_calcom(world)
    active = [b for b in world.calcom.bookings if b.is_active]
    assert len(active) == 1
    assert world.calcom.created_bookings_count() == (1 if scenario == "fresh" else 0)
    expected_link = "original" if scenario == "fresh" else "duplicate_attempt"
    assert await world.links_of(active[0].uid) == {"call_1": expected_link}
