"""``daily_stats`` over real tool calls: the duplicate shows, and so does an unlinked call."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from agent_backend import EVENT_TYPE_ID, World
from test_doctor import SINCE, seed_incident

from retell_booking_tools.ops.doctor import Doctor
from retell_booking_tools.ops.stats import daily_stats, day_start

BERLIN = ZoneInfo("Europe/Berlin")


async def test_stats_show_the_booking_and_the_duplicate_on_their_days(world: World) -> None:
    """Day one has the booking, day two the duplicate attempt; the rate is per day."""
    await world.book("call_682")
    world.clock.advance(timedelta(hours=20))
    await world.book("call_766")
    await world.book("call_767", at="15:00")

    days = await daily_stats(world.repository, days=3, zone=BERLIN, now=world.clock())

    assert [day.to_json() for day in days] == [
        {
            "date": "2025-10-07",
            "calls": 0,
            "bookings": 0,
            "duplicates": 0,
            "conflicts": 0,
            "errors": 0,
            "orphaned_calls": 0,
            "duplicate_rate": 0.0,
        },
        {
            "date": "2025-10-08",
            "calls": 1,
            "bookings": 1,
            "duplicates": 0,
            "conflicts": 0,
            "errors": 0,
            "orphaned_calls": 0,
            "duplicate_rate": 0.0,
        },
        {
            "date": "2025-10-09",
            "calls": 2,
            "bookings": 1,
            "duplicates": 1,
            "conflicts": 0,
            "errors": 0,
            "orphaned_calls": 0,
            "duplicate_rate": 0.5,
        },
    ]


async def test_an_unlinked_call_is_orphaned_until_doctor_links_it(world: World) -> None:
    """The incident's second call counts as orphaned; after ``doctor --fix`` it does not."""
    await seed_incident(world)
    today = world.clock().astimezone(BERLIN).date()
    assert today == date(2025, 10, 9)

    before = await daily_stats(world.repository, days=1, zone=BERLIN, now=world.clock())
    doctor = Doctor(
        repository=world.repository,
        calcom=world.runtime.calcom,
        event_type_ids=[EVENT_TYPE_ID],
        timezone="Europe/Berlin",
        attendee_email_domain="phone.invalid",
        clock=world.clock,
    )
    await doctor.run(since=SINCE, fix=True)
    after = await daily_stats(world.repository, days=1, zone=BERLIN, now=world.clock())

    assert before[0].orphaned_calls == 1
    assert after[0].orphaned_calls == 0


async def test_a_question_naming_the_callers_appointment_is_no_orphan(world: World) -> None:
    """``check_availability`` telling a later call of the caller's appointment touches it not:
    neither ``stats`` nor the store's daily numbers count that call as orphaned."""
    await world.book("call_1")
    answer = await world.tool(
        "check_availability", {"date": "2025-10-10", "time": "11:00"}, call_id="call_2"
    )
    assert answer["status"] == "existing"
    today = world.clock().astimezone(BERLIN).date()

    days = await daily_stats(world.repository, days=1, zone=BERLIN, now=world.clock())
    periods = await world.repository.period_outcomes(  # type: ignore[attr-defined]
        [day_start(today, BERLIN), day_start(today + timedelta(days=1), BERLIN)]
    )

    assert (days[0].calls, days[0].orphaned_calls) == (2, 0)
    assert (periods[0].calls, periods[0].orphaned_calls) == (2, 0)
