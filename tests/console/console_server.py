"""A console to drive from a browser: the incident replayed, then served over real HTTP.

``python console_server.py DIRECTORY`` builds the backend on a SQLite file in DIRECTORY,
with the Cal.com emulator, replays the incident's two calls (and a third caller whose
Cal.com attendee name is markup), then serves on a free port of 127.0.0.1 and prints
``READY <port> <booking uid>`` once it listens. It stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from pydantic import SecretStr

from retell_booking_tools.config import Settings
from retell_booking_tools.demo import next_business_morning
from retell_booking_tools.domain import CallLink, NewAppointment, Relationship
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
)

PASSWORD = "correct horse battery staple"
CALLER = "+4915112345678"
SCRIPT_NAME = "<script>alert(1)</script>"
EVENT_TYPE_ID = 2563193
ZONE = "Europe/Berlin"


async def main(directory: Path) -> None:
    emulator = CalcomEmulator(api_key="cal_console_key")
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=60,
            timezone=ZONE,
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
            ),
        )
    )
    settings = Settings(
        calcom_api_key=SecretStr("cal_console_key"),
        calcom_event_type_id=EVENT_TYPE_ID,
        retell_api_key=SecretStr("console_retell_key"),
        database_url=f"sqlite:///{directory / 'console.db'}",
        timezone=ZONE,
        console_password=SecretStr(PASSWORD),
    )
    runtime = await build_runtime(settings, calcom_transport=emulator.transport)
    app = create_app(runtime=runtime)
    start = next_business_morning(datetime.now(UTC), ZoneInfo(ZONE))
    args = {
        "customer_name": "Max Mustermann",
        "date": start.date().isoformat(),
        "time": start.strftime("%H:%M"),
    }
    uid = ""
    async with RetellSimulator.for_app(app, api_key="console_retell_key") as retell:
        for call_id in ("call_682", "call_766"):
            began = int(datetime.now(UTC).timestamp() * 1000)
            call = retell.call_object(call_id, from_number=CALLER, start_timestamp=began)
            await retell.call_event("call_started", call=call)
            response = await retell.function_call("collect_appointment_data", args, call=call)
            result = response.json()
            uid = uid or result["appointment"]["booking_uid"]
            ended = {
                **call,
                "call_status": "ended",
                "end_timestamp": began + 95_000,
                "disconnection_reason": "user_hangup",
            }
            await retell.call_event("call_ended", call=ended)
        await retell.function_call(
            "check_availability",
            {"date": start.date().isoformat()},
            call=retell.call_object("call_900", from_number="+4917098765432"),
        )
    repository = runtime.repository
    customer = await repository.upsert_customer(
        name=SCRIPT_NAME, phone="+4917098765432", email="someone@example.com", call_id="call_900"
    )
    later = start + timedelta(hours=3)
    appointment, _ = await repository.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid="uid-markup-attendee",
            event_type_id=EVENT_TYPE_ID,
            start=later.astimezone(UTC),
            end=(later + timedelta(hours=1)).astimezone(UTC),
            timezone=ZONE,
        )
    )
    await repository.link(
        CallLink(
            call_id="call_900",
            appointment_id=appointment.id,
            relationship=Relationship.ORIGINAL,
            linked_at=datetime.now(UTC),
            metadata={"backfilled": True},
        )
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    print(f"READY {port} {uid}", flush=True)
    try:
        await serving
    finally:
        await runtime.aclose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
