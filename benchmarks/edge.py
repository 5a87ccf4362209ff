"""The HTTP edge under long calls and slow clients: latency, peak memory, stalled sockets.

    python benchmarks/edge.py [--big 20] [--big-mib 5] [--stalled 3000] [--json PATH] [--quick]

The app runs in its own uvicorn process on loopback with SQLite, as in ``latency.py``.

- ``big_deliveries``: ``--big`` function calls at once, each carrying a call object of
  ``--big-mib`` MiB (an hour or more of transcript in every form Retell sends, PII
  scrubbing on). Reports each delivery's latency and the app's peak resident memory
  (``VmHWM``) before and after.
- ``stalled``: p50/p99 of ordinary ``check_availability`` calls, first alone, then while
  ``--stalled`` connections each hold a request whose headers arrived but whose body
  stopped after five bytes. The stalled requests are then expected to be answered 408
  once ``RETELL_BOOKING_BODY_TIMEOUT_SECONDS`` (set to ``--body-timeout``) has passed.

Targets (printed, not enforced): every big delivery answered 200; the p99 with stalled
connections at most twice the p99 without (and at most 50 ms more); every stalled
request answered 408.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from harness import (
    Backend,
    BenchmarkBroken,
    machine,
    percentile,
    rounded,
    running_backend,
    verdict,
    write_json,
)

from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign
from retell_booking_tools.testing import RetellSimulator

DAY = (date.today() + timedelta(days=3)).isoformat()


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident memory so far (Linux ``VmHWM``), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def _availability(retell: RetellSimulator) -> float:
    """One ordinary function call; its latency in ms."""
    call = RetellSimulator.call_object("c_" + uuid.uuid4().hex, from_number="+4915100000001")
    started = time.perf_counter()
    response = await retell.function_call("check_availability", {"date": DAY}, call=call)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchmarkBroken(f"check_availability answered {response.status_code}")
    return elapsed


def call_object_of_size(call_id: str, size_bytes: int) -> dict[str, Any]:
    """A long call object (the simulator's, every transcript form) at least this large."""
    minutes = 10.0
    while True:
        call = RetellSimulator.long_call_object(
            call_id, minutes=minutes, from_number="+4915100000002"
        )
        size = len(json.dumps(call))
        if size >= size_bytes:
            return call
        minutes *= max(1.05, size_bytes / size)


async def big_deliveries(backend: Backend, count: int, size_mib: float) -> dict[str, Any]:
    """``count`` concurrent function calls of ``size_mib`` MiB each."""
    template = call_object_of_size("template", int(size_mib * 1024 * 1024))
    bodies = []
    for index in range(count):
        call = {**template, "call_id": f"big_{index}_{uuid.uuid4().hex[:8]}"}
        bodies.append(
            json.dumps({"call": call, "name": "check_availability", "args": {"date": DAY}}).encode()
        )
    await _availability(backend.retell)
    before = peak_rss_mib(backend.app.pid)

    async def deliver(body: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        response = await backend.retell.post("check_availability", body)
        return response.status_code, (time.perf_counter() - started) * 1000

    async with backend.own_retell(count) as retell:
        backend_retell = backend.retell
        backend.retell = retell
        try:
            started = time.perf_counter()
            results = await asyncio.gather(*(deliver(body) for body in bodies))
            wall = (time.perf_counter() - started) * 1000
        finally:
            backend.retell = backend_retell
    latencies = [elapsed for _, elapsed in results]
    return {
        "deliveries": count,
        "body_mib": rounded(len(bodies[0]) / 1024 / 1024),
        "answered_200": sum(1 for status, _ in results if status == 200),
        "p50_ms": rounded(percentile(latencies, 50)),
        "max_ms": rounded(max(latencies)),
        "wall_ms": rounded(wall),
        "peak_rss_before_mib": rounded(before) if before is not None else None,
        "peak_rss_after_mib": rounded(after) if (after := peak_rss_mib(backend.app.pid)) else None,
    }


async def _stall(
    url: str, body_timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection whose request stops five bytes into a signed-looking body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    header = sign(b"{}", "not-the-key")
    writer.write(
        (
            "POST /retell/functions/check_availability HTTP/1.1\r\n"
            f"host: {host}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n"
            f"{SIGNATURE_HEADER}: {header}\r\n\r\n"
            '{"cal'
        ).encode()
    )
    await writer.drain()
    return reader, writer


async def _sample(retell: RetellSimulator, calls: int, concurrency: int) -> list[float]:
    queue = list(range(calls))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            queue.pop()
            latencies.append(await _availability(retell))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def stalled_connections(
    backend: Backend, stalled: int, calls: int, body_timeout: float
) -> dict[str, Any]:
    """Ordinary calls alone, then next to ``stalled`` stalled requests; then their 408s."""
    async with backend.own_retell(4) as retell:
        await _sample(retell, 10, 4)
        alone = await _sample(retell, calls, 4)
        opened_at = time.perf_counter()
        connections = []
        for start in range(0, stalled, 200):
            batch = min(200, stalled - start)
            connections += await asyncio.gather(
                *(_stall(backend.app.url, body_timeout) for _ in range(batch))
            )
        opened_s = time.perf_counter() - opened_at
        beside = await _sample(retell, calls, 4)
        measured_s = time.perf_counter() - opened_at
    statuses: dict[str, int] = {}

    async def answer(reader: asyncio.StreamReader) -> str:
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), body_timeout + 30)
            return line.split(b" ")[1].decode() if line else "closed"
        return "no answer"

    answers = await asyncio.gather(*(answer(reader) for reader, _ in connections))
    for status in answers:
        statuses[status] = statuses.get(status, 0) + 1
    for _, writer in connections:
        writer.close()
    return {
        "stalled": stalled,
        "calls": calls,
        "opened_s": rounded(opened_s),
        "within_body_timeout": measured_s < body_timeout,
        "alone_p50_ms": rounded(percentile(alone, 50)),
        "alone_p99_ms": rounded(percentile(alone, 99)),
        "stalled_p50_ms": rounded(percentile(beside, 50)),
        "stalled_p99_ms": rounded(percentile(beside, 99)),
        "stalled_answers": statuses,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    env = {"RETELL_BOOKING_BODY_TIMEOUT_SECONDS": str(args.body_timeout)}
    async with running_backend(
        latency_seconds=0.0, database_kind="sqlite", extra_env=env
    ) as backend:
        big = await big_deliveries(backend, args.big, args.big_mib)
        stalled = await stalled_connections(backend, args.stalled, args.calls, args.body_timeout)
    slowed = stalled["stalled_p99_ms"] <= max(
        2 * stalled["alone_p99_ms"], stalled["alone_p99_ms"] + 50
    )
    return {
        "machine": machine(),
        "big_deliveries": big,
        "stalled_connections": stalled,
        "targets": {
            "big_deliveries_answered": big["answered_200"] == big["deliveries"],
            "stalled_do_not_slow_calls": slowed,
            "stalled_answered_408": stalled["stalled_answers"].get("408", 0) == args.stalled,
        },
    }


def print_summary(summary: dict[str, Any]) -> None:
    big, stalled, targets = (
        summary["big_deliveries"],
        summary["stalled_connections"],
        summary["targets"],
    )
    print(
        f"{big['deliveries']} concurrent {big['body_mib']} MiB deliveries: "
        f"{big['answered_200']} answered 200, p50 {big['p50_ms']} ms, max {big['max_ms']} ms; "
        f"peak RSS {big['peak_rss_before_mib']} -> {big['peak_rss_after_mib']} MiB  "
        f"{verdict(targets['big_deliveries_answered'])}"
    )
    print(
        f"{stalled['calls']} calls alone: p50 {stalled['alone_p50_ms']} / p99 "
        f"{stalled['alone_p99_ms']} ms; beside {stalled['stalled']} stalled bodies: p50 "
        f"{stalled['stalled_p50_ms']} / p99 {stalled['stalled_p99_ms']} ms  "
        f"{verdict(targets['stalled_do_not_slow_calls'])}"
    )
    print(
        f"stalled requests answered: {stalled['stalled_answers']}  "
        f"{verdict(targets['stalled_answered_408'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--big", type=int, default=20, help="concurrent big deliveries")
    parser.add_argument("--big-mib", type=float, default=5.0, help="size of each (MiB)")
    parser.add_argument("--stalled", type=int, default=3000, help="stalled connections")
    parser.add_argument("--calls", type=int, default=200, help="ordinary calls per sample")
    parser.add_argument("--body-timeout", type=float, default=10.0, help="seconds (the default)")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--quick", action="store_true", help="small numbers: checks it still runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.big, args.big_mib, args.stalled, args.calls, args.body_timeout = 3, 2.0, 100, 20, 3.0
    summary = asyncio.run(run(args))
    print_summary(summary)
    write_json(args.json, summary)
    missed = [name for name, ok in summary["targets"].items() if ok is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
