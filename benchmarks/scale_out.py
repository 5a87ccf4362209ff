"""Scale-out: 1, 2 and 4 server processes on one PostgreSQL, the load mix at full speed.

    python benchmarks/scale_out.py [--processes 1,2,4] [--calls 2000] [--concurrency 64]
                                   [--json PATH] [--quick]

For each N the app runs as ``retell-booking-tools serve --workers N`` (uvicorn's workers
behind one socket, each building its own runtime and connection pools) on a fresh
PostgreSQL schema, driven by the mix of ``benchmarks/load.py`` with the Cal.com emulator
at zero latency, then audited the same way (5xx, double bookings, lost links). Reported
per N: throughput, throughput per process, p50/p99, the app's CPU per call (all its
processes together) and the peak of PostgreSQL connections the processes held (counted
in ``pg_stat_activity`` by an application name of the run's own), per process too.
``--quick`` sets the pool size to 2 (9 connections per process), so that four processes fit
a PostgreSQL that other work uses too.

The benchmark's own process (Retell's side and the emulator) and PostgreSQL share the
machine with the app, so on a small machine the total levels off once its cores are busy:
the per-process figures are the ones to size with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from typing import Any

from harness import (
    DEFAULT_POSTGRES_URL,
    children,
    cpu_ms_per_call,
    cpu_seconds,
    machine,
    percentile,
    rounded,
    running_backend,
    serves_tool,
    verdict,
    write_json,
)
from load import LoadRun, audit


async def _peak(application_name: str, peak: list[int]) -> None:
    """Keeps ``peak[0]`` at the most connections seen, every 200 ms until cancelled, on one
    connection of its own (a sample the server refuses, when it is full, is skipped)."""
    import psycopg

    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    connection: psycopg.AsyncConnection[Any] | None = None
    try:
        while True:
            try:
                if connection is None:
                    connection = await psycopg.AsyncConnection.connect(
                        DEFAULT_POSTGRES_URL, autocommit=True
                    )
                row = await (await connection.execute(query, (application_name,))).fetchone()
                peak[0] = max(peak[0], int(row[0]) if row else 0)
            except psycopg.OperationalError:
                connection = None
            await asyncio.sleep(0.2)
    finally:
        if connection is not None:
            await connection.close()


def _app_cpu(pid: int) -> float | None:
    """CPU seconds of the served app: the process and, under a supervisor, its workers."""
    values = [cpu_seconds(p) for p in (pid, *children(pid))]
    if any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


async def run_one(
    processes: int, calls: int, concurrency: int, seed: int, pool_size: int | None
) -> dict[str, Any]:
    application_name = f"rbt-scale-{uuid.uuid4().hex[:12]}"
    env = {"PGAPPNAME": application_name}
    if pool_size is not None:
        env["RETELL_BOOKING_DATABASE_POOL_SIZE"] = str(pool_size)
    async with running_backend(
        latency_seconds=0.0,
        database_kind="postgres",
        connections=concurrency * 2,
        extra_env=env,
        workers=processes,
    ) as backend:
        availability = await serves_tool(backend.retell, "check_availability")
        bench = LoadRun(backend, calls=calls, seed=seed, availability=availability)
        peak = [0]
        watcher = asyncio.create_task(_peak(application_name, peak))
        cpu_before = _app_cpu(backend.app.pid)
        started = time.perf_counter()
        await asyncio.gather(*(bench.worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = _app_cpu(backend.app.pid)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        found = await audit(backend, bench.tally)
    tally = bench.tally
    done = len(tally.latencies_ms)
    errors = sum(n for code, n in tally.http_statuses.items() if code >= 500)
    errors += sum(tally.transport_errors.values())
    throughput = done / elapsed
    cpu_ms = cpu_ms_per_call(cpu_before, cpu_after, done)
    return {
        "processes": processes,
        "calls": done,
        "throughput_per_s": rounded(throughput),
        "throughput_per_process_per_s": rounded(throughput / processes),
        "p50_ms": rounded(percentile(tally.latencies_ms, 50)),
        "p99_ms": rounded(percentile(tally.latencies_ms, 99)),
        "app_cpu_ms_per_call": cpu_ms,
        "peak_connections": peak[0],
        "peak_connections_per_process": rounded(peak[0] / processes),
        "errors_5xx": errors,
        "double_bookings": found["double_bookings"],
        "lost_links": found["lost_links"],
        "unexpected_statuses": dict(tally.unexpected),
        "ok": errors == 0 and found["double_bookings"] == 0 and found["lost_links"] == 0,
    }


async def run(
    counts: list[int], calls: int, concurrency: int, seed: int, pool_size: int | None
) -> dict[str, Any]:
    runs = [await run_one(n, calls, concurrency, seed, pool_size) for n in counts]
    return {
        "database": "postgres",
        "pool_size": pool_size,
        "concurrency": concurrency,
        "calls_per_run": calls,
        "machine": machine(),
        "runs": runs,
    }


def print_table(summary: dict[str, Any]) -> None:
    print(
        f"scale-out: PostgreSQL, {summary['calls_per_run']} function calls per run, "
        f"concurrency {summary['concurrency']}, {summary['machine']['cpus']} CPUs, "
        f"load average {summary['machine']['load_average']}"
    )
    header = ("N", "calls/s", "per proc", "p50 ms", "p99 ms", "CPU ms/call", "PG conns")
    print(
        f"{header[0]:>3}{header[1]:>10}{header[2]:>10}{header[3]:>9}{header[4]:>9}"
        f"{header[5]:>13}{header[6]:>10}  5xx/double/lost"
    )
    for row in summary["runs"]:
        cpu = "-" if row["app_cpu_ms_per_call"] is None else f"{row['app_cpu_ms_per_call']:.2f}"
        checks = f"{row['errors_5xx']}/{row['double_bookings']}/{row['lost_links']}"
        print(
            f"{row['processes']:>3}{row['throughput_per_s']:>10.0f}"
            f"{row['throughput_per_process_per_s']:>10.0f}{row['p50_ms']:>9.1f}"
            f"{row['p99_ms']:>9.1f}{cpu:>13}{row['peak_connections']:>10}  "
            f"{checks} {verdict(row['ok'])}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--processes", default="1,2,4", help="server processes per run")
    parser.add_argument("--calls", type=int, default=2000, help="function calls per run")
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight")
    parser.add_argument("--seed", type=int, default=8, help="seed of the call mix")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument(
        "--pool-size", type=int, help="RETELL_BOOKING_DATABASE_POOL_SIZE (default: the app's)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="150 calls per run, pool size 2: checks it runs"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on a 5xx or a loss")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.concurrency = 150, 16
        args.pool_size = args.pool_size or 2
    counts = [int(n) for n in args.processes.split(",")]
    summary = asyncio.run(run(counts, args.calls, args.concurrency, args.seed, args.pool_size))
    print_table(summary)
    write_json(args.json, summary)
    return 1 if args.strict and not all(row["ok"] for row in summary["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
