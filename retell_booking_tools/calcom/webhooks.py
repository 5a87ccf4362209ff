"""Cal.com webhook deliveries: the signature check and the booking events we read.

Cal.com signs the raw body with HMAC-SHA256 under the webhook's secret and sends the hex
digest in ``X-Cal-Signature-256``. The body is
``{"triggerEvent", "createdAt", "payload": {...booking...}}``; the booking's ``status`` is
upper case (``PENDING`` for ``BOOKING_REQUESTED``, ``REJECTED`` for ``BOOKING_REJECTED``), a
reschedule names the booking it replaced as ``rescheduleUid`` (older payloads:
``fromReschedule``), and ``metadata`` may be null.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

import attrs
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from retell_booking_tools.errors import InvalidWebhook

__all__ = [
    "SIGNATURE_HEADER",
    "BookingEvent",
    "BookingTrigger",
    "InvalidWebhook",
    "parse_webhook",
    "sign_webhook",
    "verify_webhook_signature",
]

SIGNATURE_HEADER: Final = "X-Cal-Signature-256"

BookingTrigger = Literal[
    "BOOKING_CREATED",
    "BOOKING_CANCELLED",
    "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED",
    "BOOKING_REJECTED",
]
"""The triggers applied to the store; every other trigger is acknowledged and ignored."""


def sign_webhook(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of ``body`` that Cal.com sends in ``X-Cal-Signature-256``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` is Cal.com's signature of exactly these bytes (constant time)."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign_webhook(body, secret), signature.strip().lower())


class _Attendee(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: str = ""


class _Booking(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    uid: str = Field(min_length=1)
    event_type_id: int | None = Field(default=None, alias="eventTypeId")
    start_time: AwareDatetime = Field(alias="startTime")
    end_time: AwareDatetime = Field(alias="endTime")
    status: str | None = None
    attendees: tuple[_Attendee, ...] = ()
    metadata: dict[str, Any] | None = None
    reschedule_uid: str | None = Field(default=None, alias="rescheduleUid")
    from_reschedule: str | None = Field(default=None, alias="fromReschedule")


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    trigger_event: str = Field(alias="triggerEvent")
    created_at: AwareDatetime = Field(alias="createdAt")
    payload: dict[str, Any]


@attrs.frozen
class BookingEvent:
    """One booking event as Cal.com reported it, at ``occurred_at`` (its ``createdAt``)."""

    trigger: BookingTrigger
    occurred_at: datetime
    uid: str
    start: datetime
    end: datetime
    status: str | None = None
    """Cal.com's booking status, lower case (``accepted``, ``pending``, ``cancelled``...)."""
    event_type_id: int | None = None
    previous_uid: str | None = None
    """The booking this one replaced, for a reschedule."""
    attendee_emails: tuple[str, ...] = attrs.field(default=(), repr=False)
    metadata: dict[str, Any] = attrs.field(factory=dict, repr=False, hash=False)


def parse_webhook(body: bytes) -> BookingEvent | None:
    """The booking event in a (verified) body; None for triggers we do not apply.

    Raises :class:`InvalidWebhook` naming where the body is wrong, never quoting it.
    """
    try:
        envelope = _Envelope.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise InvalidWebhook(f"not a Cal.com webhook: {_where(exc)}") from None
    if envelope.trigger_event not in get_args(BookingTrigger):
        return None
    try:
        booking = _Booking.model_validate(envelope.payload)
    except ValidationError as exc:
        raise InvalidWebhook(f"not a Cal.com booking payload: {_where(exc)}") from None
    trigger: BookingTrigger = envelope.trigger_event  # type: ignore[assignment]
    previous = booking.from_reschedule or booking.reschedule_uid
    return BookingEvent(
        trigger=trigger,
        occurred_at=envelope.created_at.astimezone(UTC),
        uid=booking.uid,
        start=booking.start_time.astimezone(UTC),
        end=booking.end_time.astimezone(UTC),
        status=booking.status.lower() if booking.status else None,
        event_type_id=booking.event_type_id,
        previous_uid=previous if previous != booking.uid else None,
        attendee_emails=tuple(a.email.lower() for a in booking.attendees if a.email),
        metadata=dict(booking.metadata or {}),
    )


def _where(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors())
    return "invalid JSON"
