"""``check_availability``: what is free on a day, said short, and remembered for the call."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from retell_booking_tools.booking.availability import AvailabilityRequest
from retell_booking_tools.domain import Appointment, ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import render
from retell_booking_tools.tools.base import (
    CHECK_AVAILABILITY,
    AppointmentView,
    Tool,
    ToolArgs,
    ToolContext,
    ToolResult,
    chosen_event_type,
    invalid_result,
    service_field,
    status_result,
)
from retell_booking_tools.tools.dates import requested_day, requested_start

MAX_SPOKEN_TIMES = 6
"""A day with more free starts is spoken as a few examples spread over the day."""
MAX_LISTED_SLOTS = 48
"""A result lists at most this many free starts, spread over the day(s); ``more_slots``
counts the others (any of them can still be asked for: Cal.com decides those)."""


class CheckAvailabilityArgs(ToolArgs):
    """The day (and optionally the time) the caller asks about."""

    date: str = Field(max_length=40, description="Day asked about, YYYY-MM-DD, business time zone.")
    time: str | None = Field(
        default=None,
        max_length=40,
        description="A specific start, HH:MM (24-hour), only if the caller named one.",
    )
    service: str | None = service_field()


async def check_availability(args: CheckAvailabilityArgs, context: ToolContext) -> ToolResult:
    try:
        day = requested_day(args.date, zone=context.zone, now=context.now)
        start = (
            requested_start(args.date, args.time, zone=context.zone, now=context.now)
            if args.time
            else None
        )
    except InvalidArguments as error:
        return invalid_result(error, context)
    event_type_id = chosen_event_type(context, args.service)
    if isinstance(event_type_id, ToolResult):
        return event_type_id
    held = await context.core.callers.held_on(
        context.caller, day, zone=context.zone, event_type_id=event_type_id, now=context.now
    )
    answer = await context.availability.check(
        AvailabilityRequest(
            day=day,
            zone=context.zone,
            event_type_id=event_type_id,
            start=start,
        )
    )
    if answer.status is ToolStatus.ERROR:
        busy = answer.error_kind in ("CalcomRateLimited", "CalcomBudgetExhausted")
        return status_result(ToolStatus.ERROR, context, variant="busy" if busy else None)
    slots = [slot for slot in answer.slots if not any(a.start == slot for a in held)]
    own = next((a for a in held if a.start == start), None) if start is not None else None
    if own is not None or (start is None and held):
        return _own_appointment(
            own or held[0], tuple(slots), exact=own is not None, context=context
        )
    listed = _spread(answer.slots, MAX_LISTED_SLOTS)
    if answer.status is ToolStatus.AVAILABLE:
        message = _available_message(listed, start, context)
    else:
        message = render(
            "unavailable" if start is not None else "unavailable.day",
            context.language,
            zone=context.zone,
            at=datetime.combine(day, datetime.min.time(), tzinfo=context.zone),
            choices=answer.alternatives,
        )
    return ToolResult(
        status=answer.status,
        message=message,
        slots=[slot.astimezone(context.zone) for slot in listed],
        alternatives=[a.astimezone(context.zone) for a in answer.alternatives] or None,
        more_slots=len(answer.slots) - len(listed) or None,
    )


def _own_appointment(
    appointment: Appointment, slots: tuple[datetime, ...], *, exact: bool, context: ToolContext
) -> ToolResult:
    """The caller already holds an appointment then (``existing``) or that day (the free
    starts, with their appointment named): never "not available" for their own slot."""
    zone = context.zone
    listed = _spread(slots, MAX_LISTED_SLOTS)
    if exact:
        message = render("existing", context.language, zone=zone, at=appointment.start)
        status = ToolStatus.EXISTING
    else:
        key = "existing.day" if slots else "existing.day.only"
        message = render(
            key, context.language, zone=zone, at=appointment.start, times=_spread(listed)
        )
        status = ToolStatus.AVAILABLE if slots else ToolStatus.UNAVAILABLE
    return ToolResult(
        status=status,
        message=message,
        appointment=AppointmentView.of(appointment),
        slots=[slot.astimezone(zone) for slot in listed],
        more_slots=len(slots) - len(listed) or None,
    )


def _spread(slots: tuple[datetime, ...], limit: int = MAX_SPOKEN_TIMES) -> tuple[datetime, ...]:
    """At most ``limit`` starts spread evenly over ``slots``, the first and last included."""
    if len(slots) <= limit:
        return slots
    step = (len(slots) - 1) / (limit - 1)
    return tuple(slots[round(i * step)] for i in range(limit))


def _available_message(
    slots: tuple[datetime, ...], start: datetime | None, context: ToolContext
) -> str:
    if start is not None:
        return render("available.time", context.language, zone=context.zone, at=start)
    if len(slots) <= MAX_SPOKEN_TIMES:
        return render("available", context.language, zone=context.zone, times=slots)
    return render("available.some", context.language, zone=context.zone, times=_spread(slots))


TOOL = Tool(
    name=CHECK_AVAILABILITY,
    description=(
        "Ask what is free on a day (and, if the caller named one, at a time) before booking "
        "or moving an appointment. 'available' lists free starts in 'slots' (a long day "
        "only some, spread over it; 'more_slots' counts the others); 'unavailable' "
        "means that day or time is not free and offers 'alternatives'. Nothing is booked: "
        "call collect_appointment_data to book. The message is safe to speak as is."
    ),
    args_model=CheckAvailabilityArgs,
    handler=check_availability,
)
