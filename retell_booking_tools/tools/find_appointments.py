"""``find_appointments``: the caller's own upcoming appointments, and nobody else's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from retell_booking_tools.booking.records import BookingOutcome
from retell_booking_tools.domain import AppointmentStatus, ToolStatus
from retell_booking_tools.messages import render
from retell_booking_tools.tools.base import (
    MAX_LISTED_APPOINTMENTS,
    MAX_SPOKEN_APPOINTMENTS,
    AppointmentView,
    Tool,
    ToolArgs,
    ToolContext,
    ToolResult,
    booking_reference_field,
    caller_email_field,
    reference_name_field,
    reference_needed,
    reference_owner,
    status_result,
    trusted_customer,
)


class FindAppointmentsArgs(ToolArgs):
    """Nothing for a caller the call identifies; a booking reference and name for others."""

    booking_reference: str | None = booking_reference_field()
    customer_name: str | None = reference_name_field()
    email: str | None = caller_email_field()
    phone: str | None = caller_email_field()


async def find_appointments(args: FindAppointmentsArgs, context: ToolContext) -> ToolResult:
    # Only the call itself or a booking reference says whose appointments these are: a
    # phone or an email said aloud never lists anything.
    if args.booking_reference:
        owned = await reference_owner(
            context, reference=args.booking_reference, name=args.customer_name
        )
        if isinstance(owned, ToolResult):
            return owned
        outcome = await context.lifecycle.find_one(owned[0])
    else:
        customer = await trusted_customer(context)
        if customer is None:
            return reference_needed(context)
        outcome = await context.lifecycle.find(customer)
    return found_result(outcome, context)


def found_result(outcome: BookingOutcome, context: ToolContext) -> ToolResult:
    """``found`` with the appointments and a message naming them, or the outcome's status."""
    if outcome.status is not ToolStatus.FOUND:
        return status_result(outcome.status, context)
    appointments = outcome.appointments
    first = appointments[0]
    pending = any(a.status is AppointmentStatus.PENDING for a in appointments)
    if len(appointments) == 1:
        key = "found.pending" if pending else "found"
        message = render(key, context.language, zone=ZoneInfo(first.timezone), at=first.start)
    else:
        spoken = appointments[:MAX_SPOKEN_APPOINTMENTS]
        message = render(
            "found.many"
            + (".soonest" if len(spoken) < len(appointments) else "")
            + (".pending" if pending else ""),
            context.language,
            zone=context.zone,
            choices=[a.start for a in spoken],
            count=len(appointments),
        )
    listed = appointments[:MAX_LISTED_APPOINTMENTS]
    return ToolResult(
        status=ToolStatus.FOUND,
        message=message,
        appointments=[AppointmentView.of(a) for a in listed],
        more_appointments=len(appointments) - len(listed) or None,
    )


TOOL = Tool(
    name="find_appointments",
    description=(
        "Look up the caller's upcoming appointments, e.g. before moving or cancelling one. "
        "A caller the call identifies needs no arguments; anyone else (another number, a "
        "web call) gives the booking_reference and the name on the booking. 'found' lists "
        "them in 'appointments', soonest first (use their booking_uid for "
        "reschedule_appointment or cancel_appointment; 'more_appointments' counts later "
        "ones not listed); 'none' means the caller has none under their details; "
        "'invalid' means ask for the named field. The message is safe to speak as is."
    ),
    args_model=FindAppointmentsArgs,
    handler=find_appointments,
)
