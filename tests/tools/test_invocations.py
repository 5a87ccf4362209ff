"""One answer per invocation: a retry replays, a new invocation with the same arguments runs.

Every journey runs twice: with the call object listing its tool calls
(``transcript_with_tool_calls``) and without (a custom LLM websocket server, older calls).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, OTHER_CALLER, World

from retell_booking_tools.testing import SimulatedCall

BOOKING = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}
FRIDAY_AT_ELEVEN = "2025-10-10T11:00:00+02:00"


@pytest.fixture(name="transcripts", params=[True, False], ids=["transcript", "no-transcript"])
def fixture_transcripts(request: pytest.FixtureRequest) -> bool:
    """Whether the call object lists its tool calls."""
    value: bool = request.param
    return value


@pytest.fixture(name="call")
def fixture_call(world: World, transcripts: bool) -> SimulatedCall:
    """One call of the usual caller, as Retell plays it."""
    call = world.retell.start_call("call_1", from_number=CALLER, transcripts=transcripts)
    call.agent_says("Hello, how can I help you?")
    return call


async def ask(call: SimulatedCall, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """One invocation, answered 200; the caller says something before the next."""
    response = await call.function_call(tool, args)
    assert response.status_code == 200, response.text
    call.user_says("Okay, thank you.")
    answer: dict[str, Any] = response.json()
    return answer


def calcom_requests(world: World) -> int:
    return len(world.calcom.requests)


async def test_find_after_booking_in_the_same_call_finds_the_new_appointment(
    world: World, call: SimulatedCall
) -> None:
    """Looking up, booking, looking up again: the second look-up answers `found`."""
    before = await ask(call, "find_appointments", {})
    booked = await ask(call, "collect_appointment_data", BOOKING)

    after = await ask(call, "find_appointments", {})

    assert before["status"] == "none"
    assert booked["status"] == "booked"
    assert after["status"] == "found"
    uids = [appointment["booking_uid"] for appointment in after["appointments"]]
    assert uids == [booked["appointment"]["booking_uid"]]


async def test_availability_after_booking_in_the_same_call_no_longer_offers_the_booked_start(
    world: World, call: SimulatedCall
) -> None:
    """Checking the day, booking 11:00, checking again: 11:00 is gone from the slots."""
    before = await ask(call, "check_availability", {"date": "2025-10-10"})
    booked = await ask(call, "collect_appointment_data", BOOKING)

    after = await ask(call, "check_availability", {"date": "2025-10-10"})

    assert FRIDAY_AT_ELEVEN in before["slots"]
    assert booked["status"] == "booked"
    assert FRIDAY_AT_ELEVEN not in after["slots"]
    assert len(after["slots"]) == len(before["slots"]) - 1


async def test_booking_the_same_start_again_after_cancelling_it_books_anew(
    world: World, call: SimulatedCall
) -> None:
    """Book, cancel, book the same start in one call: `booked` again, with a new uid."""
    first = await ask(call, "collect_appointment_data", BOOKING)
    uid = first["appointment"]["booking_uid"]
    cancelled = await ask(call, "cancel_appointment", {"booking_uid": uid})

    again = await ask(call, "collect_appointment_data", BOOKING)

    assert cancelled["status"] == "cancelled"
    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] != uid
    assert world.calcom.booking(uid).status == "cancelled"
    assert world.calcom.booking(again["appointment"]["booking_uid"]).is_active
    assert world.calcom.created_bookings_count() == 2


async def test_a_retry_of_an_invocation_replays_its_answer_without_asking_cal_com(
    world: World, call: SimulatedCall
) -> None:
    """Retell delivers the same invocation again (its answer was lost): same answer, no request."""
    invocation = call.invoke("collect_appointment_data", BOOKING)
    first = await invocation.deliver()
    before = calcom_requests(world)

    retried = await invocation.deliver()

    assert retried.status_code == 200
    assert retried.json() == first.json()
    assert first.json()["status"] == "booked"
    assert calcom_requests(world) == before
    assert world.calcom.created_bookings_count() == 1


async def test_a_retry_listed_under_a_new_id_replays_the_invocation_that_got_no_result(
    world: World,
) -> None:
    """A retry Retell lists as another invocation repeats the one that never got a result."""
    call = world.retell.start_call("call_1", from_number=CALLER)
    invocation = call.invoke("collect_appointment_data", BOOKING)
    first = await invocation.deliver()
    before = calcom_requests(world)

    retried = await invocation.retried_with_new_id().deliver()

    assert retried.json() == first.json()
    assert first.json()["status"] == "booked"
    assert calcom_requests(world) == before


async def test_the_same_question_asked_again_after_its_answer_is_asked_anew(
    world: World,
) -> None:
    """A new invocation with the same arguments after a result runs against what is true now."""
    call = world.retell.start_call("call_1", from_number=CALLER)
    first = await ask(call, "check_availability", {"date": "2025-10-10"})
    world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2025, 10, 10, 9, 0, tzinfo=UTC),
        attendee_name="Someone Else",
        attendee_email="someone@example.org",
    )
    # Taken in Cal.com without a webhook: only a read past the shared answer's reuse can see it.
    world.clock.advance(timedelta(seconds=10))

    again = await ask(call, "check_availability", {"date": "2025-10-10"})

    assert FRIDAY_AT_ELEVEN in first["slots"]
    assert FRIDAY_AT_ELEVEN not in again["slots"]


async def test_without_a_transcript_a_retried_booking_within_the_lease_replays_its_answer(
    world: World,
) -> None:
    """No other tool call finished since: the repeated booking is a retry, Cal.com is not asked."""
    call = world.retell.start_call("call_1", from_number=CALLER, transcripts=False)
    first = await call.function_call("collect_appointment_data", BOOKING)
    before = calcom_requests(world)

    again = await call.function_call("collect_appointment_data", BOOKING)

    assert first.json()["status"] == "booked"
    assert again.json() == first.json()
    assert calcom_requests(world) == before
    assert world.calcom.created_bookings_count() == 1


async def test_a_time_another_caller_booked_meanwhile_is_no_longer_available(
    world: World, call: SimulatedCall
) -> None:
    """Asked again within the lease after another call booked 11:00: `unavailable`, not replayed."""
    question = {"date": "2025-10-10", "time": "11:00"}
    first = await ask(call, "check_availability", question)
    other = await world.book("call_other", from_number=OTHER_CALLER)

    again = await ask(call, "check_availability", question)

    assert first["status"] == "available"
    assert other["status"] == "booked"
    assert again["status"] == "unavailable"
    assert FRIDAY_AT_ELEVEN not in again["slots"]


async def test_appointments_booked_in_another_call_meanwhile_are_found(
    world: World, call: SimulatedCall
) -> None:
    """The caller's look-up, asked again after another of their calls booked, answers `found`."""
    before = await ask(call, "find_appointments", {})
    booked = await world.book("call_other")

    after = await ask(call, "find_appointments", {})

    assert before["status"] == "none"
    assert after["status"] == "found"
    uids = [appointment["booking_uid"] for appointment in after["appointments"]]
    assert uids == [booked["appointment"]["booking_uid"]]


