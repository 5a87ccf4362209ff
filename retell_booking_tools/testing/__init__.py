"""Test helpers: an emulated Cal.com API v2, an emulated Retell LLM API, Retell's signed
requests, a clock and a loopback HTTP server.

Laid out by fake: ``calcom/`` is the Cal.com emulator, ``retell/`` the call simulator and
the Retell API emulator, and ``clock.py`` and ``http_server.py`` serve both. Import every
name from here; the modules behind them may move.

emu = CalcomEmulator(api_key="cal_test_key", clock=FakeClock(now))
emu.add_event_type(EventTypeSpec(id=1, title="Beratung", length_minutes=60))
emu.add_account("cal_test_salon", event_types=[EventTypeSpec(id=2, title="Haarschnitt")])
client = httpx.AsyncClient(transport=emu.transport, base_url="https://api.cal.com/v2")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .calcom.emulator import CalcomEmulator, WebhookDelivery
    from .calcom.faults import Fault, FaultKind
    from .calcom.models import (
        BookingStatus,
        BusinessHours,
        EmulatedAttendee,
        EmulatedBooking,
        EmulatedHost,
        EventTypeSpec,
        RecordedRequest,
    )
    from .calcom.store import SentEmail
    from .clock import FakeClock
    from .http_server import serve_asgi, serve_asgi_in_thread
    from .retell.api_emulator import RetellApiEmulator, RetellApiRequest
    from .retell.simulator import RetellSimulator, SimulatedCall, SimulatedInvocation
else:
    from retell_booking_tools.lazy_exports import lazy_exports as _lazy_exports

    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "retell_booking_tools.testing.calcom.emulator": ("CalcomEmulator", "WebhookDelivery"),
            "retell_booking_tools.testing.clock": ("FakeClock",),
            "retell_booking_tools.testing.calcom.faults": ("Fault", "FaultKind"),
            "retell_booking_tools.testing.calcom.models": (
                "BookingStatus",
                "BusinessHours",
                "EmulatedAttendee",
                "EmulatedBooking",
                "EmulatedHost",
                "EventTypeSpec",
                "RecordedRequest",
            ),
            "retell_booking_tools.testing.calcom.store": ("SentEmail",),
            "retell_booking_tools.testing.http_server": ("serve_asgi", "serve_asgi_in_thread"),
            "retell_booking_tools.testing.retell.api_emulator": (
                "RetellApiEmulator",
                "RetellApiRequest",
            ),
            "retell_booking_tools.testing.retell.simulator": (
                "RetellSimulator",
                "SimulatedCall",
                "SimulatedInvocation",
            ),
        },
    )

__all__ = [
    "BookingStatus",
    "BusinessHours",
    "CalcomEmulator",
    "EmulatedAttendee",
    "EmulatedBooking",
    "EmulatedHost",
    "EventTypeSpec",
    "FakeClock",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "RetellApiEmulator",
    "RetellApiRequest",
    "RetellSimulator",
    "SentEmail",
    "SimulatedCall",
    "SimulatedInvocation",
    "WebhookDelivery",
    "serve_asgi",
    "serve_asgi_in_thread",
]
