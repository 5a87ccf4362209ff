"""``examples/fastapi_backend.py`` serves its own route and books through the mounted tools."""

from __future__ import annotations

import httpx
from example_scripts import load_example, next_business_day
from pydantic import SecretStr

from retell_booking_tools import Settings
from retell_booking_tools.testing import (
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
    serve_asgi,
)

RETELL_KEY = "key_example_test"
CALLER = "+4915112345678"


async def test_fastapi_example_books_through_the_mounted_tools_and_stores_call_events() -> None:
    example = load_example("fastapi_backend")
    emulator = CalcomEmulator(api_key="cal_example")
    emulator.add_event_type(
        EventTypeSpec(id=7, title="Consultation", length_minutes=30, timezone="Europe/Berlin")
    )
    async with serve_asgi(emulator.asgi_app) as calcom_url:
        settings = Settings(
            calcom_api_key=SecretStr("cal_example"),
            calcom_api_url=f"{calcom_url}/v2",
            calcom_event_type_id=7,
            retell_api_key=SecretStr(RETELL_KEY),
            database_url="memory://",
            timezone="Europe/Berlin",
        )
        async with (
            serve_asgi(example.build_app(settings)) as url,
            httpx.AsyncClient(base_url=f"{url}/booking") as http,
        ):
            retell = RetellSimulator(http, api_key=RETELL_KEY)
            call = retell.call_object("call_example", from_number=CALLER)
            args = {
                "customer_name": "Max Mustermann",
                "date": next_business_day().isoformat(),
                "time": "11:00",
            }
            booked = await retell.function_call("collect_appointment_data", args, call=call)
            ended = await retell.call_event("call_ended", call=call)
            home = await http.get(f"{url}/")

    assert booked.status_code == 200, booked.text
    assert booked.json()["status"] == "booked"
    assert ended.status_code == 204
    assert home.json() == {"service": "reception"}
    assert len(emulator.bookings) == 1
