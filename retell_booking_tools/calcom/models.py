"""Cal.com v2 wire formats (bookings API version 2024-08-13, slots 2024-09-04).

Answers ignore unknown fields (Cal.com adds fields over time); requests forbid them,
because Cal.com refuses unknown keys with 400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

ACTIVE_BOOKING_STATUSES = frozenset({"accepted", "pending"})


def format_instant(value: datetime) -> str:
    """Cal.com wants instants in UTC with ``Z``; local offsets are a known source of bugs."""
    instant = value.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


UtcInstant = Annotated[AwareDatetime, PlainSerializer(format_instant, return_type=str)]


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class BookingAttendee(_Answer):
    name: str = ""
    email: str = ""
    time_zone: str | None = Field(default=None, alias="timeZone")
    phone_number: str | None = Field(default=None, alias="phoneNumber")
    language: str | None = None


class Booking(_Answer):
    """A booking as Cal.com returns it."""

    id: int
    uid: str
    title: str = ""
    status: str
    start: datetime
    end: datetime
    duration: int | None = None
    event_type_id: int | None = Field(default=None, alias="eventTypeId")
    attendees: tuple[BookingAttendee, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    cancellation_reason: str | None = Field(default=None, alias="cancellationReason")
    rescheduled_from_uid: str | None = Field(default=None, alias="rescheduledFromUid")
    rescheduled_to_uid: str | None = Field(default=None, alias="rescheduledToUid")

    @property
    def is_active(self) -> bool:
        """Holds its slot: accepted, or pending confirmation by the host."""
        return self.status.lower() in ACTIVE_BOOKING_STATUSES

    def has_attendee(self, email: str) -> bool:
        wanted = email.lower()
        return any(attendee.email.lower() == wanted for attendee in self.attendees)


class EventType(_Answer):
    """An event type as ``GET /v2/event-types/{id}`` returns it (the fields read here)."""

    id: int
    title: str = ""
    slug: str = ""
    length_in_minutes: int | None = Field(default=None, alias="lengthInMinutes")


class NewAttendee(_Request):
    name: str
    email: str
    time_zone: str = Field(alias="timeZone")
    phone_number: str | None = Field(default=None, alias="phoneNumber")
    language: str | None = None


class CreateBooking(_Request):
    """Body of ``POST /v2/bookings``."""

    start: UtcInstant
    event_type_id: int = Field(alias="eventTypeId")
    attendee: NewAttendee
    metadata: dict[str, str] | None = None
    booking_fields_responses: dict[str, str] | None = Field(
        default=None, alias="bookingFieldsResponses"
    )
    length_in_minutes: int | None = Field(default=None, alias="lengthInMinutes")


class CancelBooking(_Request):
    """Body of ``POST /v2/bookings/{uid}/cancel``."""

    cancellation_reason: str | None = Field(default=None, alias="cancellationReason")


class RescheduleBooking(_Request):
    """Body of ``POST /v2/bookings/{uid}/reschedule``."""

    start: UtcInstant
    rescheduling_reason: str | None = Field(default=None, alias="reschedulingReason")
