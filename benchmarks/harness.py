"""What the benchmarks share: a served backend, signed Retell calls, and the statistics.

The backend is the real thing over loopback: the ASGI app in its own uvicorn process
(``uvicorn --factory retell_booking_tools.server:create_app``, one worker, access log off)
and the Cal.com emulator served by uvicorn in the benchmark's process, optionally with a
fixed round-trip time on every request. The benchmark's process plays Retell. The same
server and flags can serve another factory from ``benchmarks/`` (the baseline, the profiled
app), or the app can run as ``retell-booking-tools serve --workers N`` (scale-out).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import attrs
import httpx
from httpx_aiohttp import AiohttpTransport

from retell_booking_tools.repository import Repository, open_repository, upgrade_database
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
    serve_asgi,
)

EVENT_TYPE_ID = 4242
CALCOM_KEY = "cal_benchmark_key"
RETELL_KEY = "retell_benchmark_key"
DEFAULT_POSTGRES_URL = os.environ.get(
    "RETELL_BOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
APP_FACTORY = "retell_booking_tools.server:create_app"
BENCHMARKS = Path(__file__).resolve().parent
SLOT_MINUTES = 30
MAX_DAYS = 360
OPEN_MINUTES = 23 * 60 + 30
"""The event type is open from midnight to 23:30 every day."""


class BenchmarkBroken(RuntimeError):
    """The backend answered something a benchmark path cannot have: the numbers mean nothing."""


def machine() -> dict[str, Any]:
    """Where the figures were taken."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, where Linux tells (``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per_call(before: float | None, after: float | None, calls: int) -> float | None:
    """Milliseconds of CPU per call between two :func:`cpu_seconds` readings, where both
    were read and the process spent any."""
    if before is None or after is None or not calls or after <= before:
        return None
    return rounded((after - before) * 1000 / calls)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process now (``VmRSS``), where Linux tells (``/proc``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (uvicorn's workers under its supervisor)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); exact for small samples, no interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float) -> float:
    return round(value, 2)


def write_json(path: str | None, summary: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(summary, indent=2) + "\n")


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


class Slots:
    """Distinct free starts, handed out one by one: every booking gets a slot of its own."""

    def __init__(self, slot_minutes: int = SLOT_MINUTES) -> None:
        first_day = datetime.now(UTC).date() + timedelta(days=1)
        self._starts = (
            datetime.combine(first_day + timedelta(days=day), clock_time(0), tzinfo=UTC)
            + timedelta(minutes=slot_minutes * index)
            for day in range(MAX_DAYS)
            for index in range(OPEN_MINUTES // slot_minutes)
        )

    def take(self) -> datetime:
        try:
            return next(self._starts)
        except StopIteration:
            raise BenchmarkBroken("ran out of free slots; ask for fewer calls") from None


def slot_args(start: datetime) -> dict[str, str]:
    return {"date": start.date().isoformat(), "time": start.strftime("%H:%M")}


class Callers:
    """Distinct valid German mobile numbers, one per simulated caller."""

    def __init__(self) -> None:
        self._next = 0

    def take(self) -> str:
        self._next += 1
        return f"+49151{self._next:08d}"


def make_emulator(latency_seconds: float, slot_minutes: int = SLOT_MINUTES) -> CalcomEmulator:
    """One event type open around the clock, every day; no rate limit to get in the way
    (``slot_minutes`` short for a run that needs more distinct slots than a year of 30)."""
    emulator = CalcomEmulator(
        api_key=CALCOM_KEY, rate_limit_per_minute=10**9, latency_seconds=latency_seconds
    )
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Consultation",
            length_minutes=slot_minutes,
            business_hours=BusinessHours(
                weekdays=frozenset(range(7)), opens=clock_time(0), closes=clock_time(23, 30)
            ),
        )
    )
    return emulator


@contextlib.contextmanager
def database(kind: str, postgres_url: str = DEFAULT_POSTGRES_URL) -> Iterator[str]:
    """A fresh, migrated store: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rbt-bench-") as directory:
            url = f"sqlite:///{directory}/bench.db"
            upgrade_database(url)
            yield url
        return
    if kind != "postgres":
        raise ValueError(f"unknown database {kind!r}")
    import psycopg

    schema = f"rbt_bench_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"'.encode())
    try:
        upgrade_database(postgres_url, schema=schema)
        separator = "&" if "?" in postgres_url else "?"
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class ServedApp:
    """The app's process: where it listens and its process id."""

    url: str
    pid: int


@contextlib.asynccontextmanager
async def served_app(
    calcom_url: str,
    database_url: str,
    extra_env: dict[str, str] | None = None,
    *,
    factory: str = APP_FACTORY,
    workers: int | None = None,
    wrapper: Sequence[str] = (),
) -> AsyncIterator[ServedApp]:
    """The app in a uvicorn process of its own, configured by environment like in production
    (``extra_env`` adds or overrides variables). ``factory`` serves another app factory on
    the same server and flags (a ``module:function`` in ``benchmarks/``, say the baseline);
    ``workers`` runs ``retell-booking-tools serve --workers N`` instead, whose processes
    share one socket (above 1, ``pid`` is uvicorn's supervisor: see :func:`children`).
    ``wrapper`` goes before the command (``valgrind ...``), which then may start slowly."""
    port = _free_port()
    env = {
        **os.environ,
        "CALCOM_API_KEY": CALCOM_KEY,
        "CALCOM_API_URL": f"{calcom_url}/v2",
        "CALCOM_EVENT_TYPE_ID": str(EVENT_TYPE_ID),
        "RETELL_API_KEY": RETELL_KEY,
        "RETELL_BOOKING_DATABASE_URL": database_url,
        "RETELL_BOOKING_TIMEZONE": "UTC",
        "RETELL_BOOKING_LANGUAGE": "en",
        "RETELL_BOOKING_PHONE_REGION": "DE",
        **(extra_env or {}),
        # The emulator has no limit here; the key's budget would be the bottleneck measured.
        "RETELL_BOOKING_CALCOM_RATE_LIMIT": "0",
    }
    if workers is not None:
        command = [
            *(sys.executable, "-m", "retell_booking_tools", "serve"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        ]
    else:
        command = [
            *(sys.executable, "-m", "uvicorn", "--app-dir", str(BENCHMARKS), "--factory"),
            *(factory, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            *("--no-access-log", "--timeout-keep-alive", "75"),
        ]
    if wrapper:
        command = [*wrapper, *command]
    process = await asyncio.create_subprocess_exec(*command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process, within=600 if wrapper else 60)
        yield ServedApp(url, process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _wait_healthy(
    url: str, process: asyncio.subprocess.Process, *, within: float = 60
) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=url) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise BenchmarkBroken(f"the app exited with {process.returncode} at startup")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise BenchmarkBroken(f"the app did not become healthy within {within:g} s")


def covered_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """How long at least one of the ``(start, end)`` intervals was running: overlapping
    requests wait once, so their upstream time is a union, not a sum."""
    covered = 0.0
    reached = -math.inf
    for start, end in sorted(intervals):
        if end > reached:
            covered += end - max(start, reached)
            reached = end
    return covered


class TimedApp:
    """Wraps the emulator's ASGI app and records when it held each request
    (``perf_counter`` seconds, start and end).

    That is the upstream time a real Cal.com round trip would contain: the injected
    latency plus the emulator's own work, which runs in this process, not the app's.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self.held: list[tuple[float, float]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self._app(scope, receive, send)
        finally:
            self.held.append((started, time.perf_counter()))


@attrs.define
class Backend:
    """A running backend and Retell's side of it."""

    calcom: CalcomEmulator
    retell: RetellSimulator
    database_url: str
    upstream: TimedApp
    app: ServedApp
    baseline: RetellSimulator | None = None
    """Signs calls to the baseline app (``baseline.py``), when it runs."""
    calcom_url: str = ""
    """Where the emulator listens."""
    baseline_pid: int | None = None
    """The baseline app's process, when it runs."""

    async def open_store(self) -> Repository:
        """A second connection to the app's store, to check what it holds."""
        return await open_repository(self.database_url)

    @contextlib.asynccontextmanager
    async def own_retell(self, connections: int) -> AsyncIterator[RetellSimulator]:
        """A signing client with a small pool of its own: one shared pool of many
        connections costs the benchmark's process more CPU than the requests do."""
        async with RetellSimulator(
            _app_client(self.app.url, connections), api_key=RETELL_KEY
        ) as retell:
            yield retell


def _app_client(url: str, connections: int) -> httpx.AsyncClient:
    """Retell's side on aiohttp's pool, as the app's Cal.com client: httpx's own pool would
    cost the benchmark's process, which shares the machine with the app, more CPU."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, timeout=60, transport=AiohttpTransport(limits=limits))


@contextlib.asynccontextmanager
async def running_backend(
    *,
    latency_seconds: float,
    database_kind: str,
    connections: int = 10,
    extra_env: dict[str, str] | None = None,
    baseline: bool = False,
    workers: int | None = None,
    slot_minutes: int = SLOT_MINUTES,
    factory: str = APP_FACTORY,
    wrapper: Sequence[str] = (),
) -> AsyncIterator[Backend]:
    """The emulator, the app process (or ``serve --workers N``) and a signing
    client, torn down in order; with ``baseline`` also the baseline app (``baseline.py``) in
    a process of its own on the same emulator, server and flags."""
    emulator = make_emulator(latency_seconds, slot_minutes)
    upstream = TimedApp(emulator.asgi_app)
    with database(database_kind) as database_url:
        async with contextlib.AsyncExitStack() as stack:
            calcom_url = await stack.enter_async_context(serve_asgi(upstream))
            app = await stack.enter_async_context(
                served_app(
                    calcom_url,
                    database_url,
                    extra_env,
                    workers=workers,
                    factory=factory,
                    wrapper=wrapper,
                )
            )
            retell = await stack.enter_async_context(
                RetellSimulator(_app_client(app.url, connections), api_key=RETELL_KEY)
            )
            baseline_retell, baseline_pid = None, None
            if baseline:
                served = await stack.enter_async_context(
                    served_app(calcom_url, database_url, factory="baseline:create_app")
                )
                baseline_retell = await stack.enter_async_context(
                    RetellSimulator(_app_client(served.url, connections), api_key=RETELL_KEY)
                )
                baseline_pid = served.pid
            yield Backend(
                emulator,
                retell,
                database_url,
                upstream,
                app,
                baseline_retell,
                calcom_url,
                baseline_pid,
            )
        emulator.close()


async def serves_tool(retell: RetellSimulator, tool: str) -> bool:
    """Whether the app has ``tool``: an unknown tool is a 404 before anything runs."""
    call = RetellSimulator.call_object("probe_" + uuid.uuid4().hex, from_number=None)
    response = await retell.function_call(tool, {}, call=call)
    return response.status_code != 404
