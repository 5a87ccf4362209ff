"""``POST /retell/webhook``: Retell's call events become the call record support reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_backend import CALLER, RETELL_KEY, World

from retell_booking_tools.config import DEFAULT_MAX_BODY_BYTES as MAX_BODY_BYTES
from retell_booking_tools.ops.history import call_history
from retell_booking_tools.retell.signature import sign

STARTED = datetime(2025, 10, 8, 20, 21, 5, 250000, tzinfo=UTC)
ENDED = STARTED + timedelta(minutes=3, seconds=12)


def _millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _call(world: World, call_id: str = "call_682", **fields: Any) -> dict[str, Any]:
    return world.retell.call_object(
        call_id, from_number=CALLER, agent_id="agent_reception", **fields
    )


def _started(world: World, call_id: str = "call_682") -> dict[str, Any]:
    return _call(world, call_id, call_status="ongoing", start_timestamp=_millis(STARTED))


def _ended(world: World, call_id: str = "call_682") -> dict[str, Any]:
    return _call(
        world,
        call_id,
        call_status="ended",
        start_timestamp=_millis(STARTED),
        end_timestamp=_millis(ENDED),
        disconnection_reason="user_hangup",
    )


async def test_call_events_store_the_whole_call_record(world: World) -> None:
    """Started, ended and analyzed fill in agent, numbers, times and why it ended."""
    for event, call in (
        ("call_started", _started(world)),
        ("call_ended", _ended(world)),
        ("call_analyzed", _ended(world)),
    ):
        response = await world.retell.call_event(event, call=call)
        assert response.status_code == 204, response.text
        assert response.content == b""

    stored = await world.repository.get_call("call_682")
    assert stored is not None
    assert stored.agent_id == "agent_reception"
    assert stored.from_number == CALLER
    assert stored.to_number == "+4930123456"
    assert stored.started_at == STARTED
    assert stored.ended_at == ENDED
    assert stored.disconnection_reason == "user_hangup"


async def test_an_event_for_an_unknown_call_creates_its_record(world: World) -> None:
    """Retell may deliver ``call_ended`` first; the record is created from it."""
    response = await world.retell.call_event("call_ended", call=_ended(world, "call_new"))

    assert response.status_code == 204
    stored = await world.repository.get_call("call_new")
    assert stored is not None
    assert stored.ended_at == ENDED


async def test_repeated_and_out_of_order_events_never_erase_newer_data(world: World) -> None:
    """A late ``call_started`` after ``call_ended`` keeps the end time and reason."""
    await world.retell.call_event("call_ended", call=_ended(world))
    await world.retell.call_event("call_ended", call=_ended(world))
    await world.retell.call_event("call_started", call=_started(world))

    stored = await world.repository.get_call("call_682")
    assert stored is not None
    assert (stored.started_at, stored.ended_at) == (STARTED, ENDED)
    assert stored.disconnection_reason == "user_hangup"


async def test_events_and_tool_calls_build_one_history(world: World) -> None:
    """The call that booked shows its appointment and its times in ``calls show``."""
    await world.retell.call_event("call_started", call=_started(world))
    booked = await world.book("call_682")
    await world.retell.call_event("call_ended", call=_ended(world))

    history = await call_history(world.repository, "call_682")

    assert booked["status"] == "booked"
    assert history is not None
    assert history["started_at"] == STARTED.isoformat()
    assert history["ended_at"] == ENDED.isoformat()
    assert history["disconnection_reason"] == "user_hangup"
    assert history["customer_id"] is not None
    assert [link["relationship"] for link in history["links"]] == ["original"]


async def test_unsigned_event_is_401_and_stores_nothing(world: World) -> None:
    body = json.dumps({"event": "call_started", "call": _started(world)}).encode()

    response = await world.retell.post_event(body, signed=False)

    assert response.status_code == 401
    assert await world.repository.get_call("call_682") is None


async def test_forged_event_is_401(world: World) -> None:
    body = json.dumps({"event": "call_started", "call": _started(world)}).encode()

    response = await world.retell.post_event(body, signature=sign(body, "not-the-key"))

    assert response.status_code == 401
    assert await world.repository.get_call("call_682") is None


async def test_stale_event_is_401(world: World) -> None:
    """A captured event replayed later is refused like a replayed function call."""
    body = json.dumps({"event": "call_ended", "call": _ended(world)}).encode()
    stale = sign(body, RETELL_KEY, at=world.clock() - timedelta(minutes=6))

    response = await world.retell.post_event(body, signature=stale)

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b'{"event": "call_started", "call": ',
        b'{"event": "call_started"}',
        b'{"event": "call_started", "call": {}}',
        b'{"call": {"call_id": "call_682"}}',
        b'{"event": "call_ended", "call": {"call_id": "c", "end_timestamp": "soon"}}',
        b'{"event": "call_ended", "call": {"call_id": "c", "end_timestamp": 99999999999999999}}',
        b"[]",
    ],
)
async def test_malformed_event_is_400_and_stores_nothing(world: World, body: bytes) -> None:
    response = await world.retell.post_event(body)

    assert response.status_code == 400
    assert await world.repository.get_call("c") is None
    assert await world.repository.get_call("call_682") is None


async def test_oversized_event_is_413(world: World) -> None:
    call = {**_started(world), "transcript": "x" * MAX_BODY_BYTES}
    body = json.dumps({"event": "call_analyzed", "call": call}).encode()

    response = await world.retell.post_event(body)

    assert response.status_code == 413
    assert await world.repository.get_call("call_682") is None


async def test_call_events_never_log_phone_numbers(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Logs name the call and the event, never the caller's or the agent's number."""
    caplog.set_level("INFO")

    await world.retell.call_event("call_ended", call=_ended(world))

    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "call_682" in logged
    assert CALLER not in logged
    assert "+4930123456" not in logged
