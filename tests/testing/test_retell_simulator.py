"""The Retell simulator plays calls as Retell does: growing call objects, invocations, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest

from retell_booking_tools.retell.signature import SIGNATURE_HEADER, verify_signature
from retell_booking_tools.testing import FakeClock, RetellSimulator

API_KEY = "retell_test_key"
NOW = datetime(2025, 10, 8, 20, 21, tzinfo=UTC)
ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


@attrs.define
class Backend:
    """Answers every function call with the statuses it is given, then 200; keeps what came."""

    statuses: list[int] = attrs.field(factory=list)
    received: list[dict[str, Any]] = attrs.field(factory=list)
    paths: list[str] = attrs.field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        assert verify_signature(body, request.headers.get(SIGNATURE_HEADER), API_KEY, now=NOW)
        self.received.append(json.loads(body))
        self.paths.append(request.url.path)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json={"status": "booked" if status == 200 else "error"})


@pytest.fixture(name="backend")
def fixture_backend() -> Backend:
    return Backend()


@pytest.fixture(name="retell")
async def fixture_retell(backend: Backend) -> Any:
    client = httpx.AsyncClient(transport=httpx.MockTransport(backend), base_url="http://agent")
    async with RetellSimulator(client, api_key=API_KEY, clock=FakeClock(NOW)) as retell:
        yield retell


def tool_calls(call: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, tool_call_id)`` of the tool call entries of a call object."""
    return [
        (entry["role"], entry["tool_call_id"])
        for entry in call["transcript_with_tool_calls"]
        if entry["role"].startswith("tool_call")
    ]


async def test_the_call_object_grows_turn_by_turn_with_word_timings(
    retell: RetellSimulator,
) -> None:
    """Each turn adds a line, an utterance with timed words, and the same to the tool list."""
    call = retell.start_call("call_1", from_number="+4915112345678")
    call.agent_says("Hello, how can I help?")
    early = call.call_object()
    call.user_says("I need an appointment")

    late = call.call_object()

    assert early["transcript"] == "Agent: Hello, how can I help?\n"
    assert late["transcript"] == "Agent: Hello, how can I help?\nUser: I need an appointment\n"
    assert [u["role"] for u in late["transcript_object"]] == ["agent", "user"]
    assert len(early["transcript_object"]) == 1, "a snapshot does not change later"
    words = [w for u in late["transcript_object"] for w in u["words"]]
    assert [w["word"] for w in words[-2:]] == ["an", "appointment"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(w["end"] > w["start"] for w in words)
    assert late["transcript_with_tool_calls"] == late["transcript_object"]
    assert late["start_timestamp"] == int(NOW.timestamp() * 1000)


async def test_a_function_call_lists_its_invocation_and_then_its_result(
    retell: RetellSimulator, backend: Backend
) -> None:
    """The delivery carries the invocation without a result; the result is recorded after."""
    call = retell.start_call("call_1", from_number="+4915112345678")

    response = await call.function_call("collect_appointment_data", ARGS)

    [delivered] = backend.received
    [invocation] = call.invocations
    assert delivered["name"] == "collect_appointment_data"
    assert delivered["args"] == ARGS
    assert tool_calls(delivered["call"]) == [("tool_call_invocation", invocation.tool_call_id)]
    [listed] = delivered["call"]["transcript_with_tool_calls"]
    assert json.loads(listed["arguments"]) == ARGS
    assert tool_calls(call.call_object()) == [
        ("tool_call_invocation", invocation.tool_call_id),
        ("tool_call_result", invocation.tool_call_id),
    ]
    result = call.call_object()["transcript_with_tool_calls"][-1]
    assert result["content"] == response.text
    assert result["successful"] is True


@pytest.mark.parametrize("reuses_id", [True, False])
async def test_a_failed_delivery_is_retried_as_retell_does(
    retell: RetellSimulator, backend: Backend, reuses_id: bool
) -> None:
    """A 500 is retried once: under the same id, or listed as a new invocation."""
    backend.statuses = [500]
    call = retell.start_call("call_1")

    response = await call.function_call(
        "collect_appointment_data", ARGS, max_retry=2, retry_reuses_id=reuses_id
    )

    assert response.status_code == 200
    assert len(backend.received) == 2
    first, retry = (tool_calls(body["call"]) for body in backend.received)
    if reuses_id:
        assert retry == first
    else:
        assert retry[0] == first[0]
        assert len(retry) == 2
        assert retry[1] != first[0]
    assert tool_calls(call.call_object())[-1][0] == "tool_call_result"


async def test_an_args_only_delivery_sends_the_bare_arguments(
    retell: RetellSimulator, backend: Backend
) -> None:
    """ "Payload: args only" (``args_at_root``): no call, no name, just the arguments."""
    call = retell.start_call("call_1")

    await call.function_call("collect_appointment_data", ARGS, args_at_root=True)

    assert backend.received == [ARGS]
    assert backend.paths == ["/retell/functions/collect_appointment_data"]


async def test_a_call_without_transcripts_lists_none(retell: RetellSimulator) -> None:
    """Like a custom LLM websocket server's calls: the call object carries no transcript."""
    call = retell.start_call("call_1", transcripts=False)
    call.user_says("Hello")
    call.invoke("find_appointments", {})

    assert not [key for key in call.call_object() if "transcript" in key]


def test_an_hour_long_call_object_is_megabytes_with_scrubbed_copies() -> None:
    """Sixty minutes of talk: words timed up to the hour, every transcript form, PII scrubbed."""
    call = RetellSimulator.long_call_object(
        "call_long", minutes=60, from_number="+4915112345678", agent_id="agent_1"
    )

    size = len(json.dumps(call))
    assert 3 * 2**19 < size < 16 * 2**20
    last_word = call["transcript_object"][-1]["words"][-1]
    assert 60 * 60 <= last_word["end"] < 61 * 60
    assert {"scrubbed_transcript_object", "scrubbed_transcript_with_tool_calls"} <= set(call)
    assert call["from_number"] == "+4915112345678"


def test_scrubbed_copies_hide_numbers_and_addresses() -> None:
    """Words with digits or an @ are scrubbed; the unscrubbed copy keeps them."""
    call = RetellSimulator.long_call_object("call_1", minutes=0)
    simulated_call = RetellSimulator(httpx.AsyncClient(), api_key=API_KEY).start_call(
        "call_2", scrub_pii=True
    )
    simulated_call.user_says("call me at 0151 or max@example.org please")

    scrubbed = simulated_call.call_object()["scrubbed_transcript_object"][0]["content"]
    plain = simulated_call.call_object()["transcript_object"][0]["content"]
    assert scrubbed == "call me at [PII] or [PII] please"
    assert plain == "call me at 0151 or max@example.org please"
    assert call["transcript"] == ""
