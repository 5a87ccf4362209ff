"""The same measurements as OpenTelemetry instruments, when ``opentelemetry-api`` is installed.

Install the ``otel`` extra and configure a ``MeterProvider`` (globally, or pass one): tool
outcomes, tool and Cal.com latency and upstream errors are then recorded there too.
Without a configured provider the API's instruments do nothing, at no cost.
"""

from __future__ import annotations

from typing import Any

from retell_booking_tools.calcom.client import CalcomRequestEvent

__all__ = ["OpenTelemetryInstruments", "open_telemetry_instruments"]


class OpenTelemetryInstruments:
    """Counters and histograms on one meter named ``retell_booking_tools``."""

    def __init__(self, meter: Any) -> None:
        self._tool_results = meter.create_counter(
            "retell_booking.tool.results", unit="{call}", description="Tool outcomes by status"
        )
        self._tool_duration = meter.create_histogram(
            "retell_booking.tool.duration", unit="s", description="Time to answer a tool call"
        )
        self._calcom_duration = meter.create_histogram(
            "retell_booking.calcom.request.duration", unit="s", description="Cal.com request time"
        )
        self._upstream_errors = meter.create_counter(
            "retell_booking.upstream.errors",
            unit="{request}",
            description="Failed Cal.com requests",
        )

    def tool_finished(
        self, tool: str, status: str, elapsed_seconds: float, business_id: str = "default"
    ) -> None:
        attributes = {"tool": tool, "status": status, "business": business_id}
        self._tool_results.add(1, attributes)
        self._tool_duration.record(elapsed_seconds, attributes)

    def calcom_request(self, event: CalcomRequestEvent, business_id: str = "default") -> None:
        self._calcom_duration.record(
            event.elapsed_seconds,
            {"method": event.method, "endpoint": event.endpoint, "business": business_id},
        )
        if event.error_kind is not None:
            self._upstream_errors.add(1, {"kind": event.error_kind, "business": business_id})


def open_telemetry_instruments(meter_provider: Any = None) -> OpenTelemetryInstruments | None:
    """Instruments on ``meter_provider`` (default: the global one), None without the API."""
    try:
        from opentelemetry import metrics
    except ImportError:
        return None
    return OpenTelemetryInstruments(
        metrics.get_meter("retell_booking_tools", meter_provider=meter_provider)
    )
