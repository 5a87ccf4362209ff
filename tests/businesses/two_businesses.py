"""The two-business file of the README, and the deployment that serves it, as the tests
run it: two businesses on two emulated Cal.com accounts behind one app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import attrs
import httpx
from pydantic import SecretStr

from retell_booking_tools.businesses import Businesses
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
)

SPITZER_KEY = "cal_test_spitzer_key"
ANA_KEY = "cal_test_ana_key"
RETELL_KEY = "retell_test_key"
WEBHOOK_SECRET = "calcom_webhook_test_secret"
SPITZER, ANA = "praxis-spitzer", "salon-ana"
SPITZER_AGENT = "agent_6f0c1d2e"
ANA_AGENT = "agent_9a8b7c6d"
SPITZER_LINE = "+4930123456"
ANA_LINE = "+12125550123"
CALLER = "+4915112345678"
BERATUNG, NACHBERATUNG, HAIRCUT = 2563193, 2563194, 7001
NOW = datetime(2025, 10, 8, 20, 21, tzinfo=UTC)
FRIDAY = "2025-10-10"

TWO_BUSINESSES = """\
[[businesses]]
id = "praxis-spitzer"
name = "Praxis Spitzer"
agent_ids = ["agent_6f0c1d2e"]
phone_numbers = ["+4930123456"]
calcom_api_key_env = "CALCOM_API_KEY_SPITZER"
calcom_api_url = "https://api.cal.com/v2"
timezone = "Europe/Berlin"
language = "de"

[[businesses.services]]
name = "Beratung"
aliases = ["Erstberatung", "consultation"]
event_type_id = 2563193

[[businesses.services]]
name = "Nachberatung"
event_type_id = 2563194

[[businesses]]
id = "salon-ana"
name = "Salon Ana"
agent_ids = ["agent_9a8b7c6d"]
phone_numbers = ["+12125550123"]
calcom_api_key_env = "CALCOM_API_KEY_ANA"
calcom_api_url = "https://api.cal.eu/v2"
timezone = "America/New_York"
language = "en"

[[businesses.services]]
name = "Haircut"
aliases = ["cut"]
event_type_id = 7001
"""


def event_type(event_type_id: int, title: str, minutes: int, zone: str) -> EventTypeSpec:
    """An event type bookable on weekdays from 9 to 17 in ``zone``."""
    return EventTypeSpec(
        id=event_type_id,
        title=title,
        length_minutes=minutes,
        timezone=zone,
        business_hours=BusinessHours(weekdays=frozenset(range(5)), opens=time(9), closes=time(17)),
    )


def agency_settings(path: Path) -> Settings:
    """The deployment's settings: the businesses file at ``path``, the keys from the
    environment (``CALCOM_API_KEY_SPITZER``, ``CALCOM_API_KEY_ANA``)."""
    return Settings(
        businesses=path,
        retell_api_key=SecretStr(RETELL_KEY),
        database_url="memory://",
        phone_region="DE",
        calcom_webhook_secret=SecretStr(WEBHOOK_SECRET),
    )


@attrs.define
class Agency:
    """Two businesses on two Cal.com accounts behind one deployment."""

    calcom: CalcomEmulator
    repository: Repository
    runtime: Runtime
    retell: RetellSimulator
    http: httpx.AsyncClient
    clock: FakeClock

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def businesses(self) -> Businesses:
        return self.runtime.businesses.businesses

    async def tool(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        call_id: str,
        agent_id: str,
        to_number: str | None = None,
        from_number: str | None = CALLER,
        **fields: Any,
    ) -> dict[str, Any]:
        call = self.retell.call_object(
            call_id, from_number=from_number, to_number=to_number, agent_id=agent_id, **fields
        )
        response = await self.retell.function_call(tool, args, call=call)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def spitzer(self, tool: str, call_id: str, **args: Any) -> dict[str, Any]:
        return await self.tool(tool, args, call_id=call_id, agent_id=SPITZER_AGENT)

    async def ana(self, tool: str, call_id: str, **args: Any) -> dict[str, Any]:
        return await self.tool(tool, args, call_id=call_id, agent_id=ANA_AGENT)

    async def book(self, agent_id: str, call_id: str, **args: Any) -> dict[str, Any]:
        """Max Mustermann books on Friday with ``agent_id``'s business."""
        booking = {"customer_name": "Max Mustermann", "date": FRIDAY, **args}
        return await self.tool(
            "collect_appointment_data", booking, call_id=call_id, agent_id=agent_id
        )

    def host(self, api_key: str) -> str:
        return self.calcom.host(api_key).username

    def requests_of(self, host: str) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.calcom.requests if r.username == host]

    def bookings_created(self) -> list[tuple[str | None, int]]:
        """(account, event type) of every booking request, in order."""
        return [
            (r.username, r.json["eventTypeId"])
            for r in self.calcom.requests
            if r.method == "POST" and r.path == "/v2/bookings"
        ]


@contextlib.asynccontextmanager
async def open_agency(repository: Repository, businesses_file: Path) -> AsyncIterator[Agency]:
    """The deployment of the two-business file on ``repository``, both accounts emulated."""
    clock = FakeClock(NOW)
    calcom = CalcomEmulator(api_key=SPITZER_KEY, clock=clock)
    calcom.add_event_type(event_type(BERATUNG, "Beratung", 60, "Europe/Berlin"))
    calcom.add_event_type(event_type(NACHBERATUNG, "Nachberatung", 30, "Europe/Berlin"))
    calcom.add_account(
        ANA_KEY,
        event_types=[event_type(HAIRCUT, "Haircut", 45, "America/New_York")],
        host_name="Salon Ana",
    )
    runtime = await build_runtime(
        agency_settings(businesses_file),
        repository=repository,
        calcom_transport=calcom.transport,
        clock=clock,
    )
    app = create_app(runtime=runtime, clock=clock)
    retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=clock)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")
    try:
        yield Agency(calcom, repository, runtime, retell, http, clock)
    finally:
        await http.aclose()
        await retell.aclose()
        await runtime.runner.wait_idle()
        for served in runtime.served:
            await served.core.calcom.aclose()