async def test_concurrent_deliveries_of_one_availability_question_share_one_answer(
    world: World,
) -> None:
    """Without a transcript, deliveries that meet while the question runs hear the same answer."""
    call = world.retell.start_call("call_1", from_number=CALLER, transcripts=False)
    question = {"date": "2025-10-10"}

    answers = await asyncio.gather(
        *(call.function_call("check_availability", question) for _ in range(4))
    )

    assert {answer.status_code for answer in answers} == {200}
    assert all(answer.json() == answers[0].json() for answer in answers)
    assert answers[0].json()["status"] == "available"


async def test_without_a_transcript_a_repeat_after_the_lease_is_asked_anew(
    world: World,
) -> None:
    """Past the lease after the answer, the same question is not answered from memory."""
    call = world.retell.start_call("call_1", from_number=CALLER, transcripts=False)
    first = await ask(call, "check_availability", {"date": "2025-10-10"})
    world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2025, 10, 10, 9, 0, tzinfo=UTC),
        attendee_name="Someone Else",
        attendee_email="someone@example.org",
    )
    world.clock.advance(timedelta(seconds=world.runtime.settings.tool_call_lease_seconds + 1))

    again = await ask(call, "check_availability", {"date": "2025-10-10"})

    assert FRIDAY_AT_ELEVEN in first["slots"]
    assert FRIDAY_AT_ELEVEN not in again["slots"]


async def test_a_retried_booking_after_another_tool_answered_books_nothing_more(
    world: World, call: SimulatedCall
) -> None:
    """Even where a repeat runs again, the booking this call made is `booked`, never twice."""
    booked = await ask(call, "collect_appointment_data", BOOKING)
    await ask(call, "find_appointments", {})

    again = await ask(call, "collect_appointment_data", BOOKING)

    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] == booked["appointment"]["booking_uid"]
    assert world.calcom.created_bookings_count() == 1
    assert await world.links_of(booked["appointment"]["booking_uid"]) == {"call_1": "original"}
