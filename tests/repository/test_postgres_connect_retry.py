"""A connection PostgreSQL refuses while it is being opened is tried once more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.repository.postgres import PostgresRepository

if TYPE_CHECKING:
    from conftest import Databases

pytestmark = pytest.mark.postgres

RETRY_WARNING = "retrying once on a fresh connection"


class RefusingFront:
    """A TCP front for PostgreSQL that hangs up on the next ``refuse`` connections at once,
    as a server that is full, starting up or failing over does, and forwards the rest."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.refuse = 0
        self.refused = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused += 1
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def refusing_front(postgres_url: str) -> AsyncIterator[RefusingFront]:
    parts = urlsplit(postgres_url)
    front = RefusingFront((parts.hostname or "127.0.0.1", parts.port or 5432))
    server = await asyncio.start_server(front.handle, "127.0.0.1", 0)
    front.port = server.sockets[0].getsockname()[1]
    try:
        yield front
    finally:
        server.close()


def _through(postgres_url: str, port: int) -> str:
    parts = urlsplit(postgres_url)
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}127.0.0.1:{port}{parts.path}"


async def test_a_connection_refused_while_opening_is_opened_again(
    databases: Databases, caplog: pytest.LogCaptureFixture
) -> None:
    """The server hangs up on a new connection once: the call still succeeds, with one retry."""
    database = databases.create("postgres")
    async with refusing_front(database.url) as front:
        repository = PostgresRepository(_through(database.url, front.port), schema=database.schema)
        try:
            await repository.engine.dispose()
            front.refuse = 1
            with caplog.at_level(logging.WARNING):
                customer = await repository.upsert_customer(
                    name="Max", phone="+4915112345678", email=None
                )
            assert await repository.get_customer(customer.id) == customer
        finally:
            await repository.close()

    assert front.refused == 1
    assert sum(RETRY_WARNING in r.getMessage() for r in caplog.records) == 1


async def test_a_server_nobody_listens_for_is_tried_twice_then_an_error(
    databases: Databases, caplog: pytest.LogCaptureFixture
) -> None:
    """No server at all: one retry, then a store error, never a hang or a raw driver error."""
    database = databases.create("postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repository = PostgresRepository(_through(database.url, port), schema=database.schema)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(RepositoryError):
            await repository.get_customer(1)
    finally:
        await repository.close()

    assert sum(RETRY_WARNING in r.getMessage() for r in caplog.records) == 1
