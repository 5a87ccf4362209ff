"""Readings of a backend world's operations, shared by the test packages: ``doctor`` as a
deployment runs it, and every sample ``GET /metrics`` serves."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from agent_backend import EVENT_TYPE_ID, World
from prometheus_client.parser import text_string_to_metric_families

from retell_booking_tools.ops.doctor import Doctor
from retell_booking_tools.runtime import Runtime
from retell_booking_tools.server import create_app

SINCE = datetime(2025, 10, 1, tzinfo=UTC)


def doctor_for(world: World) -> Doctor:
    return Doctor(
        repository=world.repository,
        calcom=world.runtime.calcom,
        event_type_ids=[EVENT_TYPE_ID],
        timezone="Europe/Berlin",
        attendee_email_domain="phone.invalid",
        phone_region="DE",
        clock=world.clock,
    )


async def scrape(world: World) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``, by name and labels."""
    response = await get_metrics(world.runtime)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def get_metrics(runtime: Runtime) -> httpx.Response:
    """``GET /metrics`` from an app serving ``runtime``."""
    app = create_app(runtime=runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        return await client.get("/metrics")
