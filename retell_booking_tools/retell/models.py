"""Retell's custom-function request, as far as the tools rely on it.

Only ``call_id`` is required: Retell documents more fields than it always sends.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RetellCall(BaseModel):
    """The ``call`` object Retell sends with every function call and call event."""

    model_config = ConfigDict(extra="allow", frozen=True)

    call_id: str = Field(min_length=1, max_length=200)
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
