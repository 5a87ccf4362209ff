"""The booking rules Cal.com applies, independent of HTTP shapes and versions."""

from __future__ import annotations

import secrets
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import attrs

from .models import BookingStatus, EmulatedAttendee, EmulatedBooking, EmulatedHost, EventTypeSpec
from .schedule import is_free, is_grid_start, within_bounds
from .wire import ApiError

# Cal.com's booking errors service words each refusal in a fixed sentence
# (apps/api/v2/src/ee/bookings/2024-08-13/services/errors.service.ts); the code is only
# the exception class, ``BadRequestException``.
NOT_AVAILABLE = "User either already has booking at this time or is not available"
HOSTS_NOT_AVAILABLE = "One of the hosts either already has booking at this time or is not available"
IN_THE_PAST = "Attempting to book a meeting in the past."
OUT_OF_BOUNDS = (
    'The event type can\'t be booked at the "start" time provided. This could be because '
    "it's too soon (violating the minimum booking notice) or too far in the future (outside "
    "the event's scheduling window). Try fetching available slots first using the GET "
    '/v2/slots endpoint and then make a booking with "start" time equal to one of the '
    "available slots: https://cal.com/docs/api-reference/v2/slots"
)
BOOKER_LIMIT = (
    "Attendee with this email can't book because the maximum number of active bookings has "
    "been reached."
)
BOOKER_LIMIT_RESCHEDULE = (
    BOOKER_LIMIT + " You can reschedule your existing booking ({uid}) to a new timeslot instead."
)
ALREADY_CANCELLED = "This booking has already been cancelled."
SMS_EMAIL_DOMAIN = "sms.cal.com"
"""Cal.com's own placeholder domain for phone-only attendees; it never e-mails it
(packages/lib/isSmsCalEmail.ts)."""


def unknown_booking(uid: str) -> ApiError:
    return ApiError(404, f"Booking with uid={uid} was not found")


def unknown_event_type(event_type_id: int) -> ApiError:
    return ApiError(404, f"Event type with id={event_type_id} was not found")


def sms_email(phone_number: str) -> str:
    """The address Cal.com gives a phone-only attendee: E.164 digits at ``sms.cal.com``
    (getCalEventResponses.ts)."""
    return f"{phone_number.lstrip('+')}@{SMS_EMAIL_DOMAIN}"


@attrs.frozen
class SentEmail:
    """An e-mail Cal.com sends an attendee about a booking (``scheduled``, ``rescheduled``,
    ``cancelled``, ``requested``, ``rejected``)."""

    to: str
    kind: str
    booking_uid: str


@attrs.frozen
class NewBooking:
    """What a create request asks for, whichever API version it came in."""

    event_type: EventTypeSpec
    start: datetime
    attendee: EmulatedAttendee
    metadata: dict[str, str] = attrs.Factory(dict)
    guests: list[str] = attrs.Factory(list)
    location: str | None = None
    booking_fields_responses: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class CreateOutcome:
    booking: EmulatedBooking
    created: bool


