"""``GET /metrics`` and the daily duplicate alert, on a whole backend."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
from agent_backend import CALCOM_KEY, RETELL_KEY, World, make_settings, open_world
from ops_readings import get_metrics, scrape

from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import CalcomNotFound
from retell_booking_tools.domain import ToolCallKey, ToolStatus
from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.ops.metrics import RedisCounters, Telemetry
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import Fault, FaultKind, RetellSimulator

TOOL = "collect_appointment_data"
DEFAULT = ("business", "default")
"""A deployment without a businesses file counts everything as the business ``default``."""


def result_count(samples: dict[Any, float], status: str, tool: str = TOOL) -> float:
    labels = frozenset({("tool", tool), ("status", status), DEFAULT})
    key = ("retell_booking_tool_results_total", labels)
    return samples.get(key, 0.0)


async def test_metrics_count_the_booking_and_the_duplicate_attempt(world: World) -> None:
    """After the incident's two calls: one `booked`, one `existing`, one duplicate attempt."""
    await world.book("call_682")
    world.clock.advance(timedelta(hours=20))
    await world.book("call_766")

    samples = await scrape(world)

    assert result_count(samples, "booked") == 1
    assert result_count(samples, "existing") == 1
    assert samples[("retell_booking_duplicate_attempts_total", frozenset({DEFAULT}))] == 1
    assert samples[("retell_booking_conflicts_total", frozenset({DEFAULT}))] == 0
    post = frozenset({("method", "POST"), ("endpoint", "/bookings"), DEFAULT})
    assert samples[("retell_booking_calcom_request_duration_seconds_count", post)] == 1
    tool_latency = frozenset({("tool", TOOL), ("status", "existing"), DEFAULT})
    assert samples[("retell_booking_tool_duration_seconds_count", tool_latency)] == 1


async def test_outcome_counters_survive_a_restart(world: World) -> None:
    """A new process on the same store reports the same totals, not zero."""
    await world.book("call_682")
    await world.book("call_766")
    restarted = await build_runtime(
        make_settings(), repository=world.repository, calcom_transport=world.calcom.transport
    )
    text = (await get_metrics(restarted)).text
    await restarted.calcom.aclose()

    assert (
        f'retell_booking_tool_results_total{{business="default",status="existing",tool="{TOOL}"}}'
        " 1.0" in text
    )
    assert 'retell_booking_duplicate_attempts_total{business="default"} 1.0' in text


async def test_upstream_errors_are_counted_by_kind(world: World) -> None:
    """A Cal.com outage shows as an `error` outcome and as upstream errors of its kind."""
    world.calcom.inject(Fault(FaultKind.CONNECT_ERROR, method="POST", path="/v2/bookings"))

    assert (await world.book("call_1"))["status"] == "error"

    samples = await scrape(world)
    assert result_count(samples, "error") == 1
    kind = frozenset({("kind", "CalcomUnavailable"), DEFAULT})
    assert samples[("retell_booking_upstream_errors_total", kind)] == 1


async def test_metrics_turned_off_answer_404(world: World) -> None:
    """RETELL_BOOKING_METRICS=0 removes the route's content."""
    runtime = attrs.evolve(world.runtime, settings=make_settings(metrics_enabled=False))

    response = await get_metrics(runtime)

    assert response.status_code == 404


@pytest.fixture(name="replicas")
async def fixture_replicas(
    world: World, repository: Repository
) -> AsyncIterator[tuple[World, World]]:
    """Two replicas on one store and one Cal.com, both alerting above 2 duplicates a day."""
    worlds = []
    for _ in range(2):
        runtime = await build_runtime(
            make_settings(duplicate_alert_threshold=2),
            repository=repository,
            calcom_transport=world.calcom.transport,
            clock=world.clock,
        )
        app = create_app(runtime=runtime, clock=world.clock)
        retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=world.clock)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")
        worlds.append(World(world.clock, world.calcom, repository, runtime, retell, http))
    try:
        yield worlds[0], worlds[1]
    finally:
        for replica in worlds:
            await replica.retell.aclose()
            await replica.http.aclose()
            await replica.runtime.runner.wait_idle()
            await replica.runtime.calcom.aclose()


