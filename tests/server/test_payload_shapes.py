"""Bodies as Retell really sends them: hour-long calls, args-only tools, renamed tools, chats."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from agent_backend import CALLER, World, open_world

from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.testing import RetellSimulator

ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


class TestLongCalls:
    """A call object as long as an hour of talk is answered like any other."""

    async def test_sixty_minute_call_books_through_a_function_call(self, edge_world: World) -> None:
        """An hour of transcript in every form Retell sends still books."""
        call = RetellSimulator.long_call_object("call_long", minutes=60, from_number=CALLER)
        body = edge_world.retell.body("collect_appointment_data", ARGS, call)
        assert len(body) > 1.5 * 1024 * 1024  # an hour of talk, far over the old 256 KiB

        response = await edge_world.retell.post("collect_appointment_data", body)

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "booked"
        assert edge_world.booking_posts() == 1

    async def test_sixty_minute_call_analyzed_event_is_stored(self, edge_world: World) -> None:
        """``call_analyzed`` of a long call is stored, not lost to a 413."""
        call = RetellSimulator.long_call_object(
            "call_long",
            minutes=60,
            call_status="ended",
            end_timestamp=1759958460000,
            disconnection_reason="user_hangup",
        )
        body = json.dumps({"event": "call_analyzed", "call": call}).encode()

        response = await edge_world.retell.post_event(body)

        assert response.status_code == 204
        stored = await edge_world.repository.get_call("call_long")
        assert stored is not None
        assert stored.disconnection_reason == "user_hangup"

    async def test_body_over_the_configured_limit_is_413(self) -> None:
        """``RETELL_BOOKING_MAX_BODY_BYTES`` bounds what is read."""
        async with open_world(InMemoryRepository(), max_body_bytes=1024 * 1024) as edge_world:
            call = RetellSimulator.long_call_object("call_long", minutes=60, from_number=CALLER)
            body = edge_world.retell.body("collect_appointment_data", ARGS, call)

            response = await edge_world.retell.post("collect_appointment_data", body)
            event = await edge_world.retell.post_event(
                json.dumps({"event": "call_ended", "call": call}).encode()
            )

            assert response.status_code == event.status_code == 413
            assert edge_world.calcom.requests == []
            assert await edge_world.repository.get_call("call_long") is None


class TestArgsOnly:
    """A tool with "Payload: args only" gets an error that says which setting to change."""

    async def test_args_only_body_is_400_naming_the_setting(self, edge_world: World) -> None:
        """The error names ``args_at_root`` as Retell's dashboard shows it, and the fix."""
        response = await edge_world.retell.post(
            "collect_appointment_data", json.dumps(ARGS).encode()
        )

        assert response.status_code == 400
        error = response.json()["error"]
        assert "args_at_root" in error
        assert "Payload: args only" in error
        assert "turn it off" in error
        assert edge_world.calcom.requests == []

    async def test_args_only_warns_once_per_tool(
        self, edge_world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """However often it comes, each tool's args-only setting is one WARNING line."""
        caplog.set_level(logging.WARNING)
        for _ in range(3):
            await edge_world.retell.post("collect_appointment_data", json.dumps(ARGS).encode())
        await edge_world.retell.post("find_appointments", b"{}")

        warnings = _warnings(caplog)
        assert len(warnings) == 2
        assert "collect_appointment_data" in warnings[0]
        assert "find_appointments" in warnings[1]
        assert all("args_at_root" in line for line in warnings)


class TestToolNameInTheBody:
    """The signed body must name the URL's tool: a signed body runs only as itself."""

    @pytest.mark.parametrize(
        ("body_fields", "named"),
        [({}, "names no tool"), ({"name": "confirm_existing"}, "'confirm_existing'")],
        ids=["without-name", "other-tool"],
    )
    async def test_body_for_another_tool_is_400_and_runs_nothing(
        self, edge_world: World, body_fields: dict[str, Any], named: str
    ) -> None:
        """A ``confirm_existing`` body (or one naming no tool) posted to cancel runs nothing."""
        await edge_world.book("call_1")
        requests_before = len(edge_world.calcom.requests)
        call = edge_world.retell.call_object("call_2", from_number=CALLER)
        body = json.dumps({"call": call, "args": {}, **body_fields}).encode()

        response = await edge_world.retell.post("cancel_appointment", body)

        assert response.status_code == 400
        error = response.json()["error"]
        assert named in error
        assert "'cancel_appointment'" in error
        assert "tools sync" in error
        assert len(edge_world.calcom.requests) == requests_before
        assert await edge_world.repository.get_call("call_2") is None


class TestChatEvents:
    """An account-level webhook's chat events are acknowledged and stored nowhere."""

    @pytest.mark.parametrize("event", ["chat_started", "chat_ended", "chat_analyzed"])
    async def test_chat_event_is_204_and_stores_nothing(
        self, edge_world: World, event: str
    ) -> None:
        """Retell gets its 2xx, so it does not retry; no call record appears."""
        chat = {"chat_id": "chat_1", "agent_id": "agent_chat", "chat_status": "ongoing"}
        body = json.dumps({"event": event, "chat": chat}).encode()

        response = await edge_world.retell.post_event(body)

        assert response.status_code == 204
        assert await edge_world.repository.get_call("chat_1") is None
        assert await edge_world.repository.tool_call_records() == []
