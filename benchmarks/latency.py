"""Latency per tool path beside the least any backend can do, on SQLite or PostgreSQL.

    python benchmarks/latency.py [--database sqlite|postgres] [--rtt-ms 80]
                                 [--iterations 100] [--json PATH] [--quick]

The app runs in its own uvicorn process on loopback with the store of ``--database`` and
talks to the Cal.com emulator, which waits ``--rtt-ms`` on every request (a round trip to
Cal.com). Beside it, on the same server, flags, emulator and RTT, runs the baseline
(``benchmarks/baseline.py``): a stateless handler that verifies the signature and forwards
one POST to Cal.com over an HTTP client built like the app's, or answers at once for a
path whose floor is no request. Each path is measured on fresh callers and slots,
interleaved with baseline samples, after a warm-up:

- ``booked_after_availability``: ``check_availability`` then ``collect_appointment_data``
  for the slot it offered, in one call (the booking call is measured; the availability
  call is reported as ``check_availability_*`` keys; skipped when the app has no
  ``check_availability`` tool);
- ``booked_cold``: ``collect_appointment_data`` for a free slot, nothing asked before;
- ``existing``: the same caller asks again for the slot they already hold;
- ``unavailable``: a slot Cal.com holds for someone the store does not know;
- ``unavailable_after_availability``: ``check_availability`` showed the slot free, then
  someone else booked it on Cal.com before the caller's booking (skipped like
  ``booked_after_availability``): the alternatives come from what the call was shown;
- ``confirmed``: ``confirm_existing`` after ``existing``;
- ``retried_delivery``: Retell re-sends a delivery that was already answered.

Every path is compared with the baseline of its floor (``FLOOR``: one Cal.com round trip
for the first four, none for the last two). ``ratio_p50``/``ratio_p99`` divide the path's
end-to-end percentiles by the baseline's. A sample's own time is its end-to-end time
minus how long the emulator held its Cal.com requests (overlapping requests counted
once: the injected RTT plus the emulator's own work, which a real round trip contains
too); ``overhead_p50_ms``/``overhead_p99_ms`` are the path's own-time percentiles minus
the baseline's, so a second round trip does not count as overhead (it counts in the
ratio and in ``calcom_requests``). ``e2e_minus_baseline_p50_ms`` is the plain difference.

Targets (printed; ``--strict`` exits 1 when one is missed): overhead p50 at most 2 ms and
p99 at most 8 ms on every path; ``booked_*`` and ``existing`` end-to-end p50 at most
1.03 times the baseline's; at most 1 Cal.com request for ``booked_after_availability``
and ``existing``, 2 for ``unavailable`` (the refused create and one more), none for
``retried_delivery``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
from baseline import FORWARD
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
    "unavailable_after_availability",
    "confirmed",
    "retried_delivery",
)
BASELINES = ("baseline_1", "baseline_0")
FLOOR = {
    "booked_after_availability": 1,
    "booked_cold": 1,
    "existing": 1,
    "unavailable": 1,
    "unavailable_after_availability": 1,
    "confirmed": 0,
    "retried_delivery": 0,
}
"""Cal.com round trips the least any backend needs on each path: its baseline."""
OVERHEAD_P50_TARGET_MS = 2.0
OVERHEAD_P99_TARGET_MS = 8.0
RATIO_P50_TARGET = 1.03
RATIO_PATHS = ("booked_after_availability", "booked_cold", "existing")
MAX_CALCOM_REQUESTS = {
    "booked_after_availability": 1,
    "existing": 1,
    "unavailable": 2,
    "unavailable_after_availability": 2,
    "retried_delivery": 0,
}
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

    def summary(self, baseline: Path | None) -> dict[str, Any]:
        if self.skipped is not None:
            return {"skipped": self.skipped, "calcom_requests": None}
        elapsed = [s.elapsed_ms for s in self.samples]
        own = [s.elapsed_ms - s.upstream_ms for s in self.samples]
        overhead_vs_rtt = [s.elapsed_ms - s.round_trips_ms for s in self.samples]
        summary: dict[str, Any] = {
            "calcom_requests": max(s.calcom_requests for s in self.samples),
            "calcom_requests_mean": rounded(
                sum(s.calcom_requests for s in self.samples) / len(self.samples)
            ),
            "samples": len(self.samples),
            "p50_ms": rounded(percentile(elapsed, 50)),
            "p95_ms": rounded(percentile(elapsed, 95)),
            "p99_ms": rounded(percentile(elapsed, 99)),
            "own_p50_ms": rounded(percentile(own, 50)),
            "own_p99_ms": rounded(percentile(own, 99)),
            "overhead_vs_rtt_p99_ms": rounded(percentile(overhead_vs_rtt, 99)),
        }
        if baseline is not None:
            base = baseline.summary(None)
            summary.update(
                baseline=baseline.name,
                baseline_p50_ms=base["p50_ms"],
                baseline_p99_ms=base["p99_ms"],
                ratio_p50=round(summary["p50_ms"] / base["p50_ms"], 3),
                ratio_p99=round(summary["p99_ms"] / base["p99_ms"], 3),
                overhead_p50_ms=rounded(summary["own_p50_ms"] - base["own_p50_ms"]),
                overhead_p99_ms=rounded(summary["own_p99_ms"] - base["own_p99_ms"]),
                e2e_minus_baseline_p50_ms=rounded(summary["p50_ms"] - base["p50_ms"]),
            )
        return summary


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
        self,
        tool: str,
        args: dict[str, Any],
        *,
        call_id: str,
        caller: str,
        expect: str,
        to: RetellSimulator | None = None,
    ) -> tuple[dict[str, Any], Sample]:
        call = RetellSimulator.call_object(call_id, from_number=caller)
        return await self._send(tool, self._retell.body(tool, args, call), expect=expect, to=to)

    async def _send(
        self, tool: str, body: bytes, *, expect: str, to: RetellSimulator | None = None
    ) -> tuple[dict[str, Any], Sample]:
        before = len(self._backend.calcom.requests)
        held_before = len(self._backend.upstream.held)
        started = time.perf_counter()
        response = await (to or self._retell).post(tool, body)
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

    def _taken_by_someone_else(self, start: datetime) -> None:
        """Cal.com holds ``start`` for an attendee the store does not know."""
        self._backend.calcom.seed_booking(
            event_type_id=EVENT_TYPE_ID,
            start=start,
            attendee_name="Someone Else",
            attendee_email=f"other-{uuid.uuid4().hex}@example.com",
        )

    async def unavailable(self) -> Sample:
        start = self._slots.take()
        self._taken_by_someone_else(start)
        args = {"customer_name": "Erika Mustermann", **slot_args(start)}
        _, sample = await self._call(
            BOOK, args, call_id=self._call_id(), caller=self._callers.take(), expect="unavailable"
        )
        return sample

    async def unavailable_after_availability(self) -> Sample:
        start = self._slots.take()
        args = {"customer_name": "Erika Mustermann", **slot_args(start)}
        caller, call_id = self._callers.take(), self._call_id()
        check = {"date": args["date"], "time": args["time"]}
        await self._call(
            "check_availability", check, call_id=call_id, caller=caller, expect="available"
        )
        self._taken_by_someone_else(start)
        _, sample = await self._call(
            BOOK, args, call_id=call_id, caller=caller, expect="unavailable"
        )
        return sample

    async def retried_delivery(self) -> Sample:
        call = RetellSimulator.call_object(self._call_id(), from_number=self._callers.take())
        body = self._retell.body(BOOK, self._booking_args(), call)
        await self._send(BOOK, body, expect="booked")
        _, sample = await self._send(BOOK, body, expect="booked")
        return sample

    async def baseline(self, round_trips: int) -> Sample:
        """The baseline app, forwarding one booking to Cal.com or (0) answering at once."""
        assert self._backend.baseline is not None
        _, sample = await self._call(
            FORWARD if round_trips else "answer",
            self._booking_args(),
            call_id=self._call_id(),
            caller=self._callers.take(),
            expect="booked",
            to=self._backend.baseline,
        )
        return sample

    async def round(self, paths: dict[str, Path]) -> None:
        """One sample of every path and of both baselines, in a fixed order."""
        paths["baseline_1"].samples.append(await self.baseline(1))
        steps: list[tuple[str, Callable[[], Awaitable[Sample]]]] = [
            ("booked_cold", self.booked_cold),
            ("unavailable", self.unavailable),
            ("retried_delivery", self.retried_delivery),
        ]
        if self._with_availability:
            steps.insert(0, ("booked_after_availability", self.booked_after_availability))
            steps.append(("unavailable_after_availability", self.unavailable_after_availability))
        for name, step in steps:
            paths[name].samples.append(await step())
        existing, confirmed = await self.existing_then_confirmed()
        paths["existing"].samples.append(existing)
        paths["confirmed"].samples.append(confirmed)
        paths["baseline_0"].samples.append(await self.baseline(0))


async def run(rtt_ms: float, iterations: int, warmup: int, database: str) -> dict[str, Any]:
    async with running_backend(
        latency_seconds=rtt_ms / 1000, database_kind=database, baseline=True
    ) as backend:
        with_availability = await serves_tool(backend.retell, "check_availability")
        bench = LatencyRun(backend, rtt_ms=rtt_ms, with_availability=with_availability)
        discarded = {name: Path(name) for name in PATHS + BASELINES}
        for _ in range(warmup):
            await bench.round(discarded)
        paths = {name: Path(name) for name in PATHS + BASELINES}
        if not with_availability:
            for name in ("booked_after_availability", "unavailable_after_availability"):
                paths[name].skipped = "the app serves no check_availability tool (404)"
        started = time.perf_counter()
        for _ in range(iterations):
            await bench.round(paths)
        duration = timedelta(seconds=time.perf_counter() - started)
    summaries = {name: paths[name].summary(paths[f"baseline_{FLOOR[name]}"]) for name in PATHS}
    if with_availability:
        checked = bench.availability_samples[-iterations:]
        summaries["booked_after_availability"].update(
            check_availability_calcom_requests=max(s.calcom_requests for s in checked),
            check_availability_p50_ms=rounded(percentile([s.elapsed_ms for s in checked], 50)),
            check_availability_p99_ms=rounded(percentile([s.elapsed_ms for s in checked], 99)),
        )
    return {
        "rtt_ms": rtt_ms,
        "database": database,
        "iterations": iterations,
        "duration_s": rounded(duration.total_seconds()),
        "machine": machine(),
        "paths": summaries,
        "baselines": {name: paths[name].summary(None) for name in BASELINES},
        "targets": targets(summaries),
    }


def targets(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per path: each target's verdict (``None`` for a skipped path)."""
    results: dict[str, Any] = {}
    for name, summary in summaries.items():
        if summary.get("skipped"):
            results[name] = None
            continue
        checks = {
            "overhead_p50": summary["overhead_p50_ms"] <= OVERHEAD_P50_TARGET_MS,
            "overhead_p99": summary["overhead_p99_ms"] <= OVERHEAD_P99_TARGET_MS,
        }
        if name in RATIO_PATHS:
            checks["ratio_p50"] = summary["ratio_p50"] <= RATIO_P50_TARGET
        if name in MAX_CALCOM_REQUESTS:
            checks["calcom_requests"] = summary["calcom_requests"] <= MAX_CALCOM_REQUESTS[name]
        results[name] = checks
    return results


