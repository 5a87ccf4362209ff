"""``collect_appointment_data``: book the caller's appointment, or say honestly why not."""

from __future__ import annotations

from pydantic import Field, field_validator

from retell_booking_tools.booking.decision import BookingRequest
from retell_booking_tools.booking.identity import INVISIBLE_CLASS, clean_text
from retell_booking_tools.domain import ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import render
from retell_booking_tools.retell.models import has_unprintable
from retell_booking_tools.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolResult,
    chosen_event_type,
    invalid_result,
    offered_slots,
    outcome_result,
    service_field,
)
from retell_booking_tools.tools.dates import requested_start

_NOT_IN_NAMES = frozenset('<>{}[]\\;=$%|`"')
"""Markup, template, shell and SQL syntax; apostrophes, hyphens, dots and parentheses stay."""
NAME_PATTERN = (
    r"^[^"
    + "".join(f"\\u{ord(char):04x}" for char in sorted(_NOT_IN_NAMES))
    + r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e"
    + r"\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    + INVISIBLE_CLASS
    + "]*$"
)
"""The characters ``_a_name`` accepts, as the JSON-schema pattern the model is shown (a little
stricter: no control characters even where stripping would remove them, no zero-width
joiners even inside the scripts that need them, no bidi controls or other invisible format
characters); the default-ignorable characters and blank symbols of the basic plane come from
:data:`~retell_booking_tools.identity.INVISIBLE_CLASS`. The export adds that a name is not
blank."""


class CollectAppointmentDataArgs(ToolArgs):
    """Arguments the model fills in from the conversation."""

    customer_name: str = Field(
        min_length=1,
        max_length=200,
        description="The caller's full name, as they said it.",
        json_schema_extra={"pattern": NAME_PATTERN},
    )
    date: str = Field(
        max_length=40, description="Requested day, YYYY-MM-DD, in the business time zone."
    )
    time: str = Field(
        max_length=40, description="Requested start, HH:MM (24-hour), in the business time zone."
    )
    email: str | None = Field(
        default=None,
        max_length=320,
        description="Email for this booking's confirmation, only if the caller gave one.",
    )
    phone: str | None = Field(
        default=None,
        max_length=40,
        description=(
            "Phone number for this booking, only if the caller gave one (needed when the "
            "call carries no number and they give no email)."
        ),
    )
    service: str | None = service_field()
    notes: str | None = Field(
        default=None, max_length=1000, description="Anything else the caller wants noted."
    )

    @field_validator("customer_name")
    @classmethod
    def _a_name(cls, value: str) -> str:
        if has_unprintable(value) or not _NOT_IN_NAMES.isdisjoint(value):
            raise ValueError("not a name: control characters or markup")
        return clean_name(value)


def clean_name(value: str) -> str:
    """A name in NFC, or ValueError: invisible characters, or nothing visible at all."""
    try:
        return clean_text(value, field="customer_name")
    except InvalidArguments as error:
        raise ValueError(f"not a name: {error.reason}") from None


async def collect_appointment_data(
    args: CollectAppointmentDataArgs, context: ToolContext
) -> ToolResult:
    try:
        start = requested_start(args.date, args.time, zone=context.zone, now=context.now)
        service = clean_text(args.service, field="service") if args.service else None
        extra = clean_text(args.notes, field="notes", multiline=True) if args.notes else None
        booker = await context.core.callers.booking_customer(
            context.caller, name=args.customer_name, phone=args.phone, email=args.email
        )
    except InvalidArguments as error:
        return invalid_result(error, context)
    event_type_id = chosen_event_type(context, service)
    if isinstance(event_type_id, ToolResult):
        return event_type_id
    notes = "\n".join(part for part in (service, extra) if part) or None
    outcome = await context.core.bookings.book(
        BookingRequest(
            call_id=context.call.call_id,
            customer=booker.customer,
            start=start,
            customer_name=args.customer_name,
            email=booker.contact_email,
            contact_phone=booker.contact_phone,
            trusted=booker.trusted,
            language=context.language,
            notes=notes,
            resumed=context.resumed,
            event_type_id=event_type_id,
            timezone=context.zone.key,
            offered=await offered_slots(context),
        )
    )
    result = outcome_result(outcome, context)
    if not booker.trusted and result.status is ToolStatus.UNAVAILABLE:
        hint = render("reference.hint", context.language, zone=context.zone)
        result = result.model_copy(update={"message": f"{result.message} {hint}"})
    return result


TOOL = Tool(
    name="collect_appointment_data",
    description=(
        "Book an appointment once you have the caller's name, the day and the time. "
        "Read the result's status and say only what it says: 'booked' means a new "
        "appointment was made now; 'existing' means the caller ALREADY HAD this "
        "appointment (never say it was booked; ask whether to keep or change it, and call "
        "confirm_existing if they keep it); 'unavailable' or 'conflict' means it was not "
        "booked (offer the alternatives); 'limit_reached' means the caller already holds "
        "as many appointments as this service allows and nothing was booked (offer to move "
        "one); 'invalid' means ask again for the named field; "
        "'error' means nothing is confirmed; 'pending' means the booking system has not "
        "answered yet and nothing is confirmed: say so, then call this tool again with the "
        "same arguments to learn the outcome. The result's message is safe to speak as is."
    ),
    args_model=CollectAppointmentDataArgs,
    handler=collect_appointment_data,
)
