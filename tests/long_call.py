"""Call objects as long as real calls: what Retell sends after an hour of talk.

Retell's call object carries the running transcript in several forms (see
``/reference/retell.md``): ``transcript`` (text), ``transcript_object`` (utterances with
every word and its timing), ``transcript_with_tool_calls`` (utterances interleaved with
tool-call invocations and results) and, with PII scrubbing on, scrubbed copies of them.
Shared by the edge tests and ``benchmarks/edge.py``.
"""

from __future__ import annotations

import json
from typing import Any

WORDS_PER_MINUTE = 150
"""Both speakers together, an ordinary conversational pace."""

_PHRASES = (
    "yes I would like to book an appointment for next week if that is possible",
    "let me check what we have available on that day for you",
    "the morning would suit me better because I work in the afternoon",
    "I can offer you eleven o'clock or half past two on Friday",
)


def _utterance(index: int, start: float, words: int) -> dict[str, Any]:
    role = "agent" if index % 2 else "user"
    text = " ".join((_PHRASES[index % len(_PHRASES)].split() * 4)[:words])
    timed = []
    at = start
    for word in text.split():
        timed.append({"word": word, "start": round(at, 3), "end": round(at + 0.31, 3)})
        at += 0.4
    return {"role": role, "content": text, "words": timed}


def long_call_object(
    call_id: str,
    *,
    minutes: float = 60,
    from_number: str | None = "+4915112345678",
    to_number: str = "+4930123456",
    scrubbed: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """A call object after ``minutes`` of talk, with every transcript form Retell sends."""
    utterances: list[dict[str, Any]] = []
    with_tools: list[dict[str, Any]] = []
    remaining = int(minutes * WORDS_PER_MINUTE)
    at = 0.0
    while remaining > 0:
        words = min(remaining, 25)
        utterance = _utterance(len(utterances), at, words)
        utterances.append(utterance)
        with_tools.append(utterance)
        if len(utterances) % 20 == 0:
            tool_call_id = f"tc_{call_id}_{len(utterances)}"
            arguments = {"date": "2025-10-10", "time": "11:00"}
            with_tools.append(
                {
                    "role": "tool_call_invocation",
                    "tool_call_id": tool_call_id,
                    "name": "check_availability",
                    "arguments": json.dumps(arguments),
                    "type": "custom",
                }
            )
            with_tools.append(
                {
                    "role": "tool_call_result",
                    "tool_call_id": tool_call_id,
                    "content": json.dumps({"status": "available", "message": "11:00 is free."}),
                    "successful": True,
                }
            )
        remaining -= words
        at += words * 0.4 + 0.6
    transcript = "\n".join(f"{u['role'].title()}: {u['content']}" for u in utterances)
    call: dict[str, Any] = {
        "call_id": call_id,
        "agent_id": "agent_long",
        "call_type": "phone_call",
        "direction": "inbound",
        "call_status": "ongoing",
        "from_number": from_number,
        "to_number": to_number,
        "start_timestamp": 1759954860000,
        "transcript": transcript,
        "transcript_object": utterances,
        "transcript_with_tool_calls": with_tools,
    }
    if scrubbed:
        call["scrubbed_transcript_with_tool_calls"] = with_tools
        call["scrubbed_transcript_object"] = utterances
    call.update(fields)
    return {key: value for key, value in call.items() if value is not None}


def call_object_of_size(call_id: str, size_bytes: int, **fields: Any) -> dict[str, Any]:
    """A long call object whose JSON is at least ``size_bytes`` long."""
    minutes = 10.0
    while True:
        call = long_call_object(call_id, minutes=minutes, **fields)
        size = len(json.dumps(call))
        if size >= size_bytes:
            return call
        minutes *= max(1.05, size_bytes / size)
