"""Different calls for one slot at the same moment, on every store: one booking, honest answers."""

from __future__ import annotations

import asyncio

from agent_backend import CALLER, OTHER_CALLER, World

from retell_booking_tools.domain import Relationship


async def test_two_calls_of_one_caller_for_one_slot_at_once_are_booked_and_existing(
    world: World,
) -> None:
    """One call books; the other hears `existing` for the same booking and is linked to it."""
    first, second = await asyncio.gather(world.book("call_a"), world.book("call_b"))

    by_status = {first["status"]: "call_a", second["status"]: "call_b"}
    assert sorted(by_status) == ["booked", "existing"]
    assert first["appointment"]["booking_uid"] == second["appointment"]["booking_uid"]
    assert world.calcom.created_bookings_count() == 1
    uid = first["appointment"]["booking_uid"]
    assert await world.links_of(uid) == {
        by_status["booked"]: "original",
        by_status["existing"]: "duplicate_attempt",
    }
    [duplicate] = await world.repository.links_for_call(by_status["existing"])
    assert duplicate.relationship is Relationship.DUPLICATE_ATTEMPT
    assert duplicate.metadata["original_call_id"] == by_status["booked"]


async def test_two_customers_racing_for_one_slot_get_one_booking_and_nothing_of_each_other(
    world: World,
) -> None:
    """One is `booked`; the other `conflict` or `unavailable`, without the winner's booking."""
    mine, theirs = await asyncio.gather(
        world.book("call_mine", from_number=CALLER),
        world.book("call_theirs", from_number=OTHER_CALLER, customer_name="Erika Musterfrau"),
    )

    answers = {"call_mine": mine, "call_theirs": theirs}
    [winner] = [call for call, answer in answers.items() if answer["status"] == "booked"]
    [loser] = set(answers) - {winner}
    assert answers[loser]["status"] in ("conflict", "unavailable")
    assert "appointment" not in answers[loser]
    assert world.calcom.created_bookings_count() == 1
    uid = answers[winner]["appointment"]["booking_uid"]
    assert await world.links_of(uid) == {winner: "original"}
    assert await world.repository.links_for_call(loser) == []
