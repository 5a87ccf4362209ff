"""``check_availability``: what is free on a day (or over a few days, or in part of a
day), said short, and remembered for the call.

A range answer (``date_to`` after ``date``) lists in ``slots`` only the starts it speaks:
up to :data:`MAX_SPOKEN_TIMES` of the soonest in the range and part of day, spread over
different days (:func:`~retell_booking_tools.booking.availability.soonest_over_days`).
``more_slots`` counts every other free start of the range's days, those outside the part
of day included, so a day listed only in part is never taken as listed whole: a later
booking of a start left out is decided by Cal.com. ``part_of_day`` alone filters the one
day, listed like a day (``more_slots`` again counting the day's other starts).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from retell_booking_tools.booking.availability import (
    Availability,
    AvailabilityRequest,
    PartOfDay,
    soonest_over_days,
)
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
from retell_booking_tools.tools.dates import parse_day, requested_day, requested_start

MAX_SPOKEN_TIMES = 6
"""A day with more free starts is spoken as a few examples spread over the day."""
MAX_LISTED_SLOTS = 48
"""A result lists at most this many free starts, spread over the day(s); ``more_slots``
counts the others (any of them can still be asked for: Cal.com decides those)."""
MAX_RANGE_DAYS = 14
"""``date_to`` is at most this many days after ``date``."""


class CheckAvailabilityArgs(ToolArgs):
    """The day (and optionally the time) the caller asks about."""

    date: str = Field(max_length=40, description="Day asked about, YYYY-MM-DD, business time zone.")
    date_to: str | None = Field(
        default=None,
        max_length=40,
        description=(
            "Last day of a range the caller asks about (e.g. 'next week'), YYYY-MM-DD, at "
            f"most {MAX_RANGE_DAYS} days after date; the soonest free starts of the range "
            "are answered."
        ),
    )
    time: str | None = Field(
        default=None,
        max_length=40,
        description="A specific start, HH:MM (24-hour), only if the caller named one.",
    )
    part_of_day: PartOfDay | None = Field(
        default=None,
        description=(
            "Only if the caller named one: 'morning' (before 12:00), 'afternoon' "
            "(12:00 to 17:00) or 'evening' (from 17:00), business time."
        ),
    )
    service: str | None = service_field()

    @field_validator("part_of_day", mode="before")
    @classmethod
    def _part_of_day_in_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


async def check_availability(args: CheckAvailabilityArgs, context: ToolContext) -> ToolResult:
    """A start (``time``), a whole day, or a range and part of day; see the module."""
    try:
        day = requested_day(args.date, zone=context.zone, now=context.now)
        start = (
            requested_start(args.date, args.time, zone=context.zone, now=context.now)
            if args.time
            else None
        )
        last_day = _last_day(args.date_to, day) if args.date_to else None
    except InvalidArguments as error:
        return invalid_result(error, context)
    event_type_id = chosen_event_type(context, args.service)
    if isinstance(event_type_id, ToolResult):
        return event_type_id
    if start is None and (args.part_of_day is not None or (last_day or day) > day):
        return await _range(day, last_day or day, args.part_of_day, event_type_id, context)
    read = await _read(
        AvailabilityRequest(day=day, zone=context.zone, event_type_id=event_type_id, start=start),
        context,
    )
    if isinstance(read, ToolResult):
        return read
    held, answer = read
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


def _last_day(text: str, day: date) -> date:
    """The range's last day: a day from ``day`` to :data:`MAX_RANGE_DAYS` after it, or
    InvalidArguments ``date_to``."""
    try:
        last_day = parse_day(text)
    except InvalidArguments:
        raise InvalidArguments("date_to", "not a date in YYYY-MM-DD form") from None
    if last_day < day:
        raise InvalidArguments("date_to", "before date")
    if last_day - day > timedelta(days=MAX_RANGE_DAYS):
        raise InvalidArguments("date_to", f"more than {MAX_RANGE_DAYS} days after date")
    return last_day


async def _range(
    day: date, last_day: date, part: PartOfDay | None, event_type_id: int, context: ToolContext
) -> ToolResult:
    """The soonest free starts from ``day`` to ``last_day`` in ``part`` (one slots read).

    The caller's own appointments on those days are named, as a day's are, and their
    starts never offered as free (nor called "not available")."""
    read = await _read(
        AvailabilityRequest(
            day=day,
            zone=context.zone,
            event_type_id=event_type_id,
            last_day=last_day,
            part_of_day=part,
        ),
        context,
    )
    if isinstance(read, ToolResult):
        return read
    held, answer = read
    free = tuple(slot for slot in answer.slots if not any(a.start == slot for a in held))
    several = last_day > day
    if several:
        listed = soonest_over_days(free, context.zone, MAX_SPOKEN_TIMES)
    else:
        listed = _spread(free, MAX_LISTED_SLOTS)
    more = len(free) - len(listed) + answer.other_parts
    zone, language = context.zone, context.language
    today = context.now.astimezone(zone).date()
    span = (_midnight(day, context), _midnight(last_day, context))
    if held:
        appointment = held[0]
        if not several:
            return _own_appointment(appointment, free, exact=False, context=context, more=more)
        key = "existing.range" if listed else "existing.range.only"
        message = render(
            key,
            language,
            zone=zone,
            at=appointment.start,
            starts=listed,
            today=today,
        )
    elif not listed:
        key = "unavailable.range" if several else "unavailable.day"
        message = render(
            f"{key}.part" if part else key,
            language,
            zone=zone,
            at=span[0],
            choices=answer.alternatives,
            days=span if several else None,
            part_of_day=part,
        )
    elif several:
        message = render(
            "available.range",
            language,
            zone=zone,
            starts=listed,
            today=today,
        )
    else:
        key = "available" if len(listed) <= MAX_SPOKEN_TIMES else "available.some"
        times = listed if len(listed) <= MAX_SPOKEN_TIMES else _spread(listed)
        message = render(
            f"{key}.part" if part else key, language, zone=zone, times=times, part_of_day=part
        )
    offered_instead = answer.alternatives if not listed and not held else ()
    return ToolResult(
        status=ToolStatus.AVAILABLE if listed else ToolStatus.UNAVAILABLE,
        message=message,
        appointment=AppointmentView.of(held[0]) if held else None,
        slots=[slot.astimezone(zone) for slot in listed] or None,
        alternatives=[a.astimezone(zone) for a in offered_instead] or None,
        more_slots=more or None,
    )


def _midnight(day: date, context: ToolContext) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=context.zone)


async def _read(
    request: AvailabilityRequest, context: ToolContext
) -> tuple[list[Appointment], Availability] | ToolResult:
    """The caller's held appointments on the days asked about, then what is free on them
    (in that order: an appointment Cal.com dropped frees its start before slots are read),
    or the ``error`` answer when Cal.com cannot be asked."""
    held = await context.core.callers.held_on(
        context.caller,
        request.day,
        last_day=request.last_day,
        zone=context.zone,
        event_type_id=request.event_type_id,
        now=context.now,
    )
    answer = await context.availability.check(request)
    if answer.status is ToolStatus.ERROR:
        variant = "busy" if answer.busy else None
        return status_result(ToolStatus.ERROR, context, variant=variant)
    return held, answer


def _own_appointment(
    appointment: Appointment,
    slots: tuple[datetime, ...],
    *,
    exact: bool,
    context: ToolContext,
    more: int | None = None,
) -> ToolResult:
    """The caller already holds an appointment then (``existing``) or that day (the free
    starts, with their appointment named): never "not available" for their own slot.
    ``more`` counts the day's free starts left out (default: those past the listed ones)."""
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
        more_slots=(len(slots) - len(listed) if more is None else more) or None,
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
        "or moving an appointment; for a vaguer wish ('next week', 'a morning') give the "
        "range with date_to and/or part_of_day. 'available' lists free starts in 'slots' (a "
        "long day only some, spread over it; a range the soonest few, over several days; "
        "'more_slots' counts the others); 'unavailable' means that day, range or time is not "
        "free and offers 'alternatives'. Nothing is booked: call collect_appointment_data "
        "to book. The message is safe to speak as is."
    ),
    args_model=CheckAvailabilityArgs,
    handler=check_availability,
)
