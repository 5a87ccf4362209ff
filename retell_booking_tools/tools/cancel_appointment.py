"""``cancel_appointment``: cancel the caller's own appointment."""

from __future__ import annotations

from pydantic import Field

from retell_booking_tools.booking.identity import clean_text
from retell_booking_tools.booking.lifecycle import CancelRequest
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.tools.base import (
    AppointmentArgs,
    Tool,
    ToolContext,
    ToolResult,
    acting_customer,
    caller_email_field,
    invalid_result,
    owned_result,
)


class CancelAppointmentArgs(AppointmentArgs):
    """Which appointment (uid, or the reference the caller reads out), and why if said."""

    reason: str | None = Field(
        default=None, max_length=500, description="Why, in the caller's words, if given."
    )
    email: str | None = caller_email_field()


async def cancel_appointment(args: CancelAppointmentArgs, context: ToolContext) -> ToolResult:
    try:
        reason = clean_text(args.reason, field="reason", multiline=True) if args.reason else None
    except InvalidArguments as error:
        return invalid_result(error, context)
    acting = await acting_customer(context, args)
    if isinstance(acting, ToolResult):
        return acting
    booking_uid, customer = acting
    outcome = await context.lifecycle.cancel(
        CancelRequest(
            call_id=context.call.call_id,
            customer=customer,
            booking_uid=booking_uid,
            reason=reason or None,
            resumed=context.resumed,
        )
    )
    return owned_result(outcome, context)


TOOL = Tool(
    name="cancel_appointment",
    description=(
        "Cancel the caller's appointment once they have clearly asked for it. Pass its "
        "booking_uid, or the booking_reference (with the name on the booking) the caller "
        "reads out. 'cancelled' means it is cancelled now; 'already_cancelled' means it had "
        "been cancelled before; 'not_found' or 'conflict' means no such upcoming appointment "
        "of theirs; 'invalid' means ask for the named field; 'error' means it may still "
        "stand. The message is safe to speak as is."
    ),
    args_model=CancelAppointmentArgs,
    handler=cancel_appointment,
)
