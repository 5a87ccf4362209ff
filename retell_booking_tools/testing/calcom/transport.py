"""The in-process way in: an httpx transport that raises the failures httpx would raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from .faults import Disruption, Exchange
from .wire import WireRequest


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Pass to ``httpx.AsyncClient(transport=...)``; any base URL works, only ``/v2/...`` counts."""

    def __init__(self, exchange: Callable[[WireRequest], Awaitable[Exchange]]) -> None:
        self._exchange = exchange

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        outcome = await self._exchange(
            WireRequest.build(
                request.method,
                request.url.path,
                dict(request.url.params.multi_items()),
                dict(request.headers),
                body,
            )
        )
        if outcome.disruption is Disruption.REFUSED:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if outcome.disruption is Disruption.TIMEOUT:
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        if outcome.disruption is Disruption.RESET:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        response = outcome.response
        assert response is not None
        return httpx.Response(
            response.status,
            headers=list(response.headers.items()),
            content=response.body,
            request=request,
        )
