"""The endpoints inside a user's own FastAPI app, and the tools called straight from Python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from agent_backend import CALLER, DAY_ONE, RETELL_KEY, World, make_emulator, make_settings
from fastapi import FastAPI

from retell_booking_tools import NotStarted, RetellEndpoints
from retell_booking_tools.retell import export_tools
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign
from retell_booking_tools.testing import FakeClock, RetellSimulator, serve_asgi

ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


def _user_app(endpoints: RetellEndpoints) -> FastAPI:
    """A user's app: its own route and lifespan, the endpoints mounted under /booking."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with endpoints.lifespan():
            yield

    api = FastAPI(lifespan=lifespan)

    @api.get("/orders/{number}")
    async def order(number: str) -> dict[str, str]:
        return {"order": number}

    api.mount("/booking", endpoints.app)
    return api


async def test_endpoints_mounted_in_fastapi_book_at_the_exported_url() -> None:
    """Retell reaches the mounted tool at the URL ``export_tools`` gives for the prefix."""
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    async with serve_asgi(emulator.asgi_app) as calcom_url:
        settings = make_settings(calcom_api_url=f"{calcom_url}/v2")
        endpoints = RetellEndpoints(settings, clock=clock)
        async with serve_asgi(_user_app(endpoints)) as url, httpx.AsyncClient() as http:
            retell = RetellSimulator(http, api_key=RETELL_KEY, clock=clock)
            (tool,) = export_tools(f"{url}/booking/", tools=["collect_appointment_data"])
            body = retell.body(
                "collect_appointment_data", ARGS, retell.call_object("call_1", from_number=CALLER)
            )
            booked = await http.post(
                tool["url"],
                content=body,
                headers={SIGNATURE_HEADER: sign(body, RETELL_KEY, at=clock())},
            )
            own_route = await http.get(f"{url}/orders/42")

    assert booked.status_code == 200, booked.text
    assert booked.json()["status"] == "booked"
    assert own_route.json() == {"order": "42"}
    bookings = [r for r in emulator.requests if r.method == "POST" and r.path == "/v2/bookings"]
    assert len(bookings) == 1


async def test_mounted_endpoints_without_their_lifespan_answer_503_and_book_nothing() -> None:
    """Forgetting ``endpoints.lifespan()`` is a clear 503, never a half-served call."""
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    endpoints = RetellEndpoints(make_settings(), calcom_transport=emulator.transport, clock=clock)
    api = FastAPI()
    api.mount("/booking", endpoints.app)
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://app/booking") as http:
        retell = RetellSimulator(http, api_key=RETELL_KEY, clock=clock)
        response = await retell.function_call(
            "collect_appointment_data", ARGS, call=retell.call_object("call_1", from_number=CALLER)
        )

    assert response.status_code == 503
    assert emulator.requests == []


async def test_lifespan_yields_the_runtime_and_closes_what_it_built() -> None:
    """Inside the block the runtime serves; after it, the endpoints refuse again."""
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    endpoints = RetellEndpoints(make_settings(), calcom_transport=emulator.transport, clock=clock)

    async with endpoints.lifespan() as runtime:
        assert endpoints.runtime is runtime
        result = await runtime.call_tool("collect_appointment_data", ARGS, call={"call_id": "c1"})
        assert result.status.value == "invalid"
        assert result.field == "phone"

    with pytest.raises(NotStarted, match="lifespan"):
        _ = endpoints.runtime


async def test_tools_called_from_python_are_honest_and_exactly_once(world: World) -> None:
    """A websocket server's calls: booked, the same call replayed, then existing."""
    call = {"call_id": "call_ws_1", "from_number": CALLER, "direction": "inbound"}

    first = await world.runtime.call_tool("collect_appointment_data", ARGS, call=call)
    replayed = await world.runtime.call_tool("collect_appointment_data", ARGS, call=call)
    second = await world.runtime.call_tool(
        "collect_appointment_data", ARGS, call={**call, "call_id": "call_ws_2"}
    )

    assert first.status.value == "booked"
    assert replayed == first
    assert second.status.value == "existing"
    assert world.booking_posts() == 1
    assert first.appointment is not None
    assert await world.links_of(first.appointment.booking_uid) == {
        "call_ws_1": "original",
        "call_ws_2": "duplicate_attempt",
    }
