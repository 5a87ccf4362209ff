"""Clients that send their body slowly, or never finish it: no tool runs, no 5xx, no traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agent_backend import CALLER, RETELL_KEY, World, open_world

from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign
from retell_booking_tools.server import create_app

ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}
PATH = "/retell/functions/collect_appointment_data"


def _signed_body(edge_world: World) -> tuple[bytes, dict[str, str]]:
    call = edge_world.retell.call_object("call_slow", from_number=CALLER)
    body = edge_world.retell.body("collect_appointment_data", ARGS, call)
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(body, RETELL_KEY, at=edge_world.clock()),
    }
    return body, headers


class TestStalledBody:
    """A body that stops arriving is answered 408 after the body timeout."""

    async def test_stalled_body_is_408_closes_the_connection_and_runs_nothing(self) -> None:
        """Headers and five bytes, then silence: 408 with ``connection: close``."""
        async with open_world(InMemoryRepository(), body_timeout_seconds=0.2) as edge_world:
            body, headers = _signed_body(edge_world)

            async def stalled() -> AsyncIterator[bytes]:
                yield body[:5]
                await asyncio.sleep(30)
                yield body[5:]

            response = await asyncio.wait_for(
                edge_world.http.post(PATH, content=stalled(), headers=headers), timeout=10
            )

            assert response.status_code == 408
            assert response.headers["connection"] == "close"
            assert edge_world.calcom.requests == []
            assert await edge_world.repository.get_call("call_slow") is None

    async def test_slow_but_complete_body_is_answered(self) -> None:
        """A body that arrives in pieces within the timeout is served as usual."""
        async with open_world(InMemoryRepository(), body_timeout_seconds=5) as edge_world:
            body, headers = _signed_body(edge_world)

            async def trickle() -> AsyncIterator[bytes]:
                for start in range(0, len(body), 64):
                    await asyncio.sleep(0.001)
                    yield body[start : start + 64]

            response = await edge_world.http.post(PATH, content=trickle(), headers=headers)

            assert response.status_code == 200
            assert response.json()["status"] == "booked"


class TestDisconnectMidBody:
    """A client that goes away mid-body is one INFO line, answered nothing."""

    async def test_disconnect_mid_body_logs_one_info_line_and_sends_nothing(
        self, edge_world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No tool runs, no response is sent, no ERROR and no traceback are logged."""
        caplog.set_level(logging.DEBUG)
        body, headers = _signed_body(edge_world)
        app = create_app(runtime=edge_world.runtime, clock=edge_world.clock)
        incoming: list[dict[str, Any]] = [
            {"type": "http.request", "body": body[:10], "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 5000),
            "server": ("agent", 80),
        }
        caplog.clear()

        await app(scope, receive, send)

        assert sent == []
        assert edge_world.calcom.requests == []
        assert await edge_world.repository.get_call("call_slow") is None
        lines = [r for r in caplog.records if r.name.startswith("retell_booking_tools")]
        assert [r.levelno for r in lines] == [logging.INFO]
        assert "disconnected" in lines[0].getMessage()
        assert all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records)
