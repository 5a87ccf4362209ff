"""Latency per tool path: what a caller waits, how many Cal.com round trips, our overhead.

    python benchmarks/latency.py [--rtt-ms 80] [--iterations 100] [--json PATH] [--quick]

The app runs in its own uvicorn process on loopback with SQLite (the embedded default) and
talks to the Cal.com emulator, which waits ``--rtt-ms`` on every request (a round trip to
Cal.com). Each path is measured on fresh callers and slots, interleaved, after a warm-up:

- ``booked_after_availability``: ``check_availability`` then ``collect_appointment_data``
  for the slot it offered, in one call (the booking call is measured; the availability
  call is reported as ``check_availability_*`` keys; skipped when the app has no
  ``check_availability`` tool);
- ``booked_cold``: ``collect_appointment_data`` for a free slot, nothing asked before;
- ``existing``: the same caller asks again for the slot they already hold;
- ``unavailable``: a slot Cal.com holds for someone the store does not know;
- ``confirmed``: ``confirm_existing`` after ``existing``;
- ``retried_delivery``: Retell re-sends a delivery that was already answered.

Overhead = end-to-end time minus the upstream time: how long the emulator held the
call's Cal.com requests (the injected RTT plus its own work, which a real Cal.com round
trip contains too and which runs in the benchmark's process, not the app's); requests
that overlap are waited for once, so their union counts, not their sum. What is left
is our code, the store and HTTP on loopback. ``overhead_vs_rtt_p99_ms`` subtracts only
the injected RTT (again as a union), counting the emulator's work as ours.
Targets (printed, not enforced): overhead p99 < 15 ms on every path; at most 1 Cal.com
request for ``booked_after_availability`` and ``existing``; none for ``retried_delivery``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import attrs
from harness import (
    EVENT_TYPE_ID,
    Backend,
    BenchmarkBroken,
    Callers,
    Slots,
    covered_seconds,
    machine,
    percentile,
    rounded,
    running_backend,
    serves_tool,
    slot_args,
    verdict,
    write_json,
)

from retell_booking_tools.testing import RetellSimulator

PATHS = (
    "booked_after_availability",
    "booked_cold",
    "existing",
    "unavailable",
    "confirmed",
    "retried_delivery",
)
OVERHEAD_P99_TARGET_MS = 15.0
MAX_CALCOM_REQUESTS = {"booked_after_availability": 1, "existing": 1, "retried_delivery": 0}
BOOK = "collect_appointment_data"


@attrs.frozen
class Sample:
    elapsed_ms: float
    calcom_requests: int
    upstream_ms: float
    """How long at least one Cal.com request was held by the emulator."""
    round_trips_ms: float
    """The same with each request held for exactly the injected RTT."""


@attrs.define
class Path:
    name: str
    samples: list[Sample] = attrs.Factory(list)
    skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {
                "skipped": self.skipped,
                "calcom_requests": None,
                "p50_ms": None,
                "p95_ms": None,
                "p99_ms": None,
                "overhead_p50_ms": None,
                "overhead_p99_ms": None,
                "overhead_vs_rtt_p99_ms": None,
            }
        elapsed = [s.elapsed_ms for s in self.samples]
        overhead = [s.elapsed_ms - s.upstream_ms for s in self.samples]
        overhead_vs_rtt = [s.elapsed_ms - s.round_trips_ms for s in self.samples]
        return {
            "calcom_requests": max(s.calcom_requests for s in self.samples),
            "calcom_requests_mean": rounded(
                sum(s.calcom_requests for s in self.samples) / len(self.samples)
            ),
            "samples": len(self.samples),
            "p50_ms": rounded(percentile(elapsed, 50)),
            "p95_ms": rounded(percentile(elapsed, 95)),
            "p99_ms": rounded(percentile(elapsed, 99)),
            "overhead_p50_ms": rounded(percentile(overhead, 50)),
            "overhead_p99_ms": rounded(percentile(overhead, 99)),
            "overhead_vs_rtt_p99_ms": rounded(percentile(overhead_vs_rtt, 99)),
        }


class LatencyRun:
    """Drives one backend through every path; each step checks the status it must get."""

    def __init__(self, backend: Backend, *, rtt_ms: float, with_availability: bool) -> None:
        self._backend = backend
        self._rtt = rtt_ms / 1000
        self._slots = Slots()
        self._callers = Callers()
        self._with_availability = with_availability
        self.availability_samples: list[Sample] = []

    @property
    def _retell(self) -> RetellSimulator:
        return self._backend.retell

    async def _call(
        self, tool: str, args: dict[str, Any], *, call_id: str, caller: str, expect: str
    ) -> tuple[dict[str, Any], Sample]:
        call = RetellSimulator.call_object(call_id, from_number=caller)
        return await self._send(tool, self._retell.body(tool, args, call), expect=expect)

    async def _send(self, tool: str, body: bytes, *, expect: str) -> tuple[dict[str, Any], Sample]:
        before = len(self._backend.calcom.requests)
        held_before = len(self._backend.upstream.held)
        started = time.perf_counter()
        response = await self._retell.post(tool, body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        requests = len(self._backend.calcom.requests) - before
        held = self._backend.upstream.held[held_before:]
        upstream_ms = covered_seconds(held) * 1000
        round_trips_ms = covered_seconds([(start, start + self._rtt) for start, _ in held]) * 1000
        if response.status_code != 200:
            raise BenchmarkBroken(f"{tool} answered HTTP {response.status_code}")
        answer: dict[str, Any] = response.json()
        if answer["status"] != expect:
            raise BenchmarkBroken(f"{tool} answered {answer['status']!r}, expected {expect!r}")
        return answer, Sample(elapsed_ms, requests, upstream_ms, round_trips_ms)

    @staticmethod
    def _call_id() -> str:
        return f"call_{uuid.uuid4().hex}"

    def _booking_args(self) -> dict[str, str]:
        return {"customer_name": "Erika Mustermann", **slot_args(self._slots.take())}

    async def booked_after_availability(self) -> Sample:
        args = self._booking_args()
        caller, call_id = self._callers.take(), self._call_id()
        check = {"date": args["date"], "time": args["time"]}
        _, checked = await self._call(
            "check_availability", check, call_id=call_id, caller=caller, expect="available"
        )
        self.availability_samples.append(checked)
        _, sample = await self._call(BOOK, args, call_id=call_id, caller=caller, expect="booked")
        return sample

    async def booked_cold(self) -> Sample:
        _, sample = await self._call(
            BOOK,
            self._booking_args(),
            call_id=self._call_id(),
            caller=self._callers.take(),
            expect="booked",
        )
        return sample

    async def existing_then_confirmed(self) -> tuple[Sample, Sample]:
        args, caller = self._booking_args(), self._callers.take()
        await self._call(BOOK, args, call_id=self._call_id(), caller=caller, expect="booked")
        second_call = self._call_id()
        answer, existing = await self._call(
            BOOK, args, call_id=second_call, caller=caller, expect="existing"
        )
        uid = answer["appointment"]["booking_uid"]
        _, confirmed = await self._call(
            "confirm_existing",
            {"booking_uid": uid},
            call_id=second_call,
            caller=caller,
            expect="confirmed",
        )
        return existing, confirmed

    async def unavailable(self) -> Sample:
        start = self._slots.take()
        self._backend.calcom.seed_booking(
            event_type_id=EVENT_TYPE_ID,
            start=start,
            attendee_name="Someone Else",
            attendee_email=f"other-{uuid.uuid4().hex}@example.com",
        )
        args = {"customer_name": "Erika Mustermann", **slot_args(start)}
        _, sample = await self._call(
            BOOK, args, call_id=self._call_id(), caller=self._callers.take(), expect="unavailable"
        )
        return sample

    async def retried_delivery(self) -> Sample:
        call = RetellSimulator.call_object(self._call_id(), from_number=self._callers.take())
        body = self._retell.body(BOOK, self._booking_args(), call)
        await self._send(BOOK, body, expect="booked")
        _, sample = await self._send(BOOK, body, expect="booked")
        return sample

    async def round(self, paths: dict[str, Path]) -> None:
        """One sample of every path, in a fixed order."""
        steps: list[tuple[str, Callable[[], Awaitable[Sample]]]] = [
            ("booked_cold", self.booked_cold),
            ("unavailable", self.unavailable),
            ("retried_delivery", self.retried_delivery),
        ]
        if self._with_availability:
            steps.insert(0, ("booked_after_availability", self.booked_after_availability))
        for name, step in steps:
            paths[name].samples.append(await step())
        existing, confirmed = await self.existing_then_confirmed()
        paths["existing"].samples.append(existing)
        paths["confirmed"].samples.append(confirmed)


async def run(rtt_ms: float, iterations: int, warmup: int) -> dict[str, Any]:
    async with running_backend(latency_seconds=rtt_ms / 1000, database_kind="sqlite") as backend:
        with_availability = await serves_tool(backend.retell, "check_availability")
        bench = LatencyRun(backend, rtt_ms=rtt_ms, with_availability=with_availability)
        discarded = {name: Path(name) for name in PATHS}
        for _ in range(warmup):
            await bench.round(discarded)
        paths = {name: Path(name) for name in PATHS}
        if not with_availability:
            paths[
                "booked_after_availability"
            ].skipped = "the app serves no check_availability tool (404)"
        started = time.perf_counter()
        for _ in range(iterations):
            await bench.round(paths)
        duration = timedelta(seconds=time.perf_counter() - started)
    summaries = {name: path.summary() for name, path in paths.items()}
    if with_availability:
        checked = bench.availability_samples[-iterations:]
        summaries["booked_after_availability"].update(
            check_availability_calcom_requests=max(s.calcom_requests for s in checked),
            check_availability_p50_ms=rounded(percentile([s.elapsed_ms for s in checked], 50)),
            check_availability_p99_ms=rounded(percentile([s.elapsed_ms for s in checked], 99)),
        )
    return {
        "rtt_ms": rtt_ms,
        "database": "sqlite",
        "iterations": iterations,
        "duration_s": rounded(duration.total_seconds()),
        "machine": machine(),
        "paths": summaries,
        "targets": targets(summaries),
    }


def targets(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, summary in summaries.items():
        if summary.get("skipped"):
            results[name] = None
            continue
        ok = summary["overhead_p99_ms"] < OVERHEAD_P99_TARGET_MS
        if name in MAX_CALCOM_REQUESTS:
            ok = ok and summary["calcom_requests"] <= MAX_CALCOM_REQUESTS[name]
        results[name] = ok
    return results


def print_table(summary: dict[str, Any]) -> None:
    print(
        f"latency: RTT {summary['rtt_ms']:g} ms, SQLite, {summary['iterations']} samples per "
        f"path, {summary['machine']['cpus']} CPUs"
    )
    header = ("path", "calcom", "p50 ms", "p95 ms", "p99 ms", "overhead p50/p99", "target")
    print(
        f"{header[0]:<27}{header[1]:>7}{header[2]:>9}{header[3]:>9}{header[4]:>9}"
        f"{header[5]:>18}  {header[6]}"
    )
    for name, path in summary["paths"].items():
        if path.get("skipped"):
            print(f"{name:<27}  skipped: {path['skipped']}")
            continue
        target = summary["targets"][name]
        overhead = f"{path['overhead_p50_ms']:.1f} / {path['overhead_p99_ms']:.1f}"
        print(
            f"{name:<27}{path['calcom_requests']:>7}{path['p50_ms']:>9.1f}{path['p95_ms']:>9.1f}"
            f"{path['p99_ms']:>9.1f}{overhead:>18}  {verdict(target)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rtt-ms", type=float, default=80.0, help="Cal.com round trip (ms)")
    parser.add_argument("--iterations", type=int, default=100, help="samples per path")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="a few samples at 5 ms RTT: checks it still runs"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.rtt_ms, args.iterations, args.warmup = 5.0, 3, 1
    summary = asyncio.run(run(args.rtt_ms, args.iterations, args.warmup))
    print_table(summary)
    write_json(args.json, summary)
    missed = [name for name, ok in summary["targets"].items() if ok is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
