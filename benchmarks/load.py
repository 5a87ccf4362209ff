"""Load: many simulated Retell calls at once, then a check that nothing was lost or doubled.

    python benchmarks/load.py [--calls 2000] [--concurrency 64] [--database sqlite|postgres]
                              [--json PATH] [--quick]
    python benchmarks/load.py --memory [--database sqlite|postgres] [--quick]

The app runs in one uvicorn process (one worker) on loopback; the Cal.com emulator
answers at zero latency, so the figure is the app's own throughput. Workers play Retell
calls from a realistic mix, each a few function calls:

- 45 % a new caller books a free slot (``booked``);
- 20 % a repeat caller asks again for the slot they hold (``existing``), and half of them
  keep it (``confirm_existing``: ``confirmed``);
- 10 % Retell re-sends a delivery, half of the time while the first is still running
  (both answers ``booked``, one booking);
- 10 % a caller asks for a slot another caller holds (``conflict``);
- 10 % the model sends a date that cannot be read (``invalid``);
- 5 % ``check_availability`` for a day, when the app serves it (else a new booking).

``calls`` counts function calls (HTTP deliveries). Afterwards the Cal.com emulator and the
store are compared: ``double_bookings`` counts starts Cal.com holds more than once;
``lost_links`` counts answers naming an appointment the call is not linked to (with the
right relationship) plus Cal.com bookings we created that have no stored appointment with
an ``original`` link. Targets (printed; ``--strict`` exits 1 when one is missed): zero
5xx, zero double bookings, zero lost links; at least 400 function calls per second per
process on SQLite; on PostgreSQL at least 300 per second at no more than 2.5 ms of the
app's CPU per call.

After the mix, as many calls go to the baseline app (``baseline.py``, beside the app on
the same emulator and server flags), each forwarded to Cal.com as one booking of a fresh
start, at the same concurrency: ``baseline`` in the summary holds its throughput and the
CPU its process spent per call, the least a backend can spend here.

``--memory`` runs the same mix for 100,000 function calls (``--quick``: 2,000) and reads
the app process's resident memory after the first tenth and at the end; target: the end
within 10 % of the first reading (no growth per call). It books on 5-minute slots, so a
year holds enough of them.

The benchmark's own process (Retell's side and the emulator) needs CPU too, so on a small
machine the throughput can be capped by it rather than the app. ``app_cpu_ms_per_call``
(where Linux tells, else ``null``) is the CPU time the app's process spent per function
call, and ``app_calls_per_cpu_second`` what one fully busy core would serve at that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from contextvars import ContextVar
from typing import Any

import attrs
import httpx
from baseline import FORWARD
from harness import (
    SLOT_MINUTES,
    Backend,
    BenchmarkBroken,
    Callers,
    Slots,
    cpu_ms_per_call,
    cpu_seconds,
    machine,
    percentile,
    rounded,
    rss_bytes,
    running_backend,
    serves_tool,
    slot_args,
    verdict,
    write_json,
)

from retell_booking_tools.domain import Relationship
from retell_booking_tools.testing import RetellSimulator

BOOK = "collect_appointment_data"
_worker_retell: ContextVar[RetellSimulator] = ContextVar("worker_retell")
"""The client of the worker task running (each gathered worker runs in its own context)."""
THROUGHPUT_TARGET = {"sqlite": 400.0, "postgres": 300.0}
CPU_MS_PER_CALL_TARGET = {"postgres": 2.5}
MEMORY_GROWTH_TARGET = 0.10
MEMORY_SLOT_MINUTES = 5
EXPECTED_LINK = {
    "booked": Relationship.ORIGINAL,
    "existing": Relationship.DUPLICATE_ATTEMPT,
    "confirmed": Relationship.CONFIRMATION,
}


@attrs.frozen
class Holding:
    """A caller and the slot they hold, for repeat calls and conflicts."""

    caller: str
    args: dict[str, str]


@attrs.define
class Tally:
    """Everything the workers saw."""

    latencies_ms: list[float] = attrs.Factory(list)
    http_statuses: Counter[int] = attrs.Factory(Counter)
    statuses: Counter[str] = attrs.Factory(Counter)
    unexpected: Counter[str] = attrs.Factory(Counter)
    transport_errors: Counter[str] = attrs.Factory(Counter)
    answers: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)
    """(call id, answer) for every answer that names an appointment."""


class LoadRun:
    def __init__(
        self,
        backend: Backend,
        *,
        calls: int,
        seed: int,
        availability: bool,
        slot_minutes: int = SLOT_MINUTES,
        keep_answers: bool = True,
    ) -> None:
        self._backend = backend
        self._budget = calls
        self._random = random.Random(seed)
        self.slots = Slots(slot_minutes)
        """Every start this run books, and those the baseline books after it."""
        self._keep_answers = keep_answers
        self._callers = Callers()
        self._holdings: list[Holding] = []
        self._availability = availability
        self.tally = Tally()

    @property
    def _retell(self) -> RetellSimulator:
        return _worker_retell.get(self._backend.retell)

    def add_calls(self, calls: int) -> None:
        self._budget += calls

    async def worker(self) -> None:
        """One simulated Retell connection at a time; its client is its own (see harness)."""
        async with self._backend.own_retell(connections=2) as retell:
            _worker_retell.set(retell)
            while self._budget > 0:
                await self._scenario(self._random.random())

    async def _scenario(self, roll: float) -> None:
        if roll < 0.45 or (roll < 0.85 and not self._holdings):
            await self._new_booking()
        elif roll < 0.65:
            await self._repeat_caller()
        elif roll < 0.75:
            await self._retried_delivery()
        elif roll < 0.85:
            await self._taken_slot()
        elif roll < 0.95:
            await self._invalid()
        elif self._availability:
            await self._check_availability()
        else:
            await self._new_booking()

    async def _send(self, tool: str, body: bytes, call_id: str, expect: str) -> dict[str, Any]:
        self._budget -= 1
        started = time.perf_counter()
        try:
            response = await self._retell.post(tool, body)
        except httpx.TransportError as exc:
            self.tally.transport_errors[type(exc).__name__] += 1
            return {}
        finally:
            self.tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.tally.http_statuses[response.status_code] += 1
        if response.status_code != 200:
            return {}
        answer: dict[str, Any] = response.json()
        status = answer["status"]
        self.tally.statuses[status] += 1
        if status != expect:
            self.tally.unexpected[f"{tool}: {status} (expected {expect})"] += 1
        if "appointment" in answer and self._keep_answers:
            self.tally.answers.append((call_id, answer))
        return answer

    async def _call(
        self, tool: str, args: dict[str, Any], *, caller: str, expect: str, call_id: str = ""
    ) -> dict[str, Any]:
        call_id = call_id or f"call_{uuid.uuid4().hex}"
        body = self._retell.body(
            tool, args, RetellSimulator.call_object(call_id, from_number=caller)
        )
        return await self._send(tool, body, call_id, expect)

    def _fresh(self) -> tuple[str, dict[str, str]]:
        args = {"customer_name": "Erika Mustermann", **slot_args(self.slots.take())}
        return self._callers.take(), args

    async def _new_booking(self) -> None:
        caller, args = self._fresh()
        answer = await self._call(BOOK, args, caller=caller, expect="booked")
        if answer.get("status") == "booked":
            self._holdings.append(Holding(caller, args))

    async def _repeat_caller(self) -> None:
        holding = self._random.choice(self._holdings)
        call_id = f"call_{uuid.uuid4().hex}"
        answer = await self._call(
            BOOK, holding.args, caller=holding.caller, expect="existing", call_id=call_id
        )
        if answer.get("status") == "existing" and self._random.random() < 0.5:
            uid = answer["appointment"]["booking_uid"]
            await self._call(
                "confirm_existing",
                {"booking_uid": uid},
                caller=holding.caller,
                expect="confirmed",
                call_id=call_id,
            )

    async def _retried_delivery(self) -> None:
        caller, args = self._fresh()
        call_id = f"call_{uuid.uuid4().hex}"
        body = self._retell.body(
            BOOK, args, RetellSimulator.call_object(call_id, from_number=caller)
        )
        if self._random.random() < 0.5:
            await self._send(BOOK, body, call_id, "booked")
            await self._send(BOOK, body, call_id, "booked")
        else:
            await asyncio.gather(
                self._send(BOOK, body, call_id, "booked"), self._send(BOOK, body, call_id, "booked")
            )
        self._holdings.append(Holding(caller, args))

    async def _taken_slot(self) -> None:
        holding = self._random.choice(self._holdings)
        await self._call(BOOK, holding.args, caller=self._callers.take(), expect="conflict")

    async def _invalid(self) -> None:
        caller, args = self._fresh()
        await self._call(BOOK, {**args, "date": "the day after"}, caller=caller, expect="invalid")

    async def _check_availability(self) -> None:
        caller, args = self._fresh()
        await self._call(
            "check_availability", {"date": args["date"]}, caller=caller, expect="available"
        )


async def audit(backend: Backend, tally: Tally) -> dict[str, int]:
    """Compare Cal.com with the store: doubled bookings and links that should exist."""
    active = [b for b in backend.calcom.bookings if b.is_active]
    per_start = Counter(b.start for b in active)
    double_bookings = sum(count - 1 for count in per_start.values() if count > 1)
    store = await backend.open_store()
    lost = 0
    try:
        for call_id, answer in tally.answers:
            expected = EXPECTED_LINK.get(answer["status"])
            if expected is None:
                continue
            appointment = await store.get_appointment_by_uid(answer["appointment"]["booking_uid"])
            links = await store.links_for_call(call_id)
            if appointment is None or not any(
                link.appointment_id == appointment.id and link.relationship is expected
                for link in links
            ):
                lost += 1
        created = [b for b in backend.calcom.bookings if "retell_call_id" in b.metadata]
        for booking in created:
            appointment = await store.get_appointment_by_uid(booking.uid)
            links = await store.links_for_appointment(appointment.id) if appointment else []
            if not any(link.relationship is Relationship.ORIGINAL for link in links):
                lost += 1
    finally:
        await store.close()
    return {"double_bookings": double_bookings, "lost_links": lost}


async def baseline_load(
    backend: Backend, slots: Slots, *, calls: int, concurrency: int
) -> dict[str, Any]:
    """The baseline app (``baseline.py``) forwarding ``calls`` bookings of fresh starts to
    the same emulator, ``concurrency`` at a time: what the least a backend can do costs
    per function call on this machine, beside the app's mix."""
    assert backend.baseline is not None
    assert backend.baseline_pid is not None
    retell, callers, budget = backend.baseline, Callers(), [calls]

    async def worker() -> None:
        while budget[0] > 0:
            budget[0] -= 1
            call = RetellSimulator.call_object(
                f"call_{uuid.uuid4().hex}", from_number=callers.take()
            )
            args = {"customer_name": "Erika Mustermann", **slot_args(slots.take())}
            response = await retell.function_call(FORWARD, args, call=call)
            if response.status_code != 200 or response.json()["status"] != "booked":
                raise BenchmarkBroken(f"the baseline answered {response.text}")

    cpu_before = cpu_seconds(backend.baseline_pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(backend.baseline_pid)
    return {
        "calls": calls,
        "throughput_per_s": rounded(calls / elapsed),
        "cpu_ms_per_call": cpu_ms_per_call(cpu_before, cpu_after, calls),
    }


async def run(calls: int, concurrency: int, database: str, seed: int) -> dict[str, Any]:
    async with running_backend(
        latency_seconds=0.0, database_kind=database, connections=concurrency * 2, baseline=True
    ) as backend:
        availability = await serves_tool(backend.retell, "check_availability")
        bench = LoadRun(backend, calls=calls, seed=seed, availability=availability)
        cpu_before = cpu_seconds(backend.app.pid)
        started = time.perf_counter()
        await asyncio.gather(*(bench.worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(backend.app.pid)
        found = await audit(backend, bench.tally)
        baseline = await baseline_load(backend, bench.slots, calls=calls, concurrency=concurrency)
    tally = bench.tally
    done = len(tally.latencies_ms)
    summary: dict[str, Any] = {
        "calls": done,
        "concurrency": concurrency,
        "database": database,
        "throughput_per_s": rounded(done / elapsed),
        "p50_ms": rounded(percentile(tally.latencies_ms, 50)),
        "p99_ms": rounded(percentile(tally.latencies_ms, 99)),
        "errors_5xx": sum(n for code, n in tally.http_statuses.items() if code >= 500),
        "errors_transport": sum(tally.transport_errors.values()),
        "transport_errors": dict(tally.transport_errors),
        "double_bookings": found["double_bookings"],
        "lost_links": found["lost_links"],
        "statuses": dict(tally.statuses),
        "unexpected_statuses": dict(tally.unexpected),
        "http_statuses": {str(code): n for code, n in sorted(tally.http_statuses.items())},
        "calcom_requests": len(backend.calcom.requests),
        "duration_s": rounded(elapsed),
        "app_cpu_ms_per_call": cpu_ms_per_call(cpu_before, cpu_after, done),
        "app_calls_per_cpu_second": None,
        "processes": 1,
        "baseline": baseline,
        "machine": machine(),
    }
    if summary["app_cpu_ms_per_call"] is not None:
        summary["app_calls_per_cpu_second"] = rounded(1000 / summary["app_cpu_ms_per_call"])
    summary["throughput_per_process_per_s"] = summary["throughput_per_s"]
    summary["targets"] = {
        "zero_5xx": summary["errors_5xx"] == 0 and summary["errors_transport"] == 0,
        "zero_double_bookings": summary["double_bookings"] == 0,
        "zero_lost_links": summary["lost_links"] == 0,
        "throughput": summary["throughput_per_s"] >= THROUGHPUT_TARGET[database],
    }
    if database in CPU_MS_PER_CALL_TARGET:
        cpu = summary["app_cpu_ms_per_call"]
        summary["targets"]["app_cpu"] = cpu is not None and cpu <= CPU_MS_PER_CALL_TARGET[database]
    return summary


async def run_memory(calls: int, concurrency: int, database: str, seed: int) -> dict[str, Any]:
    """The mix for ``calls`` function calls; the app's RSS after a tenth of them and at the end."""
    first = calls // 10
    async with running_backend(
        latency_seconds=0.0,
        database_kind=database,
        connections=concurrency * 2,
        slot_minutes=MEMORY_SLOT_MINUTES,
    ) as backend:
        availability = await serves_tool(backend.retell, "check_availability")
        bench = LoadRun(
            backend,
            calls=first,
            seed=seed,
            availability=availability,
            slot_minutes=MEMORY_SLOT_MINUTES,
            keep_answers=False,
        )
        started = time.perf_counter()
        await asyncio.gather(*(bench.worker() for _ in range(concurrency)))
        rss_first = rss_bytes(backend.app.pid)
        bench.add_calls(calls - first)
        await asyncio.gather(*(bench.worker() for _ in range(concurrency)))
        rss_last = rss_bytes(backend.app.pid)
        elapsed = time.perf_counter() - started
    tally = bench.tally
    done = len(tally.latencies_ms)
    growth = None
    if rss_first and rss_last:
        growth = round(rss_last / rss_first - 1, 4)
    errors = sum(n for code, n in tally.http_statuses.items() if code >= 500)
    errors += sum(tally.transport_errors.values())
    return {
        "mode": "memory",
        "calls": done,
        "first_reading_after": first,
        "database": database,
        "concurrency": concurrency,
        "rss_first_mib": None if rss_first is None else rounded(rss_first / 2**20),
        "rss_last_mib": None if rss_last is None else rounded(rss_last / 2**20),
        "growth": growth,
        "errors_5xx": errors,
        "duration_s": rounded(elapsed),
        "statuses": dict(tally.statuses),
        "machine": machine(),
        "targets": {
            "steady_memory": growth is not None and growth <= MEMORY_GROWTH_TARGET,
            "zero_5xx": errors == 0,
        },
    }


def print_memory(summary: dict[str, Any]) -> None:
    targets = summary["targets"]
    print(
        f"memory: {summary['calls']} function calls, {summary['database']}, concurrency "
        f"{summary['concurrency']}, load average {summary['machine']['load_average']}"
    )
    print(
        f"  RSS after {summary['first_reading_after']}: {summary['rss_first_mib']} MiB; after "
        f"{summary['calls']}: {summary['rss_last_mib']} MiB (growth {summary['growth']:+.1%})  "
        f"{verdict(targets['steady_memory'])}"
    )
    print(f"  5xx: {summary['errors_5xx']}  {verdict(targets['zero_5xx'])}")


def print_table(summary: dict[str, Any]) -> None:
    targets = summary["targets"]
    print(
        f"load: {summary['calls']} function calls, concurrency {summary['concurrency']}, "
        f"{summary['database']}, Cal.com at zero latency, {summary['machine']['cpus']} CPUs"
    )
    rows = [
        ("throughput", f"{summary['throughput_per_s']:.0f}/s", targets["throughput"]),
        ("per process", f"{summary['throughput_per_process_per_s']:.0f}/s", None),
        ("p50 / p99", f"{summary['p50_ms']:.1f} / {summary['p99_ms']:.1f} ms", None),
        ("5xx", str(summary["errors_5xx"] + summary["errors_transport"]), targets["zero_5xx"]),
        ("double bookings", str(summary["double_bookings"]), targets["zero_double_bookings"]),
        ("lost links", str(summary["lost_links"]), targets["zero_lost_links"]),
    ]
    if summary["app_cpu_ms_per_call"] is not None:
        cpu = f"{summary['app_cpu_ms_per_call']:.2f} ms/call"
        rows.append(("app CPU", cpu, targets.get("app_cpu")))
    baseline = summary["baseline"]
    if baseline["cpu_ms_per_call"] is not None:
        cpu = f"{baseline['cpu_ms_per_call']:.2f} ms/call"
        rows.append(("baseline CPU", cpu, None))
    rows.append(("baseline", f"{baseline['throughput_per_s']:.0f}/s", None))
    for name, value, ok in rows:
        print(f"  {name:<16}{value:>20}  {'' if ok is None else verdict(ok)}")
    print(f"  statuses: {summary['statuses']}")
    print(f"  load average: {summary['machine']['load_average']}")
    if summary["unexpected_statuses"]:
        print(f"  unexpected: {summary['unexpected_statuses']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000, help="function calls to make")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=8, help="seed of the call mix")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--quick", action="store_true", help="200 calls: checks it still runs")
    parser.add_argument(
        "--memory", action="store_true", help="RSS after 10,000 and 100,000 calls (steady memory)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.memory:
        calls = 2_000 if args.quick else 100_000
        summary = asyncio.run(run_memory(calls, args.concurrency, args.database, args.seed))
        print_memory(summary)
        write_json(args.json, summary)
        return 1 if args.strict and not all(summary["targets"].values()) else 0
    if args.quick:
        args.calls, args.concurrency = 200, 16
    summary = asyncio.run(run(args.calls, args.concurrency, args.database, args.seed))
    print_table(summary)
    write_json(args.json, summary)
    missed = [name for name, ok in summary["targets"].items() if not ok]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
