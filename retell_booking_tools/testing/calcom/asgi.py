"""The over-the-wire way in: an ASGI app to serve with uvicorn, e.g. to record cassettes.

Faults become real network behaviour: a timeout stalls the answer, a reset drops the
connection after the status line so the client sees the server disconnect.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from .faults import Disruption, Exchange
from .wire import ApiError, WireRequest, WireResponse, failure


class EmulatedDisconnectError(Exception):
    """Raised inside the app so the server closes the connection mid-answer."""


class EmulatorAsgiApp:
    def __init__(
        self,
        exchange: Callable[[WireRequest], Awaitable[Exchange]],
        stall_seconds: Callable[[], float],
        released: Callable[[], bool],
        now: Callable[[], datetime],
    ) -> None:
        self._exchange = exchange
        self._stall_seconds = stall_seconds
        self._released = released
        self._now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        request = WireRequest.build(
            scope["method"],
            scope["path"],
            dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)),
            {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]},
            body,
        )
        outcome = await self._exchange(request)
        response = outcome.response or self._no_answer(request)
        if outcome.disruption is Disruption.TIMEOUT:
            await self._stall()
        await send(_start(response))
        if outcome.disruption in {Disruption.RESET, Disruption.REFUSED}:
            raise EmulatedDisconnectError("emulated connection reset")
        await send({"type": "http.response.body", "body": response.body})

    def _no_answer(self, request: WireRequest) -> WireResponse:
        """What a gateway says once the API never answered; rarely seen, the client gave up."""
        return failure(ApiError(504, "Gateway Timeout"), request.url, self._now())

    async def _stall(self) -> None:
        """Sleep the stall time in small steps, so :meth:`CalcomEmulator.close` can end it."""
        step = 0.05
        for _ in range(math.ceil(self._stall_seconds() / step)):
            if self._released():
                return
            await asyncio.sleep(step)


def _start(response: WireResponse) -> dict[str, object]:
    headers = [(name.lower().encode(), value.encode()) for name, value in response.headers.items()]
    headers.append((b"content-length", str(len(response.body)).encode()))
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
