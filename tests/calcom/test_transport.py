"""The default transport over real sockets: whether a failed write may have reached Cal.com.

A booking whose request was read by the server and then lost must be looked up before
anyone hears "nothing was booked"; one that never left may simply be reported as failed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from retell_booking_tools.calcom import (
    CalcomClient,
    CalcomUnavailable,
    CreateBooking,
    NewAttendee,
)
from retell_booking_tools.calcom.transport import CalcomTransport
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, serve_asgi

API_KEY = "cal_transport_test_key"
START = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _booking() -> CreateBooking:
    return CreateBooking(
        start=START,
        event_type_id=1,
        attendee=NewAttendee(name="Max Mustermann", email="max@example.org", time_zone="UTC"),
    )


async def _read_request(reader: asyncio.StreamReader) -> None:
    """Read one whole HTTP/1.1 request (headers and ``Content-Length`` body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        server.close()
        await server.wait_closed()


async def _create(base_url: str, *, read_timeout: float = 5.0) -> CalcomUnavailable:
    async with CalcomClient(api_key=API_KEY, base_url=base_url, timeout=read_timeout) as client:
        with pytest.raises(CalcomUnavailable) as caught:
            await client.create_booking(_booking())
    return caught.value


async def test_a_connection_closed_after_the_request_was_read_is_ambiguous() -> None:
    requests_read = 0

    async def read_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests_read
        await _read_request(reader)
        requests_read += 1
        writer.close()

    async with _server(read_then_hang_up) as url:
        error = await _create(url)

    assert requests_read == 1
    assert error.ambiguous
    assert API_KEY not in str(error)


async def test_a_request_read_but_never_answered_in_time_is_ambiguous() -> None:
    async def read_then_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)
        writer.close()

    async with _server(read_then_wait) as url:
        error = await _create(url, read_timeout=0.3)

    assert error.ambiguous


async def test_a_refused_connection_never_sent_anything() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused.

    error = await _create(f"http://127.0.0.1:{port}/v2")

    assert not error.ambiguous


async def test_the_default_transport_books_with_the_emulator_over_http() -> None:
    emulator = CalcomEmulator(api_key=API_KEY)
    emulator.add_event_type(EventTypeSpec(id=1, title="Consultation", length_minutes=30))
    async with (
        serve_asgi(emulator.asgi_app) as url,
        CalcomClient(api_key=API_KEY, base_url=f"{url}/v2") as client,
    ):
        start = (await client.get_slots(event_type_id=1, start=START, end=START.replace(hour=23)))[
            0
        ]
        booking = await client.create_booking(_booking().model_copy(update={"start": start}))
        again = await client.get_booking(booking.uid)

    assert again.uid == booking.uid
    assert again.start == start
    assert [b.uid for b in emulator.bookings] == [booking.uid]


def test_default_transports_verify_tls_and_share_one_context() -> None:
    """Certificates and host names are checked, and the CA bundle is read once per process."""
    first, second = CalcomTransport(), CalcomTransport()

    assert first.ssl_context is second.ssl_context
    assert first.ssl_context.verify_mode is ssl.CERT_REQUIRED
    assert first.ssl_context.check_hostname
    assert CalcomTransport(verify=False).ssl_context.verify_mode is ssl.CERT_NONE
