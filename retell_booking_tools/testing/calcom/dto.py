"""Request bodies as Cal.com validates them: strict types, unknown keys refused.

Errors are worded like NestJS's ValidationPipe (class-validator), which Cal.com uses, so
a client sees the same messages here as against the real API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .models import zone
from .wire import parse_instant, validation_error

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
METADATA_RULE = (
    "Metadata must have at most 50 keys, each key up to 40 characters, "
    "and values up to 500 characters."
)


class _Dto(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=True
    )


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("email must be an email")
    return value


def _worded(parse: Callable[[str], object], message: str) -> Callable[[str], str]:
    """A validator that accepts what ``parse`` accepts and refuses the rest with Cal.com's
    ``message``."""

    def validate(value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(message) from None
        return value

    return validate


_time_zone = _worded(zone, "timeZone must be a valid IANA time zone")
_instant = _worded(parse_instant, "start must be a valid ISO 8601 date string")


def _metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if len(value) > 50:
        raise ValueError(METADATA_RULE)
    for key, item in value.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise ValueError(METADATA_RULE)
    return value


class AttendeeIn(_Dto):
    """An attendee needs an email or a phone number (``RequireEmailOrPhone``)."""

    name: str
    email: str | None = None
    time_zone: str
    phone_number: str | None = None
    language: str | None = None

    check_email = field_validator("email")(_email)
    check_zone = field_validator("time_zone")(_time_zone)

    @model_validator(mode="after")
    def check_email_or_phone(self) -> AttendeeIn:
        if self.email is None and self.phone_number is None:
            raise ValueError("Either email or phoneNumber must be provided for the attendee")
        return self


class CreateBookingIn(_Dto):
    """Body of ``POST /v2/bookings`` (2024-08-13), limited to the documented keys."""

    start: str
    event_type_id: int | None = None
    event_type_slug: str | None = None
    username: str | None = None
    team_slug: str | None = None
    organization_slug: str | None = None
    attendee: AttendeeIn
    guests: list[str] | None = None
    location: str | dict[str, Any] | None = None
    booking_fields_responses: dict[str, Any] | None = None
    length_in_minutes: int | None = None
    metadata: dict[str, Any] | None = None
    meeting_url: str | None = None

    check_start = field_validator("start")(_instant)
    check_metadata = field_validator("metadata")(_metadata)

    @field_validator("guests")
    @classmethod
    def check_guests(cls, value: list[str] | None) -> list[str] | None:
        for guest in value or []:
            if not _EMAIL.match(guest):
                raise ValueError("each value in guests must be an email")
        return value


class CancelBookingIn(_Dto):
    cancellation_reason: str | None = None


class RescheduleBookingIn(_Dto):
    start: str
    rescheduling_reason: str | None = None
    rescheduled_by: str | None = None

    check_start = field_validator("start")(_instant)


class LegacyResponsesIn(BaseModel):
    """Legacy booking-form answers: open-ended, but name and email are required."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: str
    email: str

    check_email = field_validator("email")(_email)


class LegacyCreateBookingIn(_Dto):
    """Body of ``POST /v2/bookings`` without a ``cal-api-version`` header (the oldest DTO)."""

    start: str
    end: str | None = None
    event_type_id: int
    responses: LegacyResponsesIn
    time_zone: str
    language: str
    metadata: dict[str, Any] | None = None

    check_start = field_validator("start")(_instant)
    check_zone = field_validator("time_zone")(_time_zone)
    check_metadata = field_validator("metadata")(_metadata)


class LegacyCancelBookingIn(_Dto):
    cancellation_reason: str | None = None
    all_remaining_bookings: bool | None = None


_Model = TypeVar("_Model", bound=BaseModel)

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer number",
    "bool_type": "a boolean value",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
}


def parse_body(model: type[_Model], body: Any) -> _Model:
    """Validate ``body`` or raise the 400 Cal.com would answer."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise validation_error(["request body must be an object"])
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise validation_error(_messages(error)) from None


def _messages(error: ValidationError) -> list[str]:
    messages: list[str] = []
    for item in error.errors():
        path = [str(part) for part in item["loc"] if not isinstance(part, int)]
        parent, name = ".".join(path[:-1]), path[-1] if path else "body"
        if item["type"] == "extra_forbidden":
            message = f"property {name} should not exist"
        elif item["type"] == "missing":
            message = f"{name} should not be empty"
        elif item["type"] == "value_error":
            message = str(item["ctx"]["error"])
        else:
            message = f"{name} must be {_TYPE_WORDS.get(item['type'], 'valid')}"
        message = f"{parent}.{message}" if parent else message
        if message not in messages:
            messages.append(message)
    return messages


def check_query(query: dict[str, str], allowed: frozenset[str]) -> None:
    """Unknown query parameters are refused, like unknown body keys."""
    unknown = [key for key in query if key not in allowed]
    if unknown:
        raise validation_error([f"property {key} should not exist" for key in unknown])


def query_int(query: dict[str, str], key: str) -> int | None:
    text = query.get(key)
    if text is None:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise validation_error([f"{key} must be an integer number"])
    return int(text)


def query_instant(query: dict[str, str], key: str) -> datetime | None:
    text = query.get(key)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise validation_error([f"{key} must be a valid ISO 8601 date string"]) from None
