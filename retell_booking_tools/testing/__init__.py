"""Test helpers: an emulated Cal.com API v2, an emulated Retell LLM API, Retell's signed
requests, a clock and a loopback HTTP server.

emu = CalcomEmulator(api_key="cal_test_key", clock=FakeClock(now))
emu.add_event_type(EventTypeSpec(id=1, title="Beratung", length_minutes=60))
client = httpx.AsyncClient(transport=emu.transport, base_url="https://api.cal.com/v2")
"""

from __future__ import annotations

from .calcom_emulator import CalcomEmulator, WebhookDelivery
from .clock import FakeClock
from .emulator.faults import Fault, FaultKind
from .emulator.models import (
    BookingStatus,
    BusinessHours,
    EmulatedAttendee,
    EmulatedBooking,
    EventTypeSpec,
    RecordedRequest,
)
from .http_server import serve_asgi
from .retell_api_emulator import RetellApiEmulator, RetellApiRequest
from .retell_simulator import RetellSimulator

__all__ = [
    "BookingStatus",
    "BusinessHours",
    "CalcomEmulator",
    "EmulatedAttendee",
    "EmulatedBooking",
    "EventTypeSpec",
    "FakeClock",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "RetellApiEmulator",
    "RetellApiRequest",
    "RetellSimulator",
    "WebhookDelivery",
    "serve_asgi",
]
