"""Retell's custom-function request, as far as the tools rely on it.

Only ``call_id`` is required: Retell documents more fields than it always sends.

The call object grows with the call: ``transcript``, ``transcript_object`` (every word
with its timing), ``transcript_with_tool_calls`` and their scrubbed, pre- and post-session
copies reach several MiB in an hour. None of them is kept: of
``transcript_with_tool_calls`` (else its scrubbed copy) only the tool calls are, each as
its id, tool name and argument digest (:class:`TranscriptToolCall`), which is what tells a
retried invocation from a new one (:meth:`RetellCall.invocation_of`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retell_booking_tools.domain import Invocation, args_digest

CALL_ID_PATTERN = r"^[\x21-\x7e]+$"
"""Retell's call ids are printable ASCII without spaces; anything else is not Retell's."""


def has_unprintable(text: str) -> bool:
    """Control characters or lone surrogates: never in a name, a number or an id."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


_TOOL_TRANSCRIPTS = ("transcript_with_tool_calls", "scrubbed_transcript_with_tool_calls")
"""Where Retell lists tool calls, in the order they are read."""


class TranscriptToolCall(BaseModel):
    """A ``tool_call_invocation`` or ``tool_call_result`` of ``transcript_with_tool_calls``."""

    model_config = ConfigDict(frozen=True)

    role: Literal["invocation", "result"]
    tool_call_id: str
    name: str | None = None
    args_digest: str | None = None
    """Of the parsed ``arguments``; None when they are not a JSON object."""


def tool_calls_of(entries: object) -> tuple[TranscriptToolCall, ...] | None:
    """The tool calls of a ``transcript_with_tool_calls`` list, in order; None if not a list.

    Entries of other roles (utterances, node transitions, DTMF...) and malformed ones are
    skipped.
    """
    if not isinstance(entries, list):
        return None
    found: list[TranscriptToolCall] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        role, tool_call_id = entry.get("role"), entry.get("tool_call_id")
        if not isinstance(tool_call_id, str) or not tool_call_id:
            continue
        if role == "tool_call_result":
            found.append(TranscriptToolCall(role="result", tool_call_id=tool_call_id))
        elif role == "tool_call_invocation":
            name = entry.get("name")
            found.append(
                TranscriptToolCall(
                    role="invocation",
                    tool_call_id=tool_call_id,
                    name=name if isinstance(name, str) else None,
                    args_digest=_arguments_digest(entry.get("arguments")),
                )
            )
    return tuple(found)


def _arguments_digest(arguments: object) -> str | None:
    """The digest of stringified JSON arguments (as Retell lists them), if an object."""
    if isinstance(arguments, Mapping):
        parsed: object = arguments
    elif isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except (ValueError, RecursionError):
            return None
    else:
        return None
    return args_digest(parsed) if isinstance(parsed, Mapping) else None


class RetellCall(BaseModel):
    """The ``call`` object Retell sends with every function call and call event.

    Fields Retell adds are kept, except the transcripts (see the module docstring).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    call_id: str = Field(min_length=1, max_length=200, pattern=CALL_ID_PATTERN)
    agent_id: str | None = None
    call_type: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    call_status: str | None = None
    start_timestamp: int | None = None
    end_timestamp: int | None = None
    disconnection_reason: str | None = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    tool_call_transcript: tuple[TranscriptToolCall, ...] | None = Field(
        default=None, exclude=True, repr=False
    )
    """The tool calls of ``transcript_with_tool_calls``; None when the call object had none."""

    @model_validator(mode="before")
    @classmethod
    def _drop_transcripts(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not any("transcript" in key for key in data):
            return data
        kept = {key: value for key, value in data.items() if "transcript" not in key}
        for name in _TOOL_TRANSCRIPTS:
            tool_calls = tool_calls_of(data.get(name))
            if tool_calls is not None:
                kept["tool_call_transcript"] = tool_calls
                break
        else:
            if "tool_call_transcript" in data:
                kept["tool_call_transcript"] = data["tool_call_transcript"]
        return kept

    @field_validator("agent_id", "call_type", "direction", "from_number", "to_number")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 200 or has_unprintable(value)):
            raise ValueError("not a printable string of at most 200 characters")
        return value

    @property
    def customer_number(self) -> str | None:
        """The caller's number: ``to_number`` on outbound calls, ``from_number`` otherwise."""
        if self.direction == "outbound":
            return self.to_number
        return self.from_number

    @property
    def business_number(self) -> str | None:
        """The business's own number: ``from_number`` on outbound calls, ``to_number``
        otherwise (the number the caller dialled)."""
        if self.direction == "outbound":
            return self.from_number
        return self.to_number

    def invocation_of(self, tool: str, digest: str) -> Invocation:
        """Which invocation a delivery of ``tool`` with arguments of ``digest`` delivers.

        The latest invocation of it without a result is the one delivered; it may repeat
        the earlier ones without a result, back to the last result of any tool call (see
        :class:`~retell_booking_tools.domain.Invocation`). Unidentified when the call
        object lists no tool calls or no such invocation.
        """
        entries = self.tool_call_transcript
        if not entries:
            return Invocation()
        answered = {entry.tool_call_id for entry in entries if entry.role == "result"}

        def delivers(entry: TranscriptToolCall) -> bool:
            return (
                entry.role == "invocation"
                and entry.name == tool
                and entry.args_digest == digest
                and entry.tool_call_id not in answered
            )

        for at in range(len(entries) - 1, -1, -1):
            if delivers(entries[at]):
                break
        else:
            return Invocation()
        delivered = entries[at].tool_call_id
        repeats = {delivered}
        for entry in reversed(entries[:at]):
            if entry.role == "result":
                break
            if delivers(entry):
                repeats.add(entry.tool_call_id)
        return Invocation(tool_call_id=delivered, repeats=frozenset(repeats))


class FunctionCallRequest(BaseModel):
    """Body of a Retell custom-function request: ``{"call": ..., "name": ..., "args": ...}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    call: RetellCall
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
