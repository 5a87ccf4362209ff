"""Read models for support: a call's appointments, an appointment's calls. JSON shapes are a
public contract (``calls show --json``, ``appointments show --json``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from retell_booking_tools.domain import Appointment, CallLink
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
    }


async def call_history(repository: Repository, call_id: str) -> dict[str, Any] | None:
    """``{"call_id", "links": [{"appointment_id", "booking_uid", ...}]}``, None if unknown."""
    call = await repository.get_call(call_id)
    links = await repository.links_for_call(call_id)
    if call is None and not links:
        return None
    entries = []
    for link in links:
        appointment = await repository.get_appointment(link.appointment_id)
        entries.append(
            {
                "appointment_id": link.appointment_id,
                "booking_uid": appointment.booking_uid if appointment else None,
                **_link_fields(link),
            }
        )
    return {
        "call_id": call_id,
        "customer_id": call.customer_id if call else None,
        "agent_id": call.agent_id if call else None,
        "links": entries,
    }


async def appointment_history(repository: Repository, reference: str) -> dict[str, Any] | None:
    """``{"appointment": {...}, "links": [{"call_id", ...}]}`` by id or booking uid."""
    appointment = await repository.get_appointment_by_uid(reference)
    if appointment is None and reference.isdigit():
        appointment = await repository.get_appointment(int(reference))
    if appointment is None:
        return None
    links = await repository.links_for_appointment(appointment.id)
    return {
        "appointment": appointment_fields(appointment),
        "links": [{"call_id": link.call_id, **_link_fields(link)} for link in links],
    }
