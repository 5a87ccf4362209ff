"""A FastAPI backend with its own routes and the booking tools mounted under ``/booking``.

    CALCOM_API_KEY=cal_live_... CALCOM_EVENT_TYPE_ID=123456 RETELL_API_KEY=key_... \\
    uvicorn --factory examples.fastapi_backend:build_app

Then give Retell the tools for that prefix:
``retell-booking-tools tools export --base-url https://your-host.example/booking``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from retell_booking_tools import RetellEndpoints, Settings


def build_app(settings: Settings | None = None) -> FastAPI:
    endpoints = RetellEndpoints(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A mounted app's own lifespan never runs: start the tools with yours.
        async with endpoints.lifespan():
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"service": "reception"}

    app.mount("/booking", endpoints.app)
    return app
