"""The least any backend can do for a Retell function call: the latency benchmark's baseline.

    uvicorn --app-dir benchmarks --factory baseline:create_app

A stateless Starlette app on the app's own HTTP stack: it reads the body, verifies the
Retell signature with the app's verifier, decodes the JSON with pydantic-core and, for
``POST /retell/functions/forward``, sends one ``POST /bookings`` to Cal.com for the
``date`` and ``time`` in the args over an ``httpx.AsyncClient`` built like the app's
Cal.com client (its transport on aiohttp's pool, its timeout and headers). Any other tool
name is answered without a Cal.com request (the floor of a path that needs none). It
stores nothing, checks nothing else and answers ``{"status": "booked"}``.

Configured by the app's environment variables: ``CALCOM_API_KEY``, ``CALCOM_API_URL``,
``CALCOM_EVENT_TYPE_ID``, ``RETELL_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pydantic_core
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retell_booking_tools.calcom import BOOKINGS_API_VERSION
from retell_booking_tools.calcom.transport import CalcomTransport
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, verify_signature

FORWARD = "forward"
"""The tool name whose calls are forwarded to Cal.com as one booking."""


def create_app() -> Starlette:
    api_key = os.environ["RETELL_API_KEY"]
    calcom_key = os.environ["CALCOM_API_KEY"]
    event_type_id = int(os.environ["CALCOM_EVENT_TYPE_ID"])
    state: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=os.environ["CALCOM_API_URL"].rstrip("/"),
            timeout=10.0,
            transport=CalcomTransport(),
            headers={
                "Authorization": f"Bearer {calcom_key}",
                "Accept": "application/json",
                "User-Agent": "retell-booking-tools-baseline",
            },
        ) as client:
            state["client"] = client
            yield

    async def function_call(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(body, request.headers.get(SIGNATURE_HEADER), api_key):
            return JSONResponse({"error": "missing, invalid or expired signature"}, 401)
        payload: dict[str, Any] = pydantic_core.from_json(body)
        if request.path_params["tool_name"] != FORWARD:
            return JSONResponse({"status": "booked"})
        args = payload["args"]
        response = await state["client"].post(
            "/bookings",
            json={
                "start": f"{args['date']}T{args['time']}:00.000Z",
                "eventTypeId": event_type_id,
                "attendee": {
                    "name": args["customer_name"],
                    "email": f"{payload['call']['call_id']}@example.com",
                    "timeZone": "UTC",
                },
            },
            headers={"cal-api-version": BOOKINGS_API_VERSION},
        )
        if response.status_code >= 300:
            return JSONResponse({"status": "error", "calcom": response.status_code})
        return JSONResponse({"status": "booked", "booking_uid": response.json()["data"]["uid"]})

    routes = [Route("/retell/functions/{tool_name}", function_call, methods=["POST"])]
    routes.append(Route("/healthz", lambda request: JSONResponse({"status": "ok"})))
    return Starlette(routes=routes, lifespan=lifespan)
