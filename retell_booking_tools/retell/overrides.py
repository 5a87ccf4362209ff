"""Per-agent or per-call settings carried by the Retell call itself.

Names (strings in ``retell_llm_dynamic_variables``, or keys of the call's ``metadata``):
``booking_timezone`` (IANA), ``booking_language`` (``en``/``de``),
``booking_event_type_id`` (Cal.com event type id). Dynamic variables win over metadata,
both over configuration. A malformed value is ignored with a warning, never fatal.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from retell_booking_tools.config import Language
from retell_booking_tools.retell.models import RetellCall

logger = logging.getLogger(__name__)

TIMEZONE_VARIABLE = "booking_timezone"
LANGUAGE_VARIABLE = "booking_language"
EVENT_TYPE_VARIABLE = "booking_event_type_id"


@attrs.frozen
class CallOverrides:
    """What the call asks for; ``None`` means use the configured default."""

    timezone: str | None = None
    language: Language | None = None
    event_type_id: int | None = None


def _lookup(call: RetellCall, name: str) -> Any:
    for source in (call.retell_llm_dynamic_variables, call.metadata):
        if source and source.get(name) not in (None, ""):
            return source[name]
    return None


def overrides_for(call: RetellCall) -> CallOverrides:
    """Read and validate the overrides a call carries."""
    timezone = _lookup(call, TIMEZONE_VARIABLE)
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("ignoring unknown %s", TIMEZONE_VARIABLE)
            timezone = None
    language = _lookup(call, LANGUAGE_VARIABLE)
    if language is not None and language not in ("en", "de"):
        logger.warning("ignoring unsupported %s", LANGUAGE_VARIABLE)
        language = None
    event_type = _lookup(call, EVENT_TYPE_VARIABLE)
    event_type_id = None
    if event_type is not None:
        try:
            event_type_id = int(str(event_type))
        except ValueError:
            logger.warning("ignoring non-numeric %s", EVENT_TYPE_VARIABLE)
    return CallOverrides(
        timezone=str(timezone) if timezone else None,
        language="de" if language == "de" else ("en" if language == "en" else None),
        event_type_id=event_type_id if event_type_id and 0 < event_type_id < 2**31 else None,
    )
