"""A slow Cal.com never leaves Retell waiting: past the budget the caller hears `pending`."""

from __future__ import annotations

import pytest
from reliability_world import CALLER, LOCAL_STORES, SHORT_BUDGET_SECONDS, World

from retell_booking_tools.messages import CATALOG
from retell_booking_tools.testing import Fault, FaultKind

SLOW = 2 * SHORT_BUDGET_SECONDS
"""Past the budget by as much again: the emulator and the budget share one event loop, so
the budget always runs out first."""


@pytest.fixture(name="tool_budget_seconds")
def fixture_tool_budget_seconds() -> float:
    return SHORT_BUDGET_SECONDS


@LOCAL_STORES
async def test_booking_slower_than_the_budget_answers_pending_then_finishes_and_links(
    world: World,
) -> None:
    """`pending` claims nothing; the shielded booking completes and the retry replays it."""
    world.calcom.inject(
        Fault(kind=FaultKind.DELAY, method="POST", path="/v2/bookings", delay_seconds=SLOW)
    )

    first = await world.book("call_1")

    assert first["status"] == "pending"
    assert first["message"] == CATALOG["en"]["pending"]
    assert "appointment" not in first
    assert world.calcom.created_bookings_count() == 0

    await world.runtime.runner.wait_idle()

    assert world.calcom.created_bookings_count() == 1
    retried = await world.book("call_1")
    assert retried["status"] == "booked"
    assert world.booking_posts() == 1
    assert await world.links_of(retried["appointment"]["booking_uid"]) == {"call_1": "original"}


@LOCAL_STORES
async def test_delivery_retried_while_the_first_still_runs_is_pending_too(world: World) -> None:
    """A second delivery waits at most the budget for the first, then says `pending`."""
    world.calcom.inject(
        Fault(
            kind=FaultKind.DELAY,
            method="POST",
            path="/v2/bookings",
            delay_seconds=SLOW + SHORT_BUDGET_SECONDS,
        )
    )

    first = await world.book("call_1")
    second = await world.book("call_1")

    assert (first["status"], second["status"]) == ("pending", "pending")
    await world.runtime.runner.wait_idle()
    third = await world.book("call_1")
    assert third["status"] == "booked"
    assert world.booking_posts() == 1
    assert world.calcom.created_bookings_count() == 1


@LOCAL_STORES
@pytest.mark.parametrize("finished_first", [True, False], ids=["after", "while-running"])
async def test_the_agents_next_invocation_after_pending_hears_how_the_booking_ended(
    world: World, finished_first: bool
) -> None:
    """Retell recorded `pending`; asking again (a new invocation) hears `booked`, booked once."""
    world.calcom.inject(
        Fault(kind=FaultKind.DELAY, method="POST", path="/v2/bookings", delay_seconds=SLOW)
    )
    call = world.retell.start_call("call_1", from_number=CALLER)
    args = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}

    first = await call.function_call("collect_appointment_data", args)
    call.agent_says("I'm still waiting for the booking system. Let me check again.")
    if finished_first:
        await world.runtime.runner.wait_idle()
    again = await call.function_call("collect_appointment_data", args)
    if not finished_first:
        await world.runtime.runner.wait_idle()
        again = await call.function_call("collect_appointment_data", args)

    assert first.json()["status"] == "pending"
    assert again.json()["status"] == "booked"
    assert world.booking_posts() == 1
    assert world.calcom.created_bookings_count() == 1
    assert await world.links_of(again.json()["appointment"]["booking_uid"]) == {
        "call_1": "original"
    }


@LOCAL_STORES
@pytest.mark.parametrize("path", ["/v2/bookings", "/v2/slots"])
async def test_slow_look_up_of_an_unavailable_slot_answers_pending_then_the_true_outcome(
    world: World, path: str
) -> None:
    """A refused slot whose look-up or alternatives are slow still ends as `unavailable`."""
    world.calcom.inject(Fault(kind=FaultKind.DELAY, method="GET", path=path, delay_seconds=SLOW))

    first = await world.book("call_1", at="20:00")

    assert first["status"] == "pending"
    await world.runtime.runner.wait_idle()
    retried = await world.book("call_1", at="20:00")
    assert retried["status"] == "unavailable"
    assert world.calcom.created_bookings_count() == 0


def test_pending_wording_promises_nothing_in_either_language() -> None:
    assert "nothing is confirmed" in CATALOG["en"]["pending"]
    assert "bestätigt ist noch nichts" in CATALOG["de"]["pending"]