class BookingStore:
    """One account's event types and bookings; every method runs without awaiting, so each
    is atomic.

    Accounts of one emulator draw booking ids from one sequence and send e-mails into one
    outbox, as Cal.com numbers every booking once and mails from one place.
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        host: EmulatedHost,
        *,
        ids: Iterator[int],
        outbox: list[SentEmail],
    ) -> None:
        self._clock = clock
        self.host = host
        self.event_types: dict[int, EventTypeSpec] = {}
        self.bookings: list[EmulatedBooking] = []
        self._by_uid: dict[str, EmulatedBooking] = {}
        self._starts: defaultdict[int, list[tuple[datetime, int]]] = defaultdict(list)
        """Per event type, ``(start, position in bookings)`` in order: bookings never move."""
        self.created_count = 0
        self.outbox = outbox
        self._ids = ids

    def notify(self, booking: EmulatedBooking, kind: str) -> None:
        """E-mail every attendee about ``booking``, except Cal.com's phone placeholders."""
        for attendee in booking.attendees:
            if not attendee.email.lower().endswith("@" + SMS_EMAIL_DOMAIN):
                self.outbox.append(SentEmail(attendee.email, kind, booking.uid))

    def event_type(self, event_type_id: int) -> EventTypeSpec:
        """The account's event type; another account's answers as an unknown one does."""
        try:
            return self.event_types[event_type_id]
        except KeyError:
            raise unknown_event_type(event_type_id) from None

    def event_type_by_slug(self, slug: str, username: str | None) -> EventTypeSpec:
        if username == self.host.username:
            for event_type in self.event_types.values():
                if event_type.effective_slug == slug:
                    return event_type
        raise ApiError(404, f"Event type with slug={slug} was not found")

    def holds(self, uid: str) -> bool:
        return uid in self._by_uid

    def get(self, uid: str) -> EmulatedBooking:
        """The account's booking ``uid``; another account's answers as an unknown one does."""
        booking = self._by_uid.get(uid)
        if booking is not None:
            return booking
        raise unknown_booking(uid)

    def bookings_between(
        self, event_type: EventTypeSpec, start: datetime, end: datetime
    ) -> list[EmulatedBooking]:
        """The event type's bookings (any status) that may overlap ``[start, end)``: each
        lasts the event type's length, so only those starting within it before ``start``."""
        starts = self._starts[event_type.id]
        first = bisect_right(starts, (start - event_type.length, len(self.bookings)))
        last = bisect_left(starts, (end, -1))
        return [self.bookings[position] for _, position in starts[first:last]]

    def create(self, request: NewBooking) -> CreateOutcome:
        """Cal.com's decision for a new booking, in its order: past, notice and window,
        availability, repeat, the attendee's booking limit, taken."""
        event_type, start = request.event_type, request.start
        end = start + event_type.length
        now = self._clock()
        self._check_start(event_type, start, now)
        nearby = self.bookings_between(event_type, start, end)
        repeat = self._same_attendee_booking(nearby, start, request.attendee)
        if repeat is not None:
            if event_type.requires_confirmation:
                return CreateOutcome(repeat, created=False)
            raise ApiError(400, _not_available(event_type))
        self._check_booker_limit(event_type, request.attendee, now)
        if not is_free(nearby, event_type.id, start, end):
            raise ApiError(400, _not_available(event_type))
        booking = self._insert(
            event_type,
            start,
            [request.attendee],
            request.metadata,
            created_at=now,
            status="pending" if event_type.requires_confirmation else "accepted",
            guests=request.guests,
            location=request.location,
            booking_fields_responses=request.booking_fields_responses,
        )
        self.created_count += 1
        self.notify(booking, "requested" if booking.status == "pending" else "scheduled")
        return CreateOutcome(booking, created=True)

    def _check_start(self, event_type: EventTypeSpec, start: datetime, now: datetime) -> None:
        if start <= now:
            raise ApiError(400, IN_THE_PAST)
        if not within_bounds(event_type, start, now):
            raise ApiError(400, OUT_OF_BOUNDS)
        if not is_grid_start(event_type, start, event_type.length):
            raise ApiError(400, _not_available(event_type))

    def _check_booker_limit(
        self, event_type: EventTypeSpec, attendee: EmulatedAttendee, now: datetime
    ) -> None:
        """Cal.com counts the attendee's upcoming active bookings of the event type by email."""
        limit = event_type.max_active_bookings_per_attendee
        if limit is None:
            return
        held = [
            booking
            for booking in self.bookings
            if booking.event_type_id == event_type.id
            and booking.is_active
            and booking.end > now
            and any(a.email.lower() == attendee.email.lower() for a in booking.attendees)
        ]
        if len(held) < limit:
            return
        if event_type.offer_reschedule_when_limited:
            last = max(held, key=lambda booking: booking.start)
            raise ApiError(400, BOOKER_LIMIT_RESCHEDULE.format(uid=last.uid))
        raise ApiError(400, BOOKER_LIMIT)

    def seed(
        self,
        event_type: EventTypeSpec,
        start: datetime,
        attendee: EmulatedAttendee,
        *,
        created_at: datetime,
        metadata: dict[str, str],
        status: BookingStatus,
    ) -> EmulatedBooking:
        """Insert without any rule: state the test says already exists."""
        return self._insert(event_type, start, [attendee], metadata, created_at, status)

    def cancel(self, uid: str, reason: str | None) -> EmulatedBooking:
        booking = self.get(uid)
        if booking.status in {"cancelled", "rejected"}:
            raise ApiError(400, ALREADY_CANCELLED)
        booking.status = "cancelled"
        booking.cancellation_reason = reason
        booking.updated_at = self._clock()
        self.notify(booking, "cancelled")
        return booking

    def confirm(self, uid: str) -> EmulatedBooking:
        return self._decide(uid, "accepted", None, "scheduled")

    def reject(self, uid: str, reason: str | None) -> EmulatedBooking:
        return self._decide(uid, "rejected", reason, "rejected")

    def _decide(
        self, uid: str, status: BookingStatus, reason: str | None, email: str
    ) -> EmulatedBooking:
        """The host's answer to a booking pending confirmation."""
        booking = self.get(uid)
        if booking.status != "pending":
            raise ApiError(400, f"Booking with uid={uid} is not pending confirmation")
        booking.status = status
        booking.cancellation_reason = reason
        booking.updated_at = self._clock()
        self.notify(booking, email)
        return booking

    def reschedule(
        self, uid: str, start: datetime, reason: str | None, rescheduled_by: str | None
    ) -> EmulatedBooking:
        """A new booking at ``start``; the old one is cancelled and points to it."""
        old = self.get(uid)
        if not old.is_active:
            raise ApiError(400, f"Can't reschedule booking with status {old.status}")
        event_type = self.event_type(old.event_type_id)
        now = self._clock()
        self._check_start(event_type, start, now)
        end = start + event_type.length
        if not is_free(
            self.bookings_between(event_type, start, end),
            event_type.id,
            start,
            end,
            ignore_uid=old.uid,
        ):
            raise ApiError(400, _not_available(event_type))
        new = self._insert(
            event_type,
            start,
            list(old.attendees),
            dict(old.metadata),
            created_at=now,
            status="pending" if event_type.requires_confirmation else "accepted",
            guests=list(old.guests),
            location=old.location,
            booking_fields_responses=dict(old.booking_fields_responses),
        )
        new.rescheduled_from_uid = old.uid
        new.rescheduling_reason = reason
        new.rescheduled_by_email = rescheduled_by
        old.status = "cancelled"
        old.rescheduled_to_uid = new.uid
        old.cancellation_reason = reason
        old.rescheduled_by_email = rescheduled_by
        old.updated_at = now
        self.created_count += 1
        self.notify(new, "rescheduled")
        return new

    @staticmethod
    def _same_attendee_booking(
        nearby: list[EmulatedBooking], start: datetime, attendee: EmulatedAttendee
    ) -> EmulatedBooking | None:
        for booking in nearby:
            if (
                booking.is_active
                and booking.start == start
                and any(attendee.is_same_person(other) for other in booking.attendees)
            ):
                return booking
        return None

    def _insert(
        self,
        event_type: EventTypeSpec,
        start: datetime,
        attendees: list[EmulatedAttendee],
        metadata: dict[str, str],
        created_at: datetime,
        status: BookingStatus,
        *,
        guests: list[str] | None = None,
        location: str | None = None,
        booking_fields_responses: dict[str, Any] | None = None,
    ) -> EmulatedBooking:
        booking = EmulatedBooking(
            id=next(self._ids),
            uid=secrets.token_urlsafe(16),
            event_type_id=event_type.id,
            title=f"{event_type.title} between {self.host.name} and {attendees[0].name}",
            start=start,
            end=start + event_type.length,
            status=status,
            attendees=attendees,
            metadata=dict(metadata),
            created_at=created_at,
            updated_at=created_at,
            guests=list(guests or []),
            location=location,
            booking_fields_responses=dict(booking_fields_responses or {}),
        )
        insort(self._starts[event_type.id], (start, len(self.bookings)))
        self.bookings.append(booking)
        self._by_uid[booking.uid] = booking
        return booking


def _not_available(event_type: EventTypeSpec) -> str:
    return HOSTS_NOT_AVAILABLE if event_type.team else NOT_AVAILABLE
