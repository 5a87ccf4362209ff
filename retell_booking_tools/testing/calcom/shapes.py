"""The JSON shapes of a booking in each API version, and of list pagination."""

from __future__ import annotations

import math
from typing import Any

from .models import EmulatedAttendee, EmulatedBooking, EmulatedHost, EventTypeSpec
from .wire import utc_z


def event_type_json(event_type: EventTypeSpec) -> dict[str, Any]:
    """An event type as ``GET /v2/event-types/{id}`` (version 2024-06-14) returns it, in part."""
    return {
        "id": event_type.id,
        "title": event_type.title,
        "slug": event_type.effective_slug,
        "lengthInMinutes": event_type.length_minutes,
        "slotInterval": event_type.slot_interval_minutes,
        "minimumBookingNotice": event_type.minimum_booking_notice_minutes,
    }


def booking_json(
    booking: EmulatedBooking, event_type: EventTypeSpec, host: EmulatedHost
) -> dict[str, Any]:
    """A booking as versions 2024-08-13 and 2026-02-25 return it."""
    first = booking.attendees[0]
    data: dict[str, Any] = {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": "",
        "hosts": [_host(host, event_type)],
        "status": booking.status,
        "start": utc_z(booking.start),
        "end": utc_z(booking.end),
        "duration": int((booking.end - booking.start).total_seconds() // 60),
        "eventTypeId": booking.event_type_id,
        "eventType": {"id": event_type.id, "slug": event_type.effective_slug},
        "location": booking.location,
        "absentHost": False,
        "createdAt": utc_z(booking.created_at),
        "updatedAt": utc_z(booking.updated_at),
        "metadata": dict(booking.metadata),
        "attendees": [_attendee(attendee) for attendee in booking.attendees],
        "guests": list(booking.guests),
        "bookingFieldsResponses": {
            "name": first.name,
            "email": first.email,
            **booking.booking_fields_responses,
        },
    }
    if booking.status in {"cancelled", "rejected"}:
        data["cancellationReason"] = booking.cancellation_reason
    optional = {
        "rescheduledFromUid": booking.rescheduled_from_uid,
        "rescheduledToUid": booking.rescheduled_to_uid,
        "reschedulingReason": booking.rescheduling_reason,
        "rescheduledByEmail": booking.rescheduled_by_email,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def legacy_booking_json(
    booking: EmulatedBooking, event_type: EventTypeSpec, host: EmulatedHost
) -> dict[str, Any]:
    """A booking in the oldest v2 shape: ``startTime``, upper-case status, ``user``."""
    first = booking.attendees[0]
    return {
        "id": booking.id,
        "uid": booking.uid,
        "userId": host.id,
        "title": booking.title,
        "description": "",
        "startTime": utc_z(booking.start),
        "endTime": utc_z(booking.end),
        "status": booking.status.upper(),
        "eventTypeId": booking.event_type_id,
        "location": booking.location,
        "metadata": dict(booking.metadata),
        "responses": {
            "name": first.name,
            "email": first.email,
            **booking.booking_fields_responses,
        },
        "attendees": [
            {
                "name": attendee.name,
                "email": attendee.email,
                "timeZone": attendee.time_zone,
                "locale": attendee.language,
            }
            for attendee in booking.attendees
        ],
        "user": _host(host, event_type),
        "createdAt": utc_z(booking.created_at),
        "updatedAt": utc_z(booking.updated_at),
        "cancellationReason": booking.cancellation_reason,
        "fromReschedule": booking.rescheduled_from_uid,
        "rescheduled": booking.rescheduled_to_uid is not None,
    }


def webhook_payload_json(
    booking: EmulatedBooking,
    event_type: EventTypeSpec,
    host: EmulatedHost,
    *,
    previous: EmulatedBooking | None = None,
    metadata: bool = True,
) -> dict[str, Any]:
    """A booking as Cal.com's webhooks carry it (BookingPayloadBuilder, v2021-10-20):
    ``startTime``, upper-case ``status``, ``cancellationReason`` always ("" when none),
    and the account's host as ``organizer``.

    A booking made by a reschedule names the one it replaced as ``rescheduleUid`` (with
    ``rescheduleId`` and ``rescheduledBy``). Without ``metadata`` the field is null, as on
    some ``BOOKING_CREATED`` paths.
    """
    first = booking.attendees[0]
    data: dict[str, Any] = {
        "type": event_type.effective_slug,
        "title": booking.title,
        "bookingId": booking.id,
        "uid": booking.uid,
        "eventTypeId": booking.event_type_id,
        "startTime": utc_z(booking.start),
        "endTime": utc_z(booking.end),
        "length": int((booking.end - booking.start).total_seconds() // 60),
        "status": booking.status.upper(),
        "organizer": _host(host, event_type),
        "attendees": [
            {
                "name": attendee.name,
                "email": attendee.email,
                "timeZone": attendee.time_zone,
                "language": {"locale": attendee.language},
            }
            for attendee in booking.attendees
        ],
        "responses": {
            "name": {"label": "your_name", "value": first.name},
            "email": {"label": "email_address", "value": first.email},
        },
        "metadata": dict(booking.metadata) if metadata else None,
        "cancellationReason": booking.cancellation_reason or "",
    }
    if previous is not None:
        data["rescheduleUid"] = previous.uid
        data["rescheduleId"] = previous.id
        data["rescheduledBy"] = booking.rescheduled_by_email or first.email
    return data


def _host(host: EmulatedHost, event_type: EventTypeSpec) -> dict[str, Any]:
    return {
        "id": host.id,
        "name": host.name,
        "email": host.email,
        "username": host.username,
        "timeZone": event_type.timezone,
    }


def _attendee(attendee: EmulatedAttendee) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": attendee.name,
        "email": attendee.email,
        "timeZone": attendee.time_zone,
        "language": attendee.language,
        "absent": False,
    }
    if attendee.phone_number is not None:
        data["phoneNumber"] = attendee.phone_number
    return data


def pagination(total: int, skip: int, take: int, returned: int) -> dict[str, Any]:
    remaining = max(total - skip - returned, 0)
    return {
        "totalItems": total,
        "remainingItems": remaining,
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": math.ceil(total / take),
        "hasNextPage": remaining > 0,
        "hasPreviousPage": skip > 0,
    }
