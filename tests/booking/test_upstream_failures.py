"""Cal.com failing mid-booking: the caller is told the truth and nothing is booked twice."""

from __future__ import annotations

import pytest
from agent_backend import World

from retell_booking_tools.testing import Fault, FaultKind


@pytest.mark.parametrize(
    "kind",
    [
        FaultKind.SERVER_ERROR_AFTER_COMMIT,
        FaultKind.TIMEOUT_AFTER_COMMIT,
        FaultKind.RESET_AFTER_COMMIT,
    ],
)
async def test_booking_committed_despite_a_failed_answer_is_booked_exactly_once(
    world: World, kind: FaultKind
) -> None:
    """The look-up after an ambiguous failure finds this call's booking: `booked`, once."""
    world.calcom.inject(Fault(kind=kind, method="POST", path="/v2/bookings"))

    answer = await world.book("call_1")

    assert answer["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1
    assert world.booking_posts() == 1
    assert await world.links_of(answer["appointment"]["booking_uid"]) == {"call_1": "original"}


@pytest.mark.parametrize("kind", [FaultKind.SERVER_ERROR, FaultKind.TIMEOUT])
async def test_failed_create_is_error_and_a_retried_delivery_books_exactly_once(
    world: World, kind: FaultKind
) -> None:
    """Two failed attempts: `error` claims nothing; Retell's retry then books once."""
    world.calcom.inject(Fault(kind=kind, method="POST", path="/v2/bookings", times=2))

    failed = await world.book("call_1")

    assert failed["status"] == "error"
    assert "appointment" not in failed
    assert "booked" not in failed["message"]
    assert world.calcom.created_bookings_count() == 0
    assert await world.repository.links_for_call("call_1") == []

    retried = await world.book("call_1")

    assert retried["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1


async def test_single_transient_failure_is_absorbed_by_look_up_then_one_create(
    world: World,
) -> None:
    """A 500 that committed nothing: looked up, found nothing, created once."""
    world.calcom.inject(Fault(kind=FaultKind.SERVER_ERROR, method="POST", path="/v2/bookings"))

    answer = await world.book("call_1")

    assert answer["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1


async def test_calcom_down_entirely_is_error_and_stores_nothing(world: World) -> None:
    """Every request fails: `error`, no appointment, no link."""
    world.calcom.inject(Fault(kind=FaultKind.CONNECT_ERROR, times=50))

    answer = await world.book("call_1")

    assert answer["status"] == "error"
    assert await world.repository.appointments_for_customer(1) == []
    assert await world.repository.links_for_call("call_1") == []


async def test_commit_then_timeout_with_look_up_failing_is_error_then_retry_is_booked(
    world: World,
) -> None:
    """The booking exists but cannot be confirmed yet: `error` now, `booked` on retry."""
    world.calcom.inject(
        Fault(kind=FaultKind.TIMEOUT_AFTER_COMMIT, method="POST", path="/v2/bookings")
    )
    world.calcom.inject(Fault(kind=FaultKind.SERVER_ERROR, method="GET", times=3))

    first = await world.book("call_1")
    assert first["status"] == "error"

    retried = await world.book("call_1")

    assert retried["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1
    assert await world.links_of(retried["appointment"]["booking_uid"]) == {"call_1": "original"}
