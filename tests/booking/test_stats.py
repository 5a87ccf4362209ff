"""``daily_stats`` over real tool calls: the duplicate shows, and so does an unlinked call."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from agent_backend import EVENT_TYPE_ID, World
from test_doctor import SINCE, seed_incident

from retell_booking_tools.ops.doctor import Doctor
from retell_booking_tools.ops.stats import daily_stats

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
