"""Rate limit: 300 function calls in one minute on one Cal.com API key.

    python benchmarks/rate_limit.py [--calls 300] [--seconds 60] [--replicas 1|2]
                                    [--database memory|postgres] [--json PATH] [--quick]

The Cal.com emulator enforces Cal.com's limit for API keys: 120 requests a minute, then a
60-second block of the key, 429 without ``Retry-After`` (apps/api/v2/src/lib/
throttler-guard.ts). It answers after 50 ms, like a real round trip. Callers arrive evenly
over ``seconds``: five in six ask ``check_availability`` for one of the next five working
days; one in six is a booking of a start the caller was just offered (in the same call). With
``--replicas 2 --database postgres`` two backends share one PostgreSQL store, as two
server processes would, and so one budget.

Reported: the requests that reached Cal.com, the 429s it answered, and how many callers
heard ``error``. Targets (printed, not enforced): 0 429s, 0 errors. ``--quick`` runs 60
calls in 12 seconds: it checks that the benchmark still runs. ``--unguarded`` turns the
request budget and the shared slot reads off, to show what the same line did without them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from harness import database, machine, verdict, write_json
from pydantic import SecretStr

from retell_booking_tools.config import Settings
from retell_booking_tools.repository.factory import open_repository
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
)

CALCOM_KEY = "cal_bench_rate_limit_key"
RETELL_KEY = "retell_bench_key"
EVENT_TYPE_ID = 4242
LATENCY_SECONDS = 0.05


def _emulator() -> CalcomEmulator:
    emulator = CalcomEmulator(
        api_key=CALCOM_KEY, rate_limit_per_minute=120, latency_seconds=LATENCY_SECONDS
    )
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Consultation",
            length_minutes=30,
            timezone="UTC",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=clock_time(9), closes=clock_time(17)
            ),
        )
    )
    return emulator


def _days(count: int) -> list[date]:
    days: list[date] = []
    day = datetime.now(UTC).date()
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


@contextlib.asynccontextmanager
async def _replica(
    database_url: str, emulator: CalcomEmulator, *, unguarded: bool
) -> AsyncIterator[tuple[Runtime, RetellSimulator]]:
    guard = {"calcom_rate_limit": 0, "slots_reuse_seconds": 0} if unguarded else {}
    settings = Settings(
        **guard,
        calcom_api_key=SecretStr(CALCOM_KEY),
        calcom_event_type_id=EVENT_TYPE_ID,
        retell_api_key=SecretStr(RETELL_KEY),
        database_url=database_url,
        timezone="UTC",
        phone_region="DE",
    )
    repository = await open_repository(database_url)
    runtime = await build_runtime(
        settings, repository=repository, calcom_transport=emulator.transport
    )
    retell = RetellSimulator.for_app(create_app(runtime=runtime), api_key=RETELL_KEY)
    try:
        yield runtime, retell
    finally:
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()
        await repository.close()


async def _caller(
    retell: RetellSimulator, number: int, day: date, books: bool, rng: random.Random
) -> list[str]:
    """One caller: availability for a day, then (for some) a booking of an offered start."""
    call = retell.call_object(f"call_{number}", from_number=f"+49151{number:08d}")
    heard: list[str] = []
    response = await retell.function_call(
        "check_availability", {"date": day.isoformat()}, call=call
    )
    answer: dict[str, Any] = response.json()
    heard.append(answer["status"])
    if books and answer.get("slots"):
        start = datetime.fromisoformat(rng.choice(answer["slots"]))
        args = {
            "customer_name": "Rate Limit",
            "date": start.date().isoformat(),
            "time": start.strftime("%H:%M"),
        }
        booked = await retell.function_call("collect_appointment_data", args, call=call)
        heard.append(booked.json()["status"])
    return heard


async def run(
    calls: int, seconds: float, replicas: int, kind: str, seed: int, *, unguarded: bool = False
) -> dict[str, Any]:
    rng = random.Random(seed)
    emulator = _emulator()
    days = _days(5)
    # A booking caller makes two function calls; one caller in five books, so about one
    # function call in six is a booking.
    callers: list[tuple[date, bool]] = []
    made = 0
    while made < calls:
        books = rng.random() < 1 / 5 and made + 2 <= calls
        callers.append((rng.choice(days), books))
        made += 2 if books else 1
    with database(kind) if kind != "memory" else contextlib.nullcontext("memory://") as url:
        async with contextlib.AsyncExitStack() as stack:
            backends = [
                await stack.enter_async_context(_replica(url, emulator, unguarded=unguarded))
                for _ in range(replicas)
            ]
            started = time.monotonic()
            gap = seconds / max(len(callers), 1)
            tasks = []
            for number, (day, books) in enumerate(callers):
                retell = backends[number % replicas][1]
                tasks.append(asyncio.create_task(_caller(retell, number, day, books, rng)))
                await asyncio.sleep(gap)
            heard = [status for statuses in await asyncio.gather(*tasks) for status in statuses]
            elapsed = time.monotonic() - started
    statuses = Counter(heard)
    requests = emulator.requests
    return {
        "benchmark": "rate_limit",
        "function_calls": len(heard),
        "seconds": round(elapsed, 1),
        "replicas": replicas,
        "budget_and_shared_slot_reads": not unguarded,
        "database": kind,
        "calcom_requests": len(requests),
        "calcom_slot_reads": sum(1 for r in requests if r.path == "/v2/slots"),
        "calcom_writes": sum(1 for r in requests if r.method == "POST"),
        "calcom_429s": emulator.throttled_count(),
        "callers_heard_error": statuses.get("error", 0),
        "statuses": dict(sorted(statuses.items())),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=300, help="function calls to make")
    parser.add_argument("--seconds", type=float, default=60.0, help="spread over this long")
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    parser.add_argument("--database", choices=("memory", "postgres"), default="memory")
    parser.add_argument("--seed", type=int, default=14, help="seed of the call mix")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--quick", action="store_true", help="60 calls in 12 s: still runs")
    parser.add_argument(
        "--unguarded",
        action="store_true",
        help="no request budget, no shared slot reads: what a busy line did before",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.seconds = 60, 12.0
    if args.replicas == 2 and args.database == "memory":
        parser.error("two replicas share a budget only through PostgreSQL: --database postgres")
    summary = asyncio.run(
        run(
            args.calls,
            args.seconds,
            args.replicas,
            args.database,
            args.seed,
            unguarded=args.unguarded,
        )
    )
    write_json(args.json, summary)
    for name in (
        "function_calls",
        "seconds",
        "calcom_requests",
        "calcom_slot_reads",
        "calcom_writes",
        "calcom_429s",
        "callers_heard_error",
    ):
        print(f"{name:>22}: {summary[name]}")
    print(f"{'statuses':>22}: {summary['statuses']}")
    print(f"{'0 429s':>22}: {verdict(summary['calcom_429s'] == 0)}")
    print(f"{'0 errors':>22}: {verdict(summary['callers_heard_error'] == 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
