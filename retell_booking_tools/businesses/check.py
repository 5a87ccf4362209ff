"""``businesses check``: is every business ready to take bookings?

For each business: is its key variable set (present or missing; the value is never read
out), and does its Cal.com have the event type of each service (one ``GET
/v2/event-types/{id}`` per distinct event type, with the business's own key and URL)?
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx

from retell_booking_tools.businesses.model import Business, Businesses
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import CalcomAuthError, CalcomError, CalcomNotFound

EventTypeState = Literal["found", "missing", "refused", "unreachable", "unchecked"]
"""``found``; ``missing`` (Cal.com has no such event type); ``refused`` (the key is refused,
or may not read it); ``unreachable`` (Cal.com did not answer usefully); ``unchecked``
(offline, or no key to ask with)."""


@attrs.frozen
class EventTypeCheck:
    service: str
    event_type_id: int
    state: EventTypeState
    detail: str = ""
    """The event type's title and length when found, what went wrong otherwise."""

    @property
    def ok(self) -> bool:
        return self.state in ("found", "unchecked")

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "event_type_id": self.event_type_id,
            "event_type": self.state,
            "detail": self.detail,
        }


@attrs.frozen
class BusinessCheck:
    business: Business
    key_present: bool
    event_types: tuple[EventTypeCheck, ...]

    @property
    def ok(self) -> bool:
        return self.key_present and bool(self.event_types) and all(e.ok for e in self.event_types)

    def to_json(self) -> dict[str, Any]:
        business = self.business
        return {
            "business_id": business.id,
            "name": business.name,
            "calcom_api_url": business.calcom_api_url,
            "calcom_api_key_env": business.calcom_api_key_env,
            "key": "present" if self.key_present else "missing",
            "services": [check.to_json() for check in self.event_types],
            "ok": self.ok,
        }


@attrs.frozen
class BusinessesCheck:
    source: Path | None
    businesses: tuple[BusinessCheck, ...]
    offline: bool

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.businesses)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": None if self.source is None else str(self.source),
            "offline": self.offline,
            "ok": self.ok,
            "businesses": [check.to_json() for check in self.businesses],
        }


async def check_businesses(
    businesses: Businesses,
    *,
    environ: Mapping[str, str] | None = None,
    offline: bool = False,
    calcom_timeout_seconds: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BusinessesCheck:
    """Check every business, the Cal.com accounts side by side (``offline``: keys only).

    ``transport`` replaces the HTTP transport of every Cal.com client (tests).
    """
    env = os.environ if environ is None else environ
    checks = await asyncio.gather(
        *(
            _check(
                business, business.calcom_api_key(env), offline, calcom_timeout_seconds, transport
            )
            for business in businesses
        )
    )
    return BusinessesCheck(businesses.source, tuple(checks), offline)


async def _check(
    business: Business,
    api_key: str | None,
    offline: bool,
    calcom_timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None,
) -> BusinessCheck:
    if offline or api_key is None:
        reason = "offline" if offline else f"{business.calcom_api_key_env} is not set"
        unchecked = tuple(
            EventTypeCheck(service.name, service.event_type_id, "unchecked", reason)
            for service in business.services
        )
        return BusinessCheck(business, api_key is not None, unchecked)
    found: dict[int, tuple[EventTypeState, str]] = {}
    async with CalcomClient(
        api_key=api_key,
        base_url=business.calcom_api_url,
        timeout=calcom_timeout_seconds,
        transport=transport,
    ) as calcom:
        for event_type_id in business.event_type_ids:
            found[event_type_id] = await _read(calcom, event_type_id)
    return BusinessCheck(
        business,
        True,
        tuple(
            EventTypeCheck(service.name, service.event_type_id, *found[service.event_type_id])
            for service in business.services
        ),
    )


async def _read(calcom: CalcomClient, event_type_id: int) -> tuple[EventTypeState, str]:
    try:
        event_type = await calcom.get_event_type(event_type_id)
    except CalcomNotFound:
        return "missing", f"Cal.com has no event type {event_type_id}"
    except CalcomAuthError as error:
        return "refused", error.message
    except CalcomError as error:
        return "unreachable", error.message
    length = f", {event_type.length_in_minutes} min" if event_type.length_in_minutes else ""
    return "found", f"{event_type.title}{length}"