async def test_crossing_the_daily_duplicate_threshold_warns_once_per_day_across_replicas(
    replicas: tuple[World, World], caplog: pytest.LogCaptureFixture
) -> None:
    """Five duplicates over two replicas warn once; the next day's third warns again."""
    first, second = replicas
    caplog.set_level(logging.WARNING, logger="retell_booking_tools.ops.metrics")
    assert (await first.book("call_0"))["status"] == "booked"
    for number in range(1, 6):
        replica = first if number % 2 else second
        assert (await replica.book(f"call_{number}"))["status"] == "existing"
        first.clock.advance(timedelta(minutes=1))

    alerts = [r for r in caplog.records if "duplicate booking attempts" in r.getMessage()]
    assert len(alerts) == 1
    assert "more than 2" in alerts[0].getMessage()

    first.clock.advance(timedelta(days=1))
    for number in range(6, 9):
        assert (await second.book(f"call_{number}", date="2025-10-13"))["status"] in (
            "booked",
            "existing",
        )
    for number in range(9, 12):
        assert (await first.book(f"call_{number}", date="2025-10-13"))["status"] == "existing"

    alerts = [r for r in caplog.records if "duplicate booking attempts" in r.getMessage()]
    assert len(alerts) == 2


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(name="redis_prefix")
async def fixture_redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the local Redis, deleted afterwards."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    prefix = f"rbt_test_{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        await client.delete(f"{prefix}:upstream_errors")
        await client.aclose()


@pytest.mark.parametrize("repository", ["memory"], indirect=True)
async def test_upstream_errors_in_redis_add_up_across_replicas_and_restarts(
    world: World, redis_prefix: str
) -> None:
    """Two replicas' Cal.com failures are one total, still there after a restart."""
    replicas = [
        Telemetry(world.repository, shared=RedisCounters(REDIS_URL, prefix=redis_prefix))
        for _ in range(2)
    ]
    for telemetry in replicas:
        async with CalcomClient(
            api_key=CALCOM_KEY,
            transport=world.calcom.transport,
            on_request=telemetry.on_calcom_request,
        ) as calcom:
            with pytest.raises(CalcomNotFound):
                await calcom.get_booking("no-such-booking")
        await telemetry.aclose()
    restarted = Telemetry(world.repository, shared=RedisCounters(REDIS_URL, prefix=redis_prefix))

    text = (await restarted.render()).decode()
    await restarted.aclose()

    assert (
        'retell_booking_upstream_errors_total{business="default",kind="CalcomNotFound"} 2.0' in text
    )


@pytest.mark.parametrize("repository", ["memory"], indirect=True)
async def test_upstream_errors_in_redis_are_kept_per_business_and_earlier_ones_are_defaults(
    world: World, redis_prefix: str
) -> None:
    """Each business's failures are its own series; a count from before businesses (a
    bare kind) stays in the series of ``default``."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    await client.hincrby(f"{redis_prefix}:upstream_errors", "CalcomNotFound", 3)
    await client.aclose()
    telemetry = Telemetry(
        world.repository,
        shared=RedisCounters(REDIS_URL, prefix=redis_prefix),
        businesses={"default": "UTC", "salon-ana": "America/New_York"},
    )
    for business_id in ("default", "salon-ana"):
        async with CalcomClient(
            api_key=CALCOM_KEY,
            transport=world.calcom.transport,
            on_request=telemetry.calcom_hook(business_id),
        ) as calcom:
            with pytest.raises(CalcomNotFound):
                await calcom.get_booking("no-such-booking")

    text = (await telemetry.render()).decode()
    await telemetry.aclose()

    assert (
        'retell_booking_upstream_errors_total{business="default",kind="CalcomNotFound"} 4.0' in text
    )
    assert (
        'retell_booking_upstream_errors_total{business="salon-ana",kind="CalcomNotFound"} 1.0'
        in text
    )


@pytest.mark.parametrize("repository", ["memory"], indirect=True)
async def test_measurements_reach_an_opentelemetry_meter_provider(world: World) -> None:
    """With a MeterProvider configured, tool outcomes and Cal.com failures are recorded there."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    telemetry = Telemetry(world.repository, meter_provider=MeterProvider(metric_readers=[reader]))
    async with CalcomClient(
        api_key=CALCOM_KEY,
        transport=world.calcom.transport,
        on_request=telemetry.on_calcom_request,
    ) as calcom:
        with pytest.raises(CalcomNotFound):
            await calcom.get_booking("no-such-booking")
    key = ToolCallKey("call_1", TOOL, "digest")
    await telemetry.tool_finished(key, ToolStatus.EXISTING, 0.2)

    data = reader.get_metrics_data()
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }
    existing = (DEFAULT, ("status", "existing"), ("tool", TOOL))
    assert points[("retell_booking.tool.results", existing)].value == 1
    assert points[("retell_booking.tool.duration", existing)].count == 1
    failed = (DEFAULT, ("kind", "CalcomNotFound"))
    assert points[("retell_booking.upstream.errors", failed)].value == 1


class UnreachableStore(InMemoryRepository):
    """A store whose counter queries fail as a lost connection does."""

    async def tool_outcome_counts(
        self, *, business_id: str | None = None
    ) -> dict[tuple[str, str], int]:
        raise RepositoryError("tool_outcome_counts failed: OperationalError: connection lost")


async def test_metrics_answer_503_while_the_store_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A scrape while the store fails is a 503 with one WARNING, never a 500."""
    async with open_world(UnreachableStore()) as world:
        with caplog.at_level(logging.WARNING, logger="retell_booking_tools.server"):
            response = await get_metrics(world.runtime)

    assert response.status_code == 503
    assert response.json() == {"error": "the store is unavailable"}
    warnings = [r for r in caplog.records if r.name == "retell_booking_tools.server"]
    assert len(warnings) == 1


@pytest.mark.parametrize("repository", ["memory"], indirect=True)
async def test_metrics_answer_503_while_redis_is_unreachable(world: World) -> None:
    """Shared counters in a Redis nobody listens for are a 503, never a 500."""
    telemetry = Telemetry(world.repository, shared=RedisCounters("redis://127.0.0.1:1/0"))
    try:
        response = await get_metrics(attrs.evolve(world.runtime, telemetry=telemetry))
    finally:
        await telemetry.aclose()

    assert response.status_code == 503
    assert response.json() == {"error": "the store is unavailable"}
