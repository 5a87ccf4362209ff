"""The HTTP transport to Cal.com: httpx's API over aiohttp's connection pool.

httpx's own pool (httpcore) re-examines every pooled connection, and polls each idle
socket, twice per request; under load that bookkeeping costs more CPU than the booking
work. httpx-aiohttp (by an httpx maintainer) puts aiohttp's pool under httpx's API, so
the client, its tests and their transports stay as they are.

One thing is corrected here. httpx-aiohttp maps every aiohttp connection error to
``httpx.ConnectTimeout``, which tells the client the request never left, including a
connection the server closed *after* reading the request. For a booking that is the
difference between "nothing was booked" and "look it up first". Here only a failure to
connect counts as unsent; any other broken connection becomes ``httpx.ReadError`` (or
``httpx.ReadTimeout``), which the client treats as possibly received.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["CalcomTransport", "reached_server"]

_UNSENT_CAUSES = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""aiohttp errors raised before any byte of the request was written."""


def reached_server(exc: httpx.TransportError) -> httpx.TransportError:
    """``exc`` unless it claims "not sent" for a request that may have been received."""
    if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return exc
    cause = exc.__cause__
    if cause is None or isinstance(cause, _UNSENT_CAUSES):
        return exc
    honest_type = httpx.ReadTimeout if isinstance(cause, TimeoutError) else httpx.ReadError
    honest = honest_type(str(exc) or type(cause).__name__)
    honest.__cause__ = cause
    return honest


class _HonestStream(httpx.AsyncByteStream):
    """A response body whose read errors say that the request was received."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise reached_server(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def _verifying_tls() -> ssl.SSLContext:
    """httpx's default context (certificates and host names verified), made once per process.

    Making one reads the whole CA bundle, about 20 ms: more than a Cal.com request costs.
    """
    return httpx.create_ssl_context()


class CalcomTransport(AiohttpTransport):
    """:class:`httpx_aiohttp.AiohttpTransport` that never reports a received request as unsent.

    Without ``verify``, every transport shares one verifying TLS context.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("verify", _verifying_tls())
        super().__init__(**options)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as exc:
            raise reached_server(exc) from exc.__cause__
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _HonestStream(response.stream)
        return response
