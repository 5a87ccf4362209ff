"""Wiring: settings in, a ready Cal.com client, store, booking service and tool runner out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import httpx

from retell_booking_tools.booking import BookingPolicy, BookingService
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.repository.factory import open_repository
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.tools import ALL_TOOLS, Tool, ToolRunner


@attrs.frozen
class Runtime:
    """Everything that serves tool calls; close it when done."""

    settings: Settings
    calcom: CalcomClient
    repository: Repository
    service: BookingService
    runner: ToolRunner

    async def aclose(self) -> None:
        await self.runner.wait_idle()
        await self.calcom.aclose()
        await self.repository.close()


async def build_runtime(
    settings: Settings,
    *,
    repository: Repository | None = None,
    calcom_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
    tools: tuple[Tool[Any], ...] = ALL_TOOLS,
) -> Runtime:
    """Build from settings. ``repository`` and ``calcom_transport`` let tests and the demo
    plug in an in-memory store or the Cal.com emulator."""
    api_key, event_type_id = settings.require_calcom()
    if repository is None:
        repository = await open_repository(
            settings.database_url, pool_size=settings.database_pool_size
        )
    calcom = CalcomClient(
        api_key=api_key,
        base_url=settings.calcom_api_url,
        timeout=settings.calcom_timeout_seconds,
        transport=calcom_transport,
    )
    service = BookingService(
        calcom=calcom,
        repository=repository,
        policy=BookingPolicy(
            event_type_id=event_type_id,
            timezone=settings.timezone,
            attendee_email_domain=settings.attendee_email_domain,
        ),
        clock=clock,
    )
    runner = ToolRunner(
        tools=tools,
        service=service,
        repository=repository,
        language=settings.language,
        timezone=settings.timezone,
        phone_region=settings.phone_region,
        clock=clock,
        lease=timedelta(seconds=settings.tool_call_lease_seconds),
    )
    return Runtime(
        settings=settings, calcom=calcom, repository=repository, service=service, runner=runner
    )
