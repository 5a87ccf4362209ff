"""``confirm_existing``: the caller keeps an appointment they already have."""

from __future__ import annotations

from retell_booking_tools.tools.base import (
    AppointmentArgs,
    Tool,
    ToolContext,
    ToolResult,
    acting_customer,
    booking_uid_field,
    caller_email_field,
    owned_result,
)


class ConfirmExistingArgs(AppointmentArgs):
    """The booking the caller keeps: its uid from an ``existing`` result, or its reference."""

    booking_uid: str | None = booking_uid_field(
        "appointment.booking_uid from the earlier 'existing' result."
    )
    email: str | None = caller_email_field()


async def confirm_existing(args: ConfirmExistingArgs, context: ToolContext) -> ToolResult:
    acting = await acting_customer(context, args)
    if isinstance(acting, ToolResult):
        return acting
    booking_uid, customer = acting
    outcome = await context.core.bookings.confirm_existing(
        call_id=context.call.call_id, customer=customer, booking_uid=booking_uid
    )
    return owned_result(outcome, context)


TOOL = Tool(
    name="confirm_existing",
    description=(
        "Call when the caller, told they already have an appointment, wants to keep it. "
        "Pass its booking_uid, or the booking_reference (with the name on the booking) the "
        "caller reads out. 'confirmed' means it stays as it is; 'not_found' or 'conflict' "
        "means no such appointment of theirs: do not claim one. 'invalid' means ask for the "
        "named field. 'pending' means nothing is confirmed yet: call it again with the same "
        "arguments."
    ),
    args_model=ConfirmExistingArgs,
    handler=confirm_existing,
)
