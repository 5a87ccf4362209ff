"""Prometheus metrics and the daily duplicate alert.

Every series carries the ``business`` it counts (``default`` without a businesses file).
Outcome counters are computed from the store at scrape time, so they survive restarts
and every replica reports the same totals:

- ``retell_booking_tool_results_total{tool,status,business}``: function calls by final
  status (``error`` for calls whose last delivery failed and that no retry finished);
- ``retell_booking_duplicate_attempts_total{business}``: ``existing`` results;
- ``retell_booking_conflicts_total{business}``: ``conflict`` results;
- ``retell_booking_reference_misses_total{business}``: wrong booking references (or names)
  said.

``retell_booking_upstream_errors_total{kind,business}`` (failed Cal.com requests by
:attr:`CalcomError.kind`) has no place in the store: with ``RETELL_BOOKING_REDIS_URL`` it is
kept in Redis (:class:`RedisCounters`, the ``redis`` extra; one field ``<business>|<kind>``
per series, a bare ``<kind>`` counted before businesses is ``default``'s), shared by
replicas and kept across restarts; without Redis it is counted per process. Latency
histograms are always per process; sum them across replicas in the query.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from retell_booking_tools.calcom.client import CalcomRequestEvent
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    READ_ONLY_TOOLS,
    ToolCallKey,
    ToolStatus,
)
from retell_booking_tools.errors import CountersUnavailable
from retell_booking_tools.ops.otel import open_telemetry_instruments
from retell_booking_tools.ops.stats import day_start
from retell_booking_tools.repository.protocol import Repository

__all__ = ["CONTENT_TYPE", "RedisCounters", "SharedCounters", "Telemetry", "shared_field"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)


class SharedCounters(Protocol):
    """Labelled counters that every replica adds to and reads, e.g. in Redis."""

    def increment(self, name: str, label: str) -> None:
        """Add one, without waiting; a failure is logged, never raised."""
        ...

    async def read(self, name: str) -> dict[str, int]: ...

    async def aclose(self) -> None: ...


class RedisCounters:
    """:class:`SharedCounters` as Redis hashes (``<prefix>:<name>``, one field per label)."""

    def __init__(self, url: str, *, prefix: str = "retell_booking") -> None:
        from retell_booking_tools.shared_redis import redis_client

        self._redis: Any = redis_client(url)
        from redis.exceptions import RedisError

        self._failures: tuple[type[Exception], ...] = (RedisError, OSError)
        self._prefix = prefix
        self._pending: set[asyncio.Task[None]] = set()

    def increment(self, name: str, label: str) -> None:
        task = asyncio.get_running_loop().create_task(self._increment(name, label))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _increment(self, name: str, label: str) -> None:
        try:
            await self._redis.hincrby(f"{self._prefix}:{name}", label, 1)
        except Exception as exc:
            logger.warning("could not count %s in Redis: %s", name, type(exc).__name__)

    async def read(self, name: str) -> dict[str, int]:
        """Every label's count; raises :class:`CountersUnavailable` when Redis fails."""
        await self.flush()
        try:
            stored = await self._redis.hgetall(f"{self._prefix}:{name}")
        except self._failures as exc:
            raise CountersUnavailable(f"could not read {name} from Redis: {exc}") from exc
        return {key.decode(): int(value) for key, value in stored.items()}

    async def flush(self) -> None:
        """Wait for the increments this process has started."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def aclose(self) -> None:
        await self.flush()
        await self._redis.aclose()


_FIELD_SEPARATOR = "|"
"""Between the business and the label of a shared counter's field (business ids are
``[a-z0-9-]+``, so neither part holds it)."""


def shared_field(business_id: str, label: str) -> str:
    """The shared counter field of ``label`` in business ``business_id``."""
    return f"{business_id}{_FIELD_SEPARATOR}{label}"


def _business_and_label(field: str) -> tuple[str, str]:
    """The (business, label) of a shared field; a bare label (before businesses) is
    ``default``'s."""
    business, separator, label = field.partition(_FIELD_SEPARATOR)
    return (business, label) if separator else (DEFAULT_BUSINESS_ID, field)


