"""``check_availability``: what is free on a day, said short, and remembered for the call."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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
    invalid_result,
    known_customer,
    status_result,
)
from retell_booking_tools.tools.collect_appointment_data import MAX_DAYS_AHEAD, requested_start

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
    service: str | None = Field(
        default=None, max_length=200, description="What the appointment is for, if said."
    )


def requested_day(day_text: str, context: ToolContext) -> date:
    """The local day asked about, or InvalidArguments: not a date, past, or over a year ahead."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise InvalidArguments("date", "not a date in YYYY-MM-DD form") from None
    if len(day_text) != 10:
        raise InvalidArguments("date", "not a date in YYYY-MM-DD form")
    today = context.now.astimezone(context.zone).date()
    if day < today:
        raise InvalidArguments("date", "in the past")
    if day - today > timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidArguments("date", "more than a year ahead")
    return day


async def check_availability(args: CheckAvailabilityArgs, context: ToolContext) -> ToolResult:
    try:
        day = requested_day(args.date, context)
        start = requested_start(args.date, args.time, context) if args.time else None
    except InvalidArguments as error:
        return invalid_result(error, context)
    held = await _held_that_day(day, context)
    answer = await context.availability.check(
        AvailabilityRequest(
            day=day,
            zone=context.zone,
            event_type_id=context.event_type_id or context.service.policy.event_type_id,
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


async def _held_that_day(day: date, context: ToolContext) -> list[Appointment]:
    """The caller's upcoming appointments on that local day (trusted identity only), as
    Cal.com still has them.

    Each stored one is re-checked (:meth:`BookingService.still_booked`, as booking does):
    one Cal.com cancelled or moved without a webhook is recorded so, its day's slot reads
    are dropped, and it is left out. When Cal.com cannot be asked, the store is trusted.
    """
    customer = await known_customer(context)
    if customer is None:
        return []
    event_type = context.event_type_id or context.service.policy.event_type_id
    held = []
    for appointment in await context.repository.appointments_for_customer(customer.id):
        if not (
            appointment.is_upcoming(context.now)
            and appointment.event_type_id == event_type
            and appointment.start.astimezone(context.zone).date() == day
        ):
            continue
        if await context.service.still_booked(appointment):
            held.append(appointment)
        else:
            await context.service.slots.touched(appointment.start, appointment.event_type_id)
    return held


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
