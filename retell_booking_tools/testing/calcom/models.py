"""What the emulator holds: event types, bookings and the requests it has seen."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from .faults import FaultKind

BookingStatus = Literal["accepted", "pending", "cancelled", "rejected"]
ACTIVE_STATUSES: Final[frozenset[BookingStatus]] = frozenset({"accepted", "pending"})


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ``ValueError`` for anything else (including "")."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(f"unknown IANA time zone {name!r}") from error


def _check_zone(_instance: object, _attribute: object, value: str) -> None:
    zone(value)


def _slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "event"


@attrs.frozen
class BusinessHours:
    """Weekly opening hours in the event type's zone; weekdays count from Monday = 0."""

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(9)
    closes: time = time(17)

    def __attrs_post_init__(self) -> None:
        if not self.weekdays <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        if self.opens >= self.closes:
            raise ValueError("business hours must open before they close")


@attrs.frozen
class EventTypeSpec:
    """An event type as the emulated account has it configured.

    ``requires_confirmation`` makes new bookings ``pending`` until the host confirms or
    rejects them, and switches Cal.com's repeat-booking behaviour: such event types hand back
    the existing booking with 201 instead of refusing with 400.
    ``minimum_booking_notice_minutes`` and ``booking_window_days`` (a rolling period: starts
    more than that many days ahead are refused) bound what can be booked;
    ``max_active_bookings_per_attendee`` limits upcoming bookings per attendee email, and
    ``offer_reschedule_when_limited`` makes the refusal name the attendee's last booking.
    ``team`` event types word "not available" for their hosts.
    """

    id: int
    title: str
    length_minutes: int = 30
    requires_confirmation: bool = False
    timezone: str = attrs.field(default="UTC", validator=_check_zone)
    business_hours: BusinessHours = BusinessHours()
    slot_interval_minutes: int | None = None
    minimum_booking_notice_minutes: int = 0
    slug: str | None = None
    booking_window_days: int | None = None
    max_active_bookings_per_attendee: int | None = None
    offer_reschedule_when_limited: bool = False
    team: bool = False

    def __attrs_post_init__(self) -> None:
        if self.length_minutes <= 0 or (self.slot_interval_minutes or 1) <= 0:
            raise ValueError("length and slot interval must be positive")
        bounds = (self.booking_window_days, self.max_active_bookings_per_attendee)
        if any(bound is not None and bound <= 0 for bound in bounds):
            raise ValueError("booking window and booking limit must be positive")

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.length_minutes)

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.slot_interval_minutes or self.length_minutes)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def effective_slug(self) -> str:
        return self.slug or _slugify(self.title)


@attrs.frozen
class EmulatedHost:
    """The Cal.com user an emulated account's API key belongs to: the organiser of every
    event type and booking of that account, as bookings and webhooks name it."""

    id: int = 1
    name: str = "Emulated Host"
    email: str = "host@emulator.invalid"
    username: str = "emulated-host"

    @classmethod
    def numbered(cls, number: int, name: str | None = None) -> EmulatedHost:
        """The host of the ``number``-th account (from 2 on): its own id, username and email."""
        username = _slugify(name) if name else f"emulated-host-{number}"
        return cls(
            id=number,
            name=name or f"Emulated Host {number}",
            email=f"{username}@emulator.invalid",
            username=username,
        )


HOST: Final = EmulatedHost()
"""The host of the first account, the one :class:`CalcomEmulator` is constructed with."""


@attrs.frozen
class EmulatedAttendee:
    name: str
    email: str
    time_zone: str = "UTC"
    phone_number: str | None = None
    language: str = "en"

    def is_same_person(self, other: EmulatedAttendee) -> bool:
        """Cal.com's "same attendee" for a repeat: the same e-mail (any case) **and** the same
        phone number (BookingRepository.getValidBookingFromEventTypeForAttendee)."""
        return self.email.lower() == other.email.lower() and self.phone_number == other.phone_number


@attrs.define(eq=False)
class EmulatedBooking:
    """One booking row; mutable because Cal.com changes bookings in place (cancel, reschedule)."""

    id: int
    uid: str
    event_type_id: int
    title: str
    start: datetime
    end: datetime
    status: BookingStatus
    attendees: list[EmulatedAttendee]
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    cancellation_reason: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    guests: list[str] = attrs.Factory(list)
    location: str | None = None
    booking_fields_responses: dict[str, Any] = attrs.Factory(dict)

    @property
    def is_active(self) -> bool:
        """Holds its slot."""
        return self.status in ACTIVE_STATUSES

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@attrs.frozen
class RecordedRequest:
    """A request as the emulator received it, minus the ``Authorization`` header.

    ``fault`` names the injected fault that hit this request, if any; ``username`` tells
    which account's key it carried without keeping the key.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    fault: FaultKind | None = None
    username: str | None = None
    """The host whose account the request's API key opened (None: no key, or an unknown one)."""