class _SharedUpstreamErrors(Collector):
    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        for field, count in counts.items():
            kind_of = _business_and_label(field)
            self._counts[kind_of] = self._counts.get(kind_of, 0) + count

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "retell_booking_upstream_errors",
            "Failed Cal.com requests by error kind and business (all replicas).",
            labels=["kind", "business"],
        )
        for (business, kind), count in sorted(self._counts.items()):
            family.add_metric([kind, business], count)
        yield family


@attrs.frozen
class _BusinessCounts:
    """One business's outcome counts and reference misses, read from the store."""

    business_id: str
    counts: Mapping[tuple[str, str], int]
    reference_misses: int = 0


class _StoreCounters(Collector):
    """Counter families from one snapshot of the store's outcome counts, per business."""

    def __init__(self, businesses: Sequence[_BusinessCounts]) -> None:
        self._businesses = businesses

    def collect(self) -> Iterator[Metric]:
        results = CounterMetricFamily(
            "retell_booking_tool_results",
            "Function calls by tool, final status and business, from the store.",
            labels=["tool", "status", "business"],
        )
        for entry in self._businesses:
            for (tool, status), count in sorted(entry.counts.items()):
                results.add_metric([tool, status, entry.business_id], count)
        yield results
        for name, status, documentation in (
            ("duplicate_attempts", ToolStatus.EXISTING, "Results `existing`: already held."),
            ("conflicts", ToolStatus.CONFLICT, "Results `conflict`: someone else's slot."),
        ):
            family = CounterMetricFamily(
                f"retell_booking_{name}", documentation, labels=["business"]
            )
            for entry in self._businesses:
                total = sum(
                    n
                    for (tool, s), n in entry.counts.items()
                    if s == status.value and tool not in READ_ONLY_TOOLS
                )
                family.add_metric([entry.business_id], total)
            yield family
        misses = CounterMetricFamily(
            "retell_booking_reference_misses",
            "Wrong booking references or names said, from the store.",
            labels=["business"],
        )
        for entry in self._businesses:
            misses.add_metric([entry.business_id], entry.reference_misses)
        yield misses


