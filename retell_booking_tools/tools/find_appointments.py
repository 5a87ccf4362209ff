"""``find_appointments``: the caller's own upcoming appointments, and nobody else's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field

from retell_booking_tools.domain import AppointmentStatus, ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import render
from retell_booking_tools.tools.base import (
    AppointmentView,
    Tool,
    ToolArgs,
    ToolContext,
    ToolResult,
    invalid_result,
    resolve_customer,
    status_result,
)


class FindAppointmentsArgs(ToolArgs):
    """Who is asking, when the call itself does not say (no caller number)."""

    email: str | None = Field(
        default=None,
        max_length=320,
        description="The caller's email, only if they call without a number and gave one.",
    )
    phone: str | None = Field(
        default=None,
        max_length=40,
        description="The caller's phone number, only if the call carries none.",
    )


async def find_appointments(args: FindAppointmentsArgs, context: ToolContext) -> ToolResult:
    # The number the call comes from identifies the caller; a number said aloud only
    # counts when the call has none, so nobody can list another caller's appointments.
    phone = None if context.call.customer_number else args.phone
    try:
        customer, _ = await resolve_customer(context, name="", phone=phone, email=args.email)
    except InvalidArguments as error:
        return invalid_result(error, context)
    outcome = await context.lifecycle.find(customer)
    if outcome.status is not ToolStatus.FOUND:
        return status_result(outcome.status, context)
    appointments = outcome.appointments
    first = appointments[0]
    pending = any(a.status is AppointmentStatus.PENDING for a in appointments)
    if len(appointments) == 1:
        key = "found.pending" if pending else "found"
        message = render(key, context.language, zone=ZoneInfo(first.timezone), at=first.start)
    else:
        message = render(
            "found.many.pending" if pending else "found.many",
            context.language,
            zone=context.zone,
            choices=[a.start for a in appointments],
            count=len(appointments),
        )
    return ToolResult(
        status=ToolStatus.FOUND,
        message=message,
        appointments=[AppointmentView.of(a) for a in appointments],
    )


TOOL = Tool(
    name="find_appointments",
    description=(
        "Look up the caller's upcoming appointments, e.g. before moving or cancelling one. "
        "'found' lists them in 'appointments' (use their booking_uid for "
        "reschedule_appointment or cancel_appointment); 'none' means the caller has none "
        "under their details. The message is safe to speak as is."
    ),
    args_model=FindAppointmentsArgs,
    handler=find_appointments,
)
