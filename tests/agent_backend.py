"""A whole agent backend in-process: signed Retell calls, ASGI app, tools, emulated Cal.com.

Shared by the test packages (``from agent_backend import World, ...``); the fixtures that
build it live in each package's ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time
from typing import Any

import attrs
import httpx
from pydantic import SecretStr

from retell_booking_tools.config import Settings
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    FakeClock,
    RetellSimulator,
    WebhookDelivery,
)

EVENT_TYPE_ID = 2563193
CALCOM_KEY = "cal_test_emulator_key"
RETELL_KEY = "retell_test_key"
WEBHOOK_SECRET = "calcom_webhook_test_secret"
CALLER = "+4915112345678"
OTHER_CALLER = "+4917098765432"
DAY_ONE = datetime(2025, 10, 8, 20, 21, tzinfo=UTC)
"""22:21 in Berlin, the evening the incident's first call was made."""


@attrs.define
class World:
    """The backend under test and the fakes around it."""

    clock: FakeClock
    calcom: CalcomEmulator
    repository: Repository
    runtime: Runtime
    retell: RetellSimulator
    http: httpx.AsyncClient
    """Plain HTTP to the app, e.g. for Cal.com's webhook deliveries."""

    async def call_tool(
        self, tool: str, args: dict[str, Any], *, call_id: str, from_number: str | None = CALLER
    ) -> httpx.Response:
        call = self.retell.call_object(call_id, from_number=from_number)
        return await self.retell.function_call(tool, args, call=call)

    async def book(
        self,
        call_id: str,
        *,
        date: str = "2025-10-10",
        at: str = "11:00",
        from_number: str | None = CALLER,
        **extra: Any,
    ) -> dict[str, Any]:
        args = {"customer_name": "Max Mustermann", "date": date, "time": at, **extra}
        response = await self.call_tool(
            "collect_appointment_data", args, call_id=call_id, from_number=from_number
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def tool(
        self, tool: str, args: dict[str, Any], *, call_id: str, from_number: str | None = CALLER
    ) -> dict[str, Any]:
        """The result of one signed function call, which must answer 200."""
        response = await self.call_tool(tool, args, call_id=call_id, from_number=from_number)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def deliver(self, delivery: WebhookDelivery) -> httpx.Response:
        """Post a Cal.com webhook delivery to the app, as Cal.com would."""
        return await self.http.post(
            "/calcom/webhook", content=delivery.body, headers=delivery.headers
        )

    def calcom_writes(self) -> list[str]:
        """Paths of every write request that reached Cal.com, in order."""
        return [r.path for r in self.calcom.requests if r.method == "POST"]

    def booking_posts(self) -> int:
        """How many create requests reached Cal.com."""
        return sum(
            1 for r in self.calcom.requests if r.method == "POST" and r.path == "/v2/bookings"
        )

    async def links_of(self, booking_uid: str) -> dict[str, str]:
        appointment = await self.repository.get_appointment_by_uid(booking_uid)
        assert appointment is not None
        links = await self.repository.links_for_appointment(appointment.id)
        return {link.call_id: link.relationship.value for link in links}


def make_emulator(clock: FakeClock, *, requires_confirmation: bool = False) -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=CALCOM_KEY, clock=clock)
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=60,
            requires_confirmation=requires_confirmation,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
            ),
        )
    )
    return emulator


def make_settings(**overrides: Any) -> Settings:
    """The backend's settings, with ``overrides``; each set of overrides is made once
    (``Settings`` is frozen, and reading the environment for it costs more than most tests)."""
    chosen = tuple(sorted(overrides.items()))
    try:
        return _made_settings(chosen)
    except TypeError:  # an override that cannot be a cache key
        return _settings(**overrides)


@functools.lru_cache(maxsize=256)
def _made_settings(overrides: tuple[tuple[str, Any], ...]) -> Settings:
    return _settings(**dict(overrides))


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "calcom_api_key": SecretStr(CALCOM_KEY),
        "calcom_event_type_id": EVENT_TYPE_ID,
        "retell_api_key": SecretStr(RETELL_KEY),
        "database_url": "memory://",
        "timezone": "Europe/Berlin",
        "language": "en",
        "phone_region": "DE",
        "calcom_webhook_secret": SecretStr(WEBHOOK_SECRET),
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def open_world(
    repository: Repository,
    *,
    requires_confirmation: bool = False,
    wrap_calcom: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """The backend on ``repository`` at ``DAY_ONE``, with ``settings`` over ``make_settings``.

    ``wrap_calcom`` may put a transport of the test's between the app and the emulator.
    """
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock, requires_confirmation=requires_confirmation)
    runtime = await build_runtime(
        make_settings(**settings),
        repository=repository,
        calcom_transport=wrap_calcom(emulator.transport) if wrap_calcom else emulator.transport,
        clock=clock,
    )
    app = create_app(runtime=runtime, clock=clock)
    retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=clock)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")
    try:
        yield World(clock, emulator, repository, runtime, retell, http)
    finally:
        await http.aclose()
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()