class Telemetry:
    """Measures tool calls and Cal.com requests, renders ``/metrics``, raises the alert.

    Pass :meth:`calcom_hook` of its business to each :class:`CalcomClient` (or
    :meth:`on_calcom_request` for the business ``default``) and this object as the tool
    runner's observer. A broken measurement never fails a tool call.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        timezone: str = "UTC",
        duplicate_alert_threshold: int = 10,
        clock: Clock = system_clock,
        shared: SharedCounters | None = None,
        meter_provider: Any = None,
        businesses: Mapping[str, str] | None = None,
    ) -> None:
        """``meter_provider``: an OpenTelemetry one (default: the global one, if installed).
        ``businesses``: the time zone of each business whose store counters are served, by
        id (default: the business ``default`` in ``timezone``)."""
        self._repository = repository
        self._shared = shared
        self._otel = open_telemetry_instruments(meter_provider)
        self._zones = {
            business_id: ZoneInfo(zone)
            for business_id, zone in (businesses or {DEFAULT_BUSINESS_ID: timezone}).items()
        }
        self._zone = ZoneInfo(timezone)
        self._threshold = duplicate_alert_threshold
        self._threshold_passed_on: dict[str, date] = {}
        self._clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self._tool_latency = Histogram(
            "retell_booking_tool_duration_seconds",
            "Time to answer a function call, by tool, status and business (this process).",
            ["tool", "status", "business"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._calcom_latency = Histogram(
            "retell_booking_calcom_request_duration_seconds",
            "Cal.com request time by method, endpoint template and business (this process).",
            ["method", "endpoint", "business"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._upstream_errors = (
            None
            if shared is not None
            else Counter(
                "retell_booking_upstream_errors",
                "Failed Cal.com requests by error kind and business (this process).",
                ["kind", "business"],
                registry=self.registry,
            )
        )

    def calcom_hook(self, business_id: str) -> Callable[[CalcomRequestEvent], None]:
        """The request hook of business ``business_id``'s Cal.com client."""
        return functools.partial(self.on_calcom_request, business_id=business_id)

    def on_calcom_request(
        self, event: CalcomRequestEvent, *, business_id: str = DEFAULT_BUSINESS_ID
    ) -> None:
        """The Cal.com client's request hook (of business ``business_id``)."""
        self._calcom_latency.labels(event.method, event.endpoint, business_id).observe(
            event.elapsed_seconds
        )
        if self._otel is not None:
            self._otel.calcom_request(event, business_id)
        if event.error_kind is None:
            return
        if self._shared is not None:
            self._shared.increment("upstream_errors", shared_field(business_id, event.error_kind))
        elif self._upstream_errors is not None:
            self._upstream_errors.labels(event.error_kind, business_id).inc()

    async def tool_finished(
        self,
        key: ToolCallKey,
        status: ToolStatus,
        elapsed_seconds: float,
        *,
        business_id: str = DEFAULT_BUSINESS_ID,
    ) -> None:
        """The tool runner's hook, after the result is stored (of business ``business_id``)."""
        self._tool_latency.labels(key.tool, status.value, business_id).observe(elapsed_seconds)
        if self._otel is not None:
            self._otel.tool_finished(key.tool, status.value, elapsed_seconds, business_id)
        attempt = key.tool not in READ_ONLY_TOOLS
        if status is ToolStatus.EXISTING and self._threshold > 0 and attempt:
            await self._check_duplicates(key, business_id)

    async def render(self) -> bytes:
        """The Prometheus text exposition: store counters, then this process's measurements.

        Raises :class:`RepositoryError` (:class:`CountersUnavailable` for Redis) when the
        counters cannot be read."""
        ever = datetime.min.replace(tzinfo=UTC)
        businesses = [
            _BusinessCounts(
                business_id,
                await self._repository.tool_outcome_counts(business_id=business_id),
                await self._repository.reference_misses(since=ever, business_id=business_id),
            )
            for business_id in self._zones
        ]
        snapshot = CollectorRegistry(auto_describe=False)
        snapshot.register(_StoreCounters(businesses))
        if self._shared is not None:
            snapshot.register(_SharedUpstreamErrors(await self._shared.read("upstream_errors")))
        return generate_latest(snapshot) + generate_latest(self.registry)

    async def aclose(self) -> None:
        if self._shared is not None:
            await self._shared.aclose()

    async def _check_duplicates(self, key: ToolCallKey, business_id: str) -> None:
        """Warn once per business and business day when its duplicates pass the threshold.

        Every replica orders the day's ``existing`` results the same way (the store's
        order); only the one whose result is number ``threshold + 1`` warns, so the warning
        is written once per day across replicas, without any extra state.
        """
        zone = self._zones.get(business_id, self._zone)
        today = self._clock().astimezone(zone).date()
        if today == self._threshold_passed_on.get(business_id):
            # Number ``threshold + 1`` is already stored; a later result cannot be it, so
            # the day's records need not be read again on every duplicate.
            return
        records = await self._repository.tool_call_records(
            since=day_start(today, zone),
            until=day_start(today + timedelta(days=1), zone),
        )
        existing = [
            r
            for r in records
            if r.status == ToolStatus.EXISTING.value
            and r.booking_attempt
            and r.business_id == business_id
        ]
        if len(existing) > self._threshold:
            self._threshold_passed_on[business_id] = today
        if len(existing) > self._threshold and existing[self._threshold].key == key:
            logger.warning(
                "more than %d duplicate booking attempts today (%s) in business %s: callers "
                "may be forgetting their appointments",
                self._threshold,
                today.isoformat(),
                business_id,
                extra={
                    "duplicates": len(existing),
                    "threshold": self._threshold,
                    "business_id": business_id,
                },
            )