def print_table(summary: dict[str, Any]) -> None:
    print(
        f"latency: RTT {summary['rtt_ms']:g} ms, {summary['database']}, "
        f"{summary['iterations']} samples per path, {summary['machine']['cpus']} CPUs, "
        f"load average {summary['machine']['load_average']}"
    )
    for name, base in summary["baselines"].items():
        print(
            f"  {name}: p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms, own time "
            f"p50 {base['own_p50_ms']:.1f} ms, p99 {base['own_p99_ms']:.1f} ms"
        )
    header = ("path", "calcom", "p50 ms", "p99 ms", "x base p50/p99", "overhead p50/p99")
    print(
        f"{header[0]:<32}{header[1]:>7}{header[2]:>9}{header[3]:>9}{header[4]:>17}"
        f"{header[5]:>18}  target"
    )
    for name, path in summary["paths"].items():
        if path.get("skipped"):
            print(f"{name:<32}  skipped: {path['skipped']}")
            continue
        checks = summary["targets"][name]
        missed = [check for check, ok in checks.items() if not ok]
        target = verdict(not missed) + (f" ({', '.join(missed)})" if missed else "")
        ratio = f"{path['ratio_p50']:.3f} / {path['ratio_p99']:.3f}"
        overhead = f"{path['overhead_p50_ms']:.1f} / {path['overhead_p99_ms']:.1f}"
        print(
            f"{name:<32}{path['calcom_requests']:>7}{path['p50_ms']:>9.1f}"
            f"{path['p99_ms']:>9.1f}{ratio:>17}{overhead:>18}  {target}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
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
    summary = asyncio.run(run(args.rtt_ms, args.iterations, args.warmup, args.database))
    print_table(summary)
    write_json(args.json, summary)
    missed = [
        name for name, checks in summary["targets"].items() if checks and not all(checks.values())
    ]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
