"""The call object: which invocation a delivery is, and no transcript kept in memory."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retell_booking_tools.domain import Invocation, args_digest
from retell_booking_tools.retell.models import FunctionCallRequest, RetellCall
from retell_booking_tools.testing import RetellSimulator

TOOL = "find_appointments"
ARGS: dict[str, Any] = {"email": "max@example.org"}
DIGEST = args_digest(ARGS)


def invocation(tool_call_id: str, tool: str = TOOL, args: Any = ARGS) -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {
        "role": "tool_call_invocation",
        "tool_call_id": tool_call_id,
        "name": tool,
        "arguments": arguments,
        "type": "custom",
    }


def result(tool_call_id: str) -> dict[str, Any]:
    return {"role": "tool_call_result", "tool_call_id": tool_call_id, "content": "{}"}


def utterance(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text, "words": [{"word": text, "start": 0, "end": 1}]}


def call_listing(*entries: dict[str, Any]) -> RetellCall:
    return RetellCall.model_validate(
        {"call_id": "call_1", "transcript_with_tool_calls": list(entries)}
    )


def test_the_latest_invocation_without_a_result_is_the_one_delivered() -> None:
    """An earlier answered one with the same arguments is another invocation."""
    call = call_listing(invocation("tc_1"), result("tc_1"), utterance("again"), invocation("tc_2"))

    assert call.invocation_of(TOOL, DIGEST) == Invocation("tc_2", frozenset({"tc_2"}))


def test_a_retry_under_a_new_id_repeats_the_invocation_that_got_no_result() -> None:
    """Two unanswered invocations of the same arguments: the second may retry the first."""
    call = call_listing(invocation("tc_1"), utterance("hm"), invocation("tc_2"))

    assert call.invocation_of(TOOL, DIGEST) == Invocation("tc_2", frozenset({"tc_1", "tc_2"}))


def test_a_result_of_another_tool_call_in_between_ends_what_a_retry_may_repeat() -> None:
    """Something happened in between, so the earlier unanswered one is not replayed."""
    call = call_listing(
        invocation("tc_1"), invocation("tc_9", tool="cancel_appointment"), result("tc_9"),
        invocation("tc_2"),
    )  # fmt: skip

    assert call.invocation_of(TOOL, DIGEST) == Invocation("tc_2", frozenset({"tc_2"}))


def test_invocations_of_other_tools_or_arguments_are_not_this_delivery() -> None:
    """Arguments match after parsing (spacing and key order aside), never by the raw string."""
    spaced = '{ "email" :  "max@example.org" }'
    call = call_listing(
        invocation("tc_1", args=spaced),
        invocation("tc_2", tool="check_availability"),
        invocation("tc_3", args={"email": "other@example.org"}),
        invocation("tc_4", args="not json"),
        invocation("tc_5", args="[" * 100_000),
    )

    assert call.invocation_of(TOOL, DIGEST) == Invocation("tc_1", frozenset({"tc_1"}))
    assert call.invocation_of(TOOL, args_digest({})) == Invocation()


def test_a_call_object_without_tool_calls_identifies_nothing() -> None:
    """No transcript, or every invocation answered: the delivery is not identified."""
    answered = call_listing(invocation("tc_1"), result("tc_1"))
    bare = RetellCall.model_validate({"call_id": "call_1"})
    odd = RetellCall.model_validate({"call_id": "call_1", "transcript_with_tool_calls": "x"})

    for call in (answered, bare, odd):
        assert call.invocation_of(TOOL, DIGEST) == Invocation()


def test_malformed_tool_call_entries_are_skipped_not_refused() -> None:
    """Entries of unknown shape never fail the call object; only well-formed ones count."""
    junk: list[Any] = [
        None,
        7,
        "tool_call_invocation",
        {"role": "tool_call_invocation"},
        {"role": "tool_call_invocation", "tool_call_id": 5, "name": TOOL, "arguments": "{}"},
        {"role": "tool_call_invocation", "tool_call_id": "tc_1", "name": 3, "arguments": 4},
        {"role": "tool_call_result", "tool_call_id": ["tc_1"]},
        {"role": "node_transition", "former_node_id": "a", "new_node_id": "b"},
        invocation("tc_2"),
    ]

    call = RetellCall.model_validate({"call_id": "call_1", "transcript_with_tool_calls": junk})

    assert call.invocation_of(TOOL, DIGEST) == Invocation("tc_2", frozenset({"tc_2"}))


def test_the_scrubbed_copy_is_read_when_the_plain_one_is_missing() -> None:
    """With PII scrubbing the tool calls may be listed only in the scrubbed copy."""
    call = RetellCall.model_validate(
        {"call_id": "call_1", "scrubbed_transcript_with_tool_calls": [invocation("tc_1")]}
    )

    assert call.invocation_of(TOOL, DIGEST).tool_call_id == "tc_1"


def test_no_transcript_of_a_long_call_is_kept_only_its_tool_calls() -> None:
    """Of an hour's call object, the model keeps the other fields and the tool call ids."""
    call_object = RetellSimulator.long_call_object(
        "call_long", minutes=60, from_number="+4915112345678", metadata={"crm": "42"}
    )
    call_object["transcript_with_tool_calls"].append(invocation("tc_1"))
    call_object["latency"] = {"e2e": {"p50": 800}}

    request = FunctionCallRequest.model_validate({"call": call_object, "name": TOOL, "args": ARGS})

    call = request.call
    kept = set(call.model_dump()) | set(call.model_extra or {})
    assert not [name for name in kept if "transcript" in name]
    assert call.model_extra == {"latency": {"e2e": {"p50": 800}}}
    assert call.metadata == {"crm": "42"}
    assert [entry.tool_call_id for entry in call.tool_call_transcript or ()] == ["tc_1"]
    assert call.invocation_of(TOOL, DIGEST).tool_call_id == "tc_1"
    assert "transcript_with_tool_calls" in call_object, "the caller's object is left alone"


@pytest.mark.parametrize(
    ("direction", "business", "customer"),
    [
        ("inbound", "+4930123456", "+4915112345678"),
        (None, "+4930123456", "+4915112345678"),
        ("outbound", "+4915112345678", "+4930123456"),
    ],
)
def test_the_business_number_is_the_number_called_in_and_the_number_calling_out(
    direction: str | None, business: str, customer: str
) -> None:
    call = RetellCall.model_validate(
        {
            "call_id": "call_1",
            "direction": direction,
            "from_number": "+4915112345678",
            "to_number": "+4930123456",
        }
    )

    assert (call.business_number, call.customer_number) == (business, customer)
