"""Where a function call's work goes, per path: instructions, store statements, Python time.

    python benchmarks/profile_paths.py [--database sqlite|postgres] [--samples 20]
                                       [--callgrind] [--cprofile DIR] [--json PATH]

The app (``benchmarks/profiled.py``: the real app with switches) runs in its own process
against the Cal.com emulator at zero latency. For each path the calls it needs first are
made (the booking an ``existing`` call repeats, the first delivery a retried one re-sends,
the stranger's booking that makes a slot ``unavailable``, the ``check_availability`` before
``booked_after_availability``), then ``--samples`` measured calls of the path alone, one at a
time. Reported per call: SQL statements (by first word), transactions begun and pool
checkouts, from SQLAlchemy's events in the app's process; with ``--callgrind`` the app
runs under ``valgrind --tool=callgrind`` with instrumentation switched on only around the
measured calls, and the instructions it executed per call are reported (a count that the
machine's varying speed does not change; compare figures of one run as ratios), and so
are the baseline app's (``benchmarks/baseline.py``) with and without its one POST. With
``--cprofile DIR`` cProfile's statistics of each path's measured calls are written to
``DIR/<database>-<path>.prof`` (read them with ``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from baseline import FORWARD
from harness import (
    EVENT_TYPE_ID,
    RETELL_KEY,
    Backend,
    BenchmarkBroken,
    Callers,
    Slots,
    machine,
    rounded,
    running_backend,
    served_app,
    slot_args,
    write_json,
)

from retell_booking_tools.testing import RetellSimulator

BOOK = "collect_appointment_data"
PATHS = ("booked_after_availability", "booked_cold", "existing", "unavailable", "retried_delivery")
_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)

Step = Callable[[], Awaitable[None]]


class Profiler:
    """Drives one path at a time: its preparation unmeasured, then its measured calls."""

    def __init__(self, backend: Backend, *, callgrind_out: Path | None) -> None:
        self._backend = backend
        self.slots = Slots()
        self._callers = Callers()
        self._callgrind_out = callgrind_out
        self._control = httpx.AsyncClient(base_url=backend.app.url, timeout=600)

    async def aclose(self) -> None:
        await self._control.aclose()

    async def _send(self, tool: str, body: bytes, expect: str) -> dict[str, Any]:
        response = await self._backend.retell.post(tool, body)
        if response.status_code != 200:
            raise BenchmarkBroken(f"{tool} answered HTTP {response.status_code}")
        answer: dict[str, Any] = response.json()
        if answer["status"] != expect:
            raise BenchmarkBroken(f"{tool} answered {answer['status']!r}, expected {expect!r}")
        return answer

    def _body(self, tool: str, args: dict[str, Any], call_id: str, caller: str) -> bytes:
        call = RetellSimulator.call_object(call_id, from_number=caller)
        return self._backend.retell.body(tool, args, call)

    def _fresh(self) -> tuple[str, str, dict[str, str]]:
        args = {"customer_name": "Erika Mustermann", **slot_args(self.slots.take())}
        return f"call_{uuid.uuid4().hex}", self._callers.take(), args

    async def prepare(self, path: str, samples: int) -> list[Step]:
        """The unmeasured calls of ``path``; returns its measured calls, one step each."""
        steps: list[Step] = []
        for _ in range(samples):
            call_id, caller, args = self._fresh()
            body = self._body(BOOK, args, call_id, caller)
            if path == "booked_after_availability":
                check = {"date": args["date"], "time": args["time"]}
                await self._send(
                    "check_availability",
                    self._body("check_availability", check, call_id, caller),
                    "available",
                )
                steps.append(self._step(BOOK, body, "booked"))
            elif path == "booked_cold":
                steps.append(self._step(BOOK, body, "booked"))
            elif path == "existing":
                await self._send(BOOK, body, "booked")
                again = self._body(BOOK, args, f"call_{uuid.uuid4().hex}", caller)
                steps.append(self._step(BOOK, again, "existing"))
            elif path == "unavailable":
                start = self.slots.take()
                self._backend.calcom.seed_booking(
                    event_type_id=EVENT_TYPE_ID,
                    start=start,
                    attendee_name="Someone Else",
                    attendee_email=f"other-{uuid.uuid4().hex}@example.com",
                )
                taken = self._body(BOOK, {**args, **slot_args(start)}, call_id, caller)
                steps.append(self._step(BOOK, taken, "unavailable"))
            elif path == "retried_delivery":
                await self._send(BOOK, body, "booked")
                steps.append(self._step(BOOK, body, "booked"))
            else:
                raise ValueError(f"unknown path {path!r}")
        return steps

    def _step(self, tool: str, body: bytes, expect: str) -> Step:
        async def step() -> None:
            await self._send(tool, body, expect)

        return step

    def _callgrind(self, *command: str) -> None:
        _callgrind(self._backend.app.pid, *command)

    def _instructions(self) -> int:
        assert self._callgrind_out is not None
        return _instructions(self._callgrind_out, self._backend.app.pid)

    async def measure(self, name: str, path: str, samples: int) -> dict[str, Any]:
        steps = await self.prepare(path, samples)
        calcom_before = len(self._backend.calcom.requests)
        await self._control.post("/_profile/start")
        if self._callgrind_out is not None:
            await asyncio.to_thread(self._callgrind, "-i", "on")
            await asyncio.to_thread(self._callgrind, "-z")
        for step in steps:
            await step()
        instructions = None
        if self._callgrind_out is not None:
            await asyncio.to_thread(self._callgrind, "-d")
            await asyncio.to_thread(self._callgrind, "-i", "off")
            instructions = self._instructions()
        counts = (await self._control.post("/_profile/stop", params={"name": name})).json()
        statements = counts.pop("statements")
        texts = counts.pop("texts")
        collected = counts.pop("gc")
        result: dict[str, Any] = {
            "samples": samples,
            "calcom_requests_per_call": rounded(
                (len(self._backend.calcom.requests) - calcom_before) / samples
            ),
            "statements_per_call": rounded(sum(statements.values()) / samples),
            "statements_by_kind": {
                kind: rounded(n / samples) for kind, n in sorted(statements.items())
            },
            "statements_by_text": {text: rounded(n / samples) for text, n in texts.items()},
            "transactions_per_call": rounded(counts.get("transactions", 0) / samples),
            "pool_checkouts_per_call": rounded(counts.get("pool_checkouts", 0) / samples),
            "gc_ms_per_call": rounded(sum(collected["seconds"].values()) * 1000 / samples),
            "gc_passes_per_call": {
                generation: rounded(n / samples) for generation, n in collected["passes"].items()
            },
        }
        if instructions is not None:
            result["instructions_per_call"] = instructions // samples
        return result


def _callgrind(pid: int, *command: str) -> None:
    subprocess.run(["callgrind_control", *command, str(pid)], check=True, capture_output=True)


def _instructions(directory: Path, pid: int) -> int:
    """The instructions in the latest dump of ``pid``."""
    dumps = sorted(directory.glob(f"callgrind.out.{pid}*"), key=lambda p: p.stat().st_mtime)
    found = _TOTALS.search(dumps[-1].read_text(errors="replace")) if dumps else None
    if found is None:
        raise BenchmarkBroken("callgrind wrote no totals")
    return int(found[1])


async def baseline_instructions(
    backend: Backend, wrapper: list[str], out: Path, samples: int, warmup: int, slots: Slots
) -> dict[str, int]:
    """Instructions per call of the baseline app (``baseline.py``), forwarding or not, on
    slots of its own (``slots`` goes on where the app's calls left off)."""
    callers = Callers()
    found: dict[str, int] = {}
    async with (
        served_app(
            backend.calcom_url, backend.database_url, factory="baseline:create_app", wrapper=wrapper
        ) as served,
        RetellSimulator(
            httpx.AsyncClient(base_url=served.url, timeout=600), api_key=RETELL_KEY
        ) as retell,
    ):
        for name, tool in (("baseline_1", FORWARD), ("baseline_0", "answer")):

            async def call(tool: str = tool) -> None:
                args = {"customer_name": "Erika Mustermann", **slot_args(slots.take())}
                call = RetellSimulator.call_object(
                    f"call_{uuid.uuid4().hex}", from_number=callers.take()
                )
                response = await retell.post(tool, retell.body(tool, args, call))
                if response.json().get("status") != "booked":
                    raise BenchmarkBroken(f"the baseline answered {response.text}")

            for _ in range(warmup):
                await call()
            await asyncio.to_thread(_callgrind, served.pid, "-i", "on")
            await asyncio.to_thread(_callgrind, served.pid, "-z")
            for _ in range(samples):
                await call()
            await asyncio.to_thread(_callgrind, served.pid, "-d")
            await asyncio.to_thread(_callgrind, served.pid, "-i", "off")
            found[name] = _instructions(out, served.pid) // samples
    return found


async def run(
    database: str, samples: int, callgrind: bool, cprofile: Path | None, warmup: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rbt-callgrind-") as directory:
        out = Path(directory) if callgrind else None
        wrapper: list[str] = []
        if out is not None:
            wrapper = [
                *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
                f"--callgrind-out-file={out}/callgrind.out.%p",
            ]
        env = {"RBT_PROFILE_CPROFILE": str(cprofile)} if cprofile else {}
        async with running_backend(
            latency_seconds=0.0,
            database_kind=database,
            factory="profiled:create_app",
            wrapper=wrapper,
            extra_env=env,
        ) as backend:
            profiler = Profiler(backend, callgrind_out=out)
            try:
                for path in PATHS:
                    for _ in range(warmup):
                        for step in await profiler.prepare(path, 1):
                            await step()
                paths = {
                    path: await profiler.measure(f"{database}-{path}", path, samples)
                    for path in PATHS
                }
            finally:
                await profiler.aclose()
            baselines = {}
            if out is not None:
                baselines = await baseline_instructions(
                    backend, wrapper, out, samples, warmup, profiler.slots
                )
    return {
        "database": database,
        "callgrind": callgrind,
        "machine": machine(),
        "paths": paths,
        "baseline_instructions_per_call": baselines,
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"profile: {summary['database']}, load average {summary['machine']['load_average']}")
    header = ("path", "instructions", "statements", "transactions", "checkouts", "calcom")
    print(
        f"{header[0]:<27}{header[1]:>14}{header[2]:>12}{header[3]:>14}{header[4]:>11}{header[5]:>8}"
    )
    for name, path in summary["paths"].items():
        instructions = path.get("instructions_per_call")
        shown = "-" if instructions is None else f"{instructions / 1e6:.2f} M"
        print(
            f"{name:<27}{shown:>14}{path['statements_per_call']:>12.1f}"
            f"{path['transactions_per_call']:>14.1f}{path['pool_checkouts_per_call']:>11.1f}"
            f"{path['calcom_requests_per_call']:>8.1f}"
        )
        print(f"{'':<27}statements: {path['statements_by_kind']}")
        print(
            f"{'':<27}gc: {path['gc_ms_per_call']} ms per call, passes {path['gc_passes_per_call']}"
        )
    for name, instructions in summary["baseline_instructions_per_call"].items():
        print(f"{name:<27}{instructions / 1e6:>12.2f} M  (the baseline app, baseline.py)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--samples", type=int, default=20, help="measured calls per path")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs of each path")
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    parser.add_argument("--cprofile", metavar="DIR", help="write cProfile statistics there")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    args = parser.parse_args(argv)
    cprofile = None
    if args.cprofile:
        cprofile = Path(args.cprofile).resolve()
        cprofile.mkdir(parents=True, exist_ok=True)
    summary = asyncio.run(run(args.database, args.samples, args.callgrind, cprofile, args.warmup))
    print_table(summary)
    write_json(args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
