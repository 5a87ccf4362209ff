"""The PostgreSQL slot cache keeps each business's Cal.com reads to itself, even when two
businesses on two Cal.com accounts book event types with the same id."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from retell_booking_tools.booking.availability import SlotReads
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.repository.slot_cache import PostgresSlotCache
from retell_booking_tools.testing import BusinessHours, CalcomEmulator, EventTypeSpec, FakeClock

EVENT_TYPE = 2563193
NOW = datetime(2025, 10, 8, 8, 0, tzinfo=UTC)
FRIDAY = date(2025, 10, 10)
BERLIN = ZoneInfo("Europe/Berlin")
KEY = f"{EVENT_TYPE}|{FRIDAY.isoformat()}|Europe/Berlin"
WINDOW = (datetime(2025, 10, 3, tzinfo=UTC), datetime(2025, 10, 18, tzinfo=UTC))
NINE = datetime(2025, 10, 10, 7, 0, tzinfo=UTC)
TEN = NINE + timedelta(hours=1)

pytestmark = pytest.mark.postgres


async def _caches(make_repository: Any) -> tuple[PostgresSlotCache, PostgresSlotCache]:
    repository = await make_repository("postgres")
    return (
        PostgresSlotCache(repository.engine, business_id="praxis-spitzer"),
        PostgresSlotCache(repository.engine, business_id="salon-ana"),
    )


async def test_a_read_of_one_business_is_not_found_by_another(make_repository: Any) -> None:
    """Same event type id, day and zone: the other business reads its own Cal.com."""
    praxis, salon = await _caches(make_repository)

    await praxis.put(
        KEY, event_type_id=EVENT_TYPE, window=WINDOW, slots=(NINE, TEN), fetched_at=NOW
    )

    assert await salon.get(KEY, fresh_after=NOW - timedelta(seconds=5)) is None
    assert await praxis.get(KEY, fresh_after=NOW - timedelta(seconds=5)) == ((NINE, TEN), [])


async def test_a_booking_or_a_change_in_one_business_leaves_the_others_read_alone(
    make_repository: Any,
) -> None:
    """``booked`` and ``touched`` reach the rows of their own business only."""
    praxis, salon = await _caches(make_repository)
    for cache in (praxis, salon):
        await cache.put(
            KEY, event_type_id=EVENT_TYPE, window=WINDOW, slots=(NINE, TEN), fetched_at=NOW
        )
    fresh = NOW - timedelta(seconds=5)

    await praxis.booked(NINE, TEN, EVENT_TYPE)

    assert await praxis.get(KEY, fresh_after=fresh) == ((NINE, TEN), [(NINE, TEN)])
    assert await salon.get(KEY, fresh_after=fresh) == ((NINE, TEN), [])

    await salon.touched(NINE, EVENT_TYPE)

    assert await salon.get(KEY, fresh_after=fresh) is None
    assert await praxis.get(KEY, fresh_after=fresh) is not None


def _account(opens: int) -> CalcomEmulator:
    """A Cal.com account whose one event type ``EVENT_TYPE`` opens at ``opens`` o'clock."""
    emulator = CalcomEmulator(api_key=f"cal_test_{opens}", clock=FakeClock(NOW))
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE,
            title="Beratung",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(opens), closes=time(opens + 2)
            ),
        )
    )
    return emulator


async def test_two_businesses_with_one_event_type_id_on_two_accounts_each_hear_their_own(
    make_repository: Any,
) -> None:
    """Two accounts (two Cal.com hosts) that both have event type 2563193: each business's
    slot reads ask its own account and answer its own free starts, never the other's."""
    praxis_cache, salon_cache = await _caches(make_repository)
    early, late = _account(opens=9), _account(opens=14)
    clock = FakeClock(NOW)
    async with (
        CalcomClient(api_key="cal_test_9", transport=early.transport) as praxis_calcom,
        CalcomClient(
            api_key="cal_test_14", base_url="https://api.cal.eu/v2", transport=late.transport
        ) as salon_calcom,
    ):
        praxis = SlotReads(praxis_calcom, clock=clock, shared=praxis_cache)
        salon = SlotReads(salon_calcom, clock=clock, shared=salon_cache)

        praxis_starts = await praxis.around(EVENT_TYPE, FRIDAY, BERLIN)
        salon_starts = await salon.around(EVENT_TYPE, FRIDAY, BERLIN)

    def friday(starts: tuple[datetime, ...]) -> list[str]:
        return [s.astimezone(BERLIN).strftime("%H:%M") for s in starts if s.date() == FRIDAY]

    assert friday(praxis_starts) == ["09:00", "10:00"]
    assert friday(salon_starts) == ["14:00", "15:00"]
    assert sum(r.path == "/v2/slots" for r in early.requests) == 1
    assert sum(r.path == "/v2/slots" for r in late.requests) == 1


async def test_concurrent_bookings_across_processes_never_deadlock_on_the_shared_reads(
    databases: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every booking updates each read whose window holds it, and a change deletes them:
    many at once from two processes lock the rows in one order, so none waits for a
    deadlock to be detected (a second, seconds long, with the connection held) and every
    booking is left out of every read that holds it."""
    database = databases.create("postgres")
    first, second = await databases.open(database), await databases.open(database)
    caches = [PostgresSlotCache(repository.engine) for repository in (first, second)]
    days = [FRIDAY + timedelta(days=offset) for offset in range(12)]
    for day in days:
        await caches[0].put(
            f"{EVENT_TYPE}|{day.isoformat()}|Europe/Berlin",
            event_type_id=EVENT_TYPE,
            window=WINDOW,
            slots=(NINE, TEN),
            fetched_at=NOW,
        )
    starts = [NINE + timedelta(minutes=15 * index) for index in range(48)]

    async def book(index: int, start: datetime) -> None:
        await caches[index % 2].booked(start, start + timedelta(minutes=15), EVENT_TYPE)

    with caplog.at_level("WARNING"):
        await asyncio.gather(*(book(index, start) for index, start in enumerate(starts)))

    assert not [r for r in caplog.records if "Deadlock" in r.getMessage()]
    for day in days:
        read = await caches[1].get(
            f"{EVENT_TYPE}|{day.isoformat()}|Europe/Berlin", fresh_after=NOW - timedelta(1)
        )
        assert read is not None
        assert sorted(start for start, _ in read[1]) == starts
