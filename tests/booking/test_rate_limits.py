"""Cal.com's 120 requests a minute per API key, kept by every replica together."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from agent_backend import CALCOM_KEY, CALLER, DAY_ONE, RETELL_KEY, make_emulator, make_settings

from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import CalcomEmulator, FakeClock, RetellSimulator

if TYPE_CHECKING:
    from conftest import Databases

    from retell_booking_tools.repository.protocol import Repository

BUSY = (
    "The booking system is very busy right now, so I couldn't do that. Nothing has been "
    "booked or changed; shall I try again in a minute?"
)
WEEKDAYS = [DAY_ONE.date() + timedelta(days=n) for n in range(1, 60)]
WEEKDAYS = [day for day in WEEKDAYS if day.weekday() < 5]


@contextlib.asynccontextmanager
async def _replica(
    repository: Repository, emulator: CalcomEmulator, clock: FakeClock, **settings: Any
) -> AsyncIterator[tuple[Runtime, RetellSimulator]]:
    """One server process's worth of backend on ``repository``, talking to ``emulator``."""
    runtime = await build_runtime(
        make_settings(**settings),
        repository=repository,
        calcom_transport=emulator.transport,
        clock=clock,
    )
    retell = RetellSimulator.for_app(
        create_app(runtime=runtime, clock=clock), api_key=RETELL_KEY, clock=clock
    )
    try:
        yield runtime, retell
    finally:
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()


async def _ask(retell: RetellSimulator, call_id: str, day: date) -> dict[str, Any]:
    call = retell.call_object(call_id, from_number=CALLER)
    response = await retell.function_call(
        "check_availability", {"date": day.isoformat()}, call=call
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_share_one_keys_budget_and_stay_under_it(
    databases: Databases,
) -> None:
    """Cal.com (limit 10) never answers 429; callers past the budget hear ``error`` at once."""
    clock = FakeClock(DAY_ONE)
    emulator = CalcomEmulator(api_key=CALCOM_KEY, clock=clock, rate_limit_per_minute=10)
    emulator.add_event_type(make_emulator(clock).event_types[0])
    database = databases.create("postgres")
    stores = [await databases.open(database), await databases.open(database)]
    async with (
        _replica(stores[0], emulator, clock, calcom_rate_limit=10) as (_, first),
        _replica(stores[1], emulator, clock, calcom_rate_limit=10) as (_, second),
    ):
        started = time.monotonic()
        answers = await asyncio.gather(
            *(_ask((first, second)[n % 2], f"call_{n}", WEEKDAYS[n]) for n in range(24))
        )
        elapsed = time.monotonic() - started

    statuses = [answer["status"] for answer in answers]
    slot_reads = [r for r in emulator.requests if r.path == "/v2/slots"]
    assert len(slot_reads) <= 10
    assert emulator.throttled_count() == 0
    assert statuses.count("available") == len(slot_reads)
    refused = [answer for answer in answers if answer["status"] == "error"]
    assert refused
    assert all(answer["message"] == BUSY for answer in refused)
    assert elapsed < 20


async def test_a_429_blocks_the_key_and_nothing_is_sent_into_the_block(
    repository: Repository,
) -> None:
    """Cal.com's block lasts a minute: the callers during it hear ``error`` at once, and
    not one request reaches Cal.com until it is over."""
    clock = FakeClock(DAY_ONE)
    emulator = CalcomEmulator(api_key=CALCOM_KEY, clock=clock, rate_limit_per_minute=3)
    emulator.add_event_type(make_emulator(clock).event_types[0])
    async with _replica(repository, emulator, clock) as (_, retell):
        before = [await _ask(retell, f"call_{n}", WEEKDAYS[n]) for n in range(4)]
        sent = len(emulator.requests)
        during = [await _ask(retell, f"later_{n}", WEEKDAYS[10 + n]) for n in range(3)]
        sent_during = len(emulator.requests) - sent
        clock.advance(timedelta(seconds=61))
        after = await _ask(retell, "after", WEEKDAYS[20])

    assert [a["status"] for a in before] == ["available", "available", "available", "error"]
    assert sent == 4
    assert emulator.throttled_count() == 1
    assert [a["status"] for a in during] == ["error"] * 3
    assert all(a["message"] == BUSY for a in during)
    assert sent_during == 0
    assert after["status"] == "available"


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_share_slot_reads_and_what_was_booked(
    databases: Databases,
) -> None:
    """One replica reads a day, the other reuses it, and neither offers what either booked."""
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    database = databases.create("postgres")
    stores = [await databases.open(database), await databases.open(database)]
    day = date(2025, 10, 10)
    async with (
        _replica(stores[0], emulator, clock) as (_, first),
        _replica(stores[1], emulator, clock) as (_, second),
    ):
        before = [await _ask(first, "call_a", day)]
        before += await asyncio.gather(_ask(second, "call_b", day), _ask(second, "call_c", day))
        call = first.call_object("call_a", from_number=CALLER)
        booked = await first.function_call(
            "collect_appointment_data",
            {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"},
            call=call,
        )
        after = await _ask(second, "call_d", day)

    reads = [r for r in emulator.requests if r.path == "/v2/slots"]
    assert [answer["status"] for answer in before] == ["available"] * 3
    assert booked.json()["status"] == "booked"
    assert len(reads) == 1
    assert "2025-10-10T11:00:00+02:00" in before[0]["slots"]
    assert "2025-10-10T11:00:00+02:00" not in after["slots"]
