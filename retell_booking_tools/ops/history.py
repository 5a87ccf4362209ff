"""Read models for support: a call's appointments, an appointment's calls. JSON shapes are a
public contract (``calls show --json``, ``appointments show --json``).

Each read is one business's (the store view it is given); :func:`find_history` asks every
business in turn and answers with the first that holds the call or appointment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from retell_booking_tools.domain import DEFAULT_BUSINESS_ID, Appointment, Call, CallLink
from retell_booking_tools.repository.protocol import Repository


def _link_fields(link: CallLink) -> dict[str, Any]:
    return {
        "relationship": link.relationship.value,
        "linked_at": link.linked_at.isoformat(),
        "metadata": dict(link.metadata),
    }


def appointment_fields(appointment: Appointment) -> dict[str, Any]:
    """Times as ISO 8601 in the appointment's own time zone, with its offset."""
    zone = ZoneInfo(appointment.timezone)
    return {
        "id": appointment.id,
        "booking_uid": appointment.booking_uid,
        "status": appointment.status.value,
        "start": appointment.start.astimezone(zone).isoformat(),
        "end": appointment.end.astimezone(zone).isoformat(),
        "timezone": appointment.timezone,
        "customer_id": appointment.customer_id,
        "event_type_id": appointment.event_type_id,
        "rescheduled_from_uid": appointment.rescheduled_from_uid,
        "booking_reference": appointment.booking_reference,
    }


def masked_number(number: str | None) -> str | None:
    """Only the last four digits of a phone number: enough to recognise, not to dial."""
    if not number:
        return None
    digits = [c for c in number if c.isdigit()]
    return "***" + "".join(digits[-4:]) if len(digits) > 4 else "***"


def call_fields(call: Call | None) -> dict[str, Any]:
    """What Retell told us about the call (events and function calls); numbers masked."""

    def instant(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "from_number": masked_number(call.from_number) if call else None,
        "to_number": masked_number(call.to_number) if call else None,
        "started_at": instant(call.started_at) if call else None,
        "ended_at": instant(call.ended_at) if call else None,
        "disconnection_reason": call.disconnection_reason if call else None,
    }


async def call_history(
    repository: Repository, call_id: str, *, business_id: str = DEFAULT_BUSINESS_ID
) -> dict[str, Any] | None:
    """``{"call_id", "business_id", "customer_id", "agent_id", "from_number", "to_number",
    "started_at", "ended_at", "disconnection_reason", "links": [{"appointment_id",
    "booking_uid", ...}]}``, None if business ``business_id`` (whose view ``repository`` is)
    knows neither the call nor an appointment linked to it. Phone numbers are masked to
    their last four digits."""
    call = await repository.get_call(call_id)
    entries = []
    for link in await repository.links_for_call(call_id):
        appointment = await repository.get_appointment(link.appointment_id)
        if appointment is None:
            continue  # another business's appointment: not this business's to show
        entries.append(
            {
                "appointment_id": link.appointment_id,
                "booking_uid": appointment.booking_uid,
                "booking_reference": appointment.booking_reference,
                **_link_fields(link),
            }
        )
    if call is None and not entries:
        return None
    return {
        "call_id": call_id,
        "business_id": call.business_id if call and call.business_id else business_id,
        "customer_id": call.customer_id if call else None,
        "agent_id": call.agent_id if call else None,
        **call_fields(call),
        "links": entries,
    }


async def appointment_history(
    repository: Repository, reference: str, *, business_id: str = DEFAULT_BUSINESS_ID
) -> dict[str, Any] | None:
    """``{"business_id", "appointment": {...}, "links": [{"call_id", ..., "call": {...}}]}``
    by id, booking uid or booking reference, among the appointments of the business whose
    view ``repository`` is; ``call`` holds what Retell told us about that call (see
    ``call_fields``)."""
    appointment = await repository.get_appointment_by_uid(reference)
    if appointment is None:
        appointment = await repository.get_appointment_by_reference(reference.upper())
    if appointment is None and reference.isdigit():
        appointment = await repository.get_appointment(int(reference))
    if appointment is None:
        return None
    links = await repository.links_for_appointment(appointment.id)
    entries = []
    for link in links:
        call = await repository.get_call(link.call_id)
        entries.append(
            {
                "call_id": link.call_id,
                **_link_fields(link),
                "call": {"agent_id": call.agent_id if call else None, **call_fields(call)},
            }
        )
    return {
        "business_id": appointment.business_id,
        "appointment": appointment_fields(appointment),
        "links": entries,
    }


async def find_history(
    stores: Mapping[str, Repository],
    read: Callable[..., Awaitable[dict[str, Any] | None]],
    reference: str,
) -> dict[str, Any] | None:
    """``read(store, reference, business_id=...)`` for each business's store view in order;
    the first history found (its ``business_id`` says whose), else None."""
    for business_id, store in stores.items():
        found = await read(store, reference, business_id=business_id)
        if found is not None:
            return found
    return None
