"""Retell's custom-function request, as far as the tools rely on it.

Only ``call_id`` is required: Retell documents more fields than it always sends.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

CALL_ID_PATTERN = r"^[\x21-\x7e]+$"
"""Retell's call ids are printable ASCII without spaces; anything else is not Retell's."""


def has_unprintable(text: str) -> bool:
    """Control characters or lone surrogates: never in a name, a number or an id."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


class RetellCall(BaseModel):
    """The ``call`` object Retell sends with every function call and call event."""

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


class FunctionCallRequest(BaseModel):
    """Body of a Retell custom-function request: ``{"call": ..., "name": ..., "args": ...}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    call: RetellCall
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
