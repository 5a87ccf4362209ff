"""Agent backend replicas as real server processes on one PostgreSQL schema and one Cal.com.

Each replica is ``python -m uvicorn --factory retell_booking_tools.server:create_app`` on a
loopback port of its own, configured only through the environment, like a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import httpx
from app_processes import app_environment

from retell_booking_tools.domain import Relationship
from retell_booking_tools.repository import Repository
from retell_booking_tools.testing import CalcomEmulator, RetellSimulator

BERLIN = ZoneInfo("Europe/Berlin")
STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0


def weekdays_ahead(count: int) -> list[date]:
    """The next ``count`` working days in Berlin, starting two days from now."""
    day = datetime.now(BERLIN).date() + timedelta(days=2)
    found: list[date] = []
    while len(found) < count:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class Replica:
    """One server process; always :meth:`kill` it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, env: Mapping[str, str], log_dir: Path, *, workers: int | None = None
    ) -> Replica:
        """``python -m uvicorn --factory ...``, or ``retell-booking-tools serve --workers N``.

        The process leads a session of its own, so :meth:`kill` reaches its workers too.
        """
        port = free_port()
        log = log_dir / f"{name}.log"
        listen = ["--host", "127.0.0.1", "--port", str(port)]
        if workers is None:
            app = ["uvicorn", "--factory", "retell_booking_tools.server:create_app"]
            command = [sys.executable, "-m", *app, *listen, "--log-level", "warning"]
        else:
            serve = ["retell_booking_tools", "serve", "--workers", str(workers)]
            command = [sys.executable, "-m", *serve, *listen]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, f"http://127.0.0.1:{port}", process, log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_healthy(self) -> None:
        """Until ``/healthz`` answers, i.e. startup (schema check included) is done."""
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            try:
                async with asyncio.timeout(STARTUP_TIMEOUT):
                    while True:
                        if self.process.poll() is not None:
                            raise AssertionError(f"{self.name} exited:\n{self.output()}")
                        try:
                            if (await client.get("/healthz")).status_code == 200:
                                return
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.02)
            except TimeoutError:
                raise AssertionError(f"{self.name} did not start:\n{self.output()}") from None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@attrs.define
class Cluster:
    """Replicas sharing one database and one emulated Cal.com, and a Retell for each."""

    emulator: CalcomEmulator
    replicas: list[Replica]
    retells: list[RetellSimulator]

    async def deliver(
        self, replica: int, call_id: str, args: dict[str, Any], *, from_number: str
    ) -> httpx.Response:
        """One signed delivery of ``collect_appointment_data`` to replica number ``replica``."""
        retell = self.retells[replica]
        call = retell.call_object(call_id, from_number=from_number)
        return await retell.function_call("collect_appointment_data", args, call=call)

    def logs(self) -> str:
        """Every replica's output, for failure messages."""
        return "\n".join(f"--- {r.name}\n{r.output()}" for r in self.replicas)

    def booking_posts(self) -> int:
        """How many create requests reached Cal.com."""
        return sum(
            1 for r in self.emulator.requests if r.method == "POST" and r.path == "/v2/bookings"
        )


def replica_environment(
    *, database_url: str, calcom_url: str, calcom_key: str, retell_key: str, event_type_id: int
) -> dict[str, str]:
    """The process environment of a replica: the parent's, plus the service settings."""
    return app_environment(
        {
            "CALCOM_API_KEY": calcom_key,
            "CALCOM_API_URL": f"{calcom_url}/v2",
            "CALCOM_EVENT_TYPE_ID": str(event_type_id),
            "RETELL_API_KEY": retell_key,
            "RETELL_BOOKING_DATABASE_URL": database_url,
            "RETELL_BOOKING_TIMEZONE": "Europe/Berlin",
            "RETELL_BOOKING_PHONE_REGION": "DE",
            # Longer than any stall the tests make Cal.com produce.
            "RETELL_BOOKING_CALCOM_TIMEOUT": "30",
            # At most 16 connections per process: the test server is shared.
            "RETELL_BOOKING_DATABASE_POOL_SIZE": "3",
            # The emulator has no limit here; tests of the shared budget set their own.
            "RETELL_BOOKING_CALCOM_RATE_LIMIT": "0",
        }
    )


def retell_for(replica: Replica, api_key: str) -> RetellSimulator:
    client = httpx.AsyncClient(base_url=replica.url, timeout=REQUEST_TIMEOUT)
    return RetellSimulator(client, api_key=api_key)


async def relationships(repository: Repository, call_id: str) -> list[tuple[str, Relationship]]:
    """``(booking uid, relationship)`` of every link of the call."""
    found = []
    for link in await repository.links_for_call(call_id):
        appointment = await repository.get_appointment(link.appointment_id)
        assert appointment is not None
        found.append((appointment.booking_uid, link.relationship))
    return found
