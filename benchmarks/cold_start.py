"""Cold start: importing the package and building the app, in fresh interpreter processes.

    python benchmarks/cold_start.py [--runs 20] [--json PATH] [--quick]

Serverless backends start a process per burst of calls, so this is dead air on the first
call. Each run is a new ``python`` process that times, from its first line:

- ``import_ms``: ``import retell_booking_tools.server``;
- ``build_app_ms``: ``create_app(Settings.from_env())`` (settings read and checked, routes);
- ``startup_ms``: the app's startup (lifespan: import the runtime's modules, open the
  SQLite store, check its schema, build the Cal.com client), which a server runs before
  taking the first request.

``ready_ms_p50`` is the median of all three: from the first line to ready to serve.

Target (printed, not enforced): import plus build under 300 ms (median of the runs).
Interpreter start-up itself is reported apart (``interpreter_ms``, ``python -c pass``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from harness import machine, percentile, rounded, verdict, write_json

from retell_booking_tools.repository import upgrade_database

TARGET_MS = 300.0

PROBE = """
import asyncio, json, time
started = time.perf_counter()
import retell_booking_tools.server as server
from retell_booking_tools.config import Settings
imported = time.perf_counter()
app = server.create_app(Settings.from_env())
built = time.perf_counter()

async def start() -> None:
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start())
started_up = time.perf_counter()
print(json.dumps({
    "import_ms": (imported - started) * 1000,
    "build_app_ms": (built - imported) * 1000,
    "startup_ms": (started_up - built) * 1000,
}))
"""


def one_run(env: dict[str, str]) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True
    ).stdout
    timings: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return timings


def interpreter_ms() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - started) * 1000


def run(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rbt-cold-") as directory:
        database_url = f"sqlite:///{directory}/cold.db"
        upgrade_database(database_url)
        env = {
            **os.environ,
            "CALCOM_API_KEY": "cal_cold_start",
            "CALCOM_EVENT_TYPE_ID": "1",
            "RETELL_API_KEY": "retell_cold_start",
            "RETELL_BOOKING_DATABASE_URL": database_url,
        }
        one_run(env)  # compiles the bytecode once, like any installed package has it
        samples = [one_run(env) for _ in range(runs)]
        interpreter = [interpreter_ms() for _ in range(min(runs, 5))]
    totals = [s["import_ms"] + s["build_app_ms"] for s in samples]
    ready = [total + s["startup_ms"] for total, s in zip(totals, samples, strict=True)]

    def median(key: str) -> float:
        return rounded(percentile([s[key] for s in samples], 50))

    summary: dict[str, Any] = {
        "runs": runs,
        "import_ms_p50": median("import_ms"),
        "build_app_ms_p50": median("build_app_ms"),
        "import_and_build_ms_p50": rounded(percentile(totals, 50)),
        "import_and_build_ms_max": rounded(max(totals)),
        "startup_ms_p50": median("startup_ms"),
        "ready_ms_p50": rounded(percentile(ready, 50)),
        "interpreter_ms_p50": rounded(percentile(interpreter, 50)),
        "target_ms": TARGET_MS,
        "machine": machine(),
    }
    summary["target_met"] = summary["import_and_build_ms_p50"] < TARGET_MS
    return summary


def print_table(summary: dict[str, Any]) -> None:
    print(f"cold start: {summary['runs']} fresh processes, {summary['machine']['cpus']} CPUs")
    rows = [
        ("import package", summary["import_ms_p50"]),
        ("build the app", summary["build_app_ms_p50"]),
        ("import + build", summary["import_and_build_ms_p50"]),
        ("startup (store)", summary["startup_ms_p50"]),
        ("ready to serve", summary["ready_ms_p50"]),
        ("python itself", summary["interpreter_ms_p50"]),
    ]
    for name, value in rows:
        suffix = f"  {verdict(summary['target_met'])} (< 300)" if name == "import + build" else ""
        print(f"  {name:<18}{value:>8.1f} ms median{suffix}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20, help="fresh processes to time")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--quick", action="store_true", help="3 runs: checks it still runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 3
    summary = run(args.runs)
    print_table(summary)
    write_json(args.json, summary)
    return 1 if args.strict and not summary["target_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
