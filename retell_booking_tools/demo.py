"""The incident, replayed safely: two calls from one caller for one slot, end to end.

Everything is real but Cal.com, which is the bundled emulator: the signed HTTP requests,
the ASGI app, the tool runner, the booking service and a temporary SQLite store.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from pydantic import SecretStr

from retell_booking_tools.config import Language, Settings
from retell_booking_tools.ops.history import appointment_history
from retell_booking_tools.repository.factory import upgrade_database
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
)

DEMO_EVENT_TYPE_ID = 2563193
DEMO_TIMEZONE = "Europe/Berlin"
DEMO_CALLER = "+4915112345678"
_CALCOM_KEY = "cal_demo_emulator_key"
_RETELL_KEY = "demo_retell_key"


@attrs.frozen
class DemoTurn:
    """One function call of the demo and what the agent was told."""

    call_id: str
    status: str
    message: str
    result: dict[str, Any]


@attrs.frozen
class DemoReport:
    turns: tuple[DemoTurn, ...]
    history: dict[str, Any]
    calcom_bookings: int


def next_business_morning(now: datetime, zone: ZoneInfo) -> datetime:
    """11:00 local on the next weekday at least a day away."""
    day = (now.astimezone(zone) + timedelta(days=1)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(11, 0), tzinfo=zone)


async def run_demo(language: Language = "en", *, directory: Path | None = None) -> DemoReport:
    """Run the two calls; the first must be ``booked``, the second ``existing``."""
    with tempfile.TemporaryDirectory(prefix="retell-booking-demo-") as scratch:
        folder = directory or Path(scratch)
        database_url = f"sqlite:///{folder / 'demo.db'}"
        upgrade_database(database_url)
        emulator = CalcomEmulator(api_key=_CALCOM_KEY)
        emulator.add_event_type(
            EventTypeSpec(
                id=DEMO_EVENT_TYPE_ID,
                title="Beratung",
                length_minutes=60,
                timezone=DEMO_TIMEZONE,
                business_hours=BusinessHours(
                    weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
                ),
            )
        )
        settings = Settings(
            calcom_api_key=SecretStr(_CALCOM_KEY),
            calcom_event_type_id=DEMO_EVENT_TYPE_ID,
            retell_api_key=SecretStr(_RETELL_KEY),
            database_url=database_url,
            timezone=DEMO_TIMEZONE,
            language=language,
        )
        runtime = await build_runtime(settings, calcom_transport=emulator.transport)
        try:
            start = next_business_morning(datetime.now(UTC), ZoneInfo(DEMO_TIMEZONE))
            args = {
                "customer_name": "Max Mustermann",
                "date": start.date().isoformat(),
                "time": start.strftime("%H:%M"),
            }
            app = create_app(runtime=runtime)
            turns = []
            async with RetellSimulator.for_app(app, api_key=_RETELL_KEY) as retell:
                for call_id in ("call_682", "call_766"):
                    response = await retell.function_call(
                        "collect_appointment_data",
                        args,
                        call=retell.call_object(call_id, from_number=DEMO_CALLER),
                    )
                    response.raise_for_status()
                    result = response.json()
                    turns.append(DemoTurn(call_id, result["status"], result["message"], result))
            history = await appointment_history(
                runtime.repository, str(turns[0].result["appointment"]["booking_uid"])
            )
        finally:
            await runtime.aclose()
        assert history is not None
        return DemoReport(
            turns=tuple(turns),
            history=history,
            calcom_bookings=emulator.created_bookings_count(),
        )
