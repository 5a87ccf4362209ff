"""Retell's call events webhook: ``{"event": ..., "call": {...}}`` into our call record.

Retell sends ``call_started``, ``call_ended`` and ``call_analyzed`` for every call (and may
add other event names; those update the record the same way). Each event carries the
call object as Retell knows it at that moment; timestamps are epoch milliseconds.

An account-level webhook also receives chat events (``chat_started``, ``chat_ended``,
``chat_analyzed``) carrying a ``chat`` object instead of ``call``: they are acknowledged and
nothing of them is stored (:func:`is_chat_event`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retell_booking_tools.domain import Call
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.retell.models import RetellCall


def is_chat_event(payload: Any) -> bool:
    """A chat event (an event name and a ``chat`` object, no ``call``): nothing to store."""
    return (
        isinstance(payload, dict)
        and "call" not in payload
        and isinstance(payload.get("chat"), dict)
        and isinstance(payload.get("event"), str)
    )


class CallEvent(BaseModel):
    """Body of a Retell call event; only the event name and the call id are required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event: str = Field(min_length=1, max_length=100)
    call: RetellCall


def call_record(call: RetellCall) -> Call:
    """The fields of our call record this event knows; ``None`` keeps what is stored.

    Raises InvalidArguments for a timestamp that is not a plausible instant.
    """
    return Call(
        call_id=call.call_id,
        agent_id=call.agent_id,
        from_number=call.from_number,
        to_number=call.to_number,
        started_at=_instant(call.start_timestamp, "start_timestamp"),
        ended_at=_instant(call.end_timestamp, "end_timestamp"),
        disconnection_reason=call.disconnection_reason,
    )


def _instant(millis: int | None, field: str) -> datetime | None:
    if millis is None:
        return None
    try:
        instant = datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidArguments(field, "not an epoch timestamp in milliseconds") from None
    if instant.year < 2000:
        raise InvalidArguments(field, "not an epoch timestamp in milliseconds")
    return instant
