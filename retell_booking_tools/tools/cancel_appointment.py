"""``cancel_appointment``: cancel the caller's own appointment."""

from __future__ import annotations

from pydantic import Field

from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.lifecycle import CancelRequest
from retell_booking_tools.tools.base import (
    Tool,
    ToolArgs,
    ToolContext,
    ToolResult,
    booking_uid_field,
    caller_email_field,
    invalid_result,
    owned_result,
    resolve_customer,
)


class CancelAppointmentArgs(ToolArgs):
    """Which appointment, and why if the caller said."""

    booking_uid: str = booking_uid_field(
        "booking_uid of the caller's appointment (from find_appointments)."
    )
    reason: str | None = Field(
        default=None, max_length=500, description="Why, in the caller's words, if given."
    )
    email: str | None = caller_email_field()


async def cancel_appointment(args: CancelAppointmentArgs, context: ToolContext) -> ToolResult:
    try:
        customer, _ = await resolve_customer(context, name="", phone=None, email=args.email)
    except InvalidArguments as error:
        return invalid_result(error, context)
    outcome = await context.lifecycle.cancel(
        CancelRequest(
            call_id=context.call.call_id,
            customer=customer,
            booking_uid=args.booking_uid,
            reason=args.reason or None,
            resumed=context.resumed,
        )
    )
    return owned_result(outcome, context)


TOOL = Tool(
    name="cancel_appointment",
    description=(
        "Cancel the caller's appointment once they have clearly asked for it. 'cancelled' "
        "means it is cancelled now; 'already_cancelled' means it had been cancelled before; "
        "'not_found' or 'conflict' means no such upcoming appointment of theirs; 'error' "
        "means it may still stand. The message is safe to speak as is."
    ),
    args_model=CancelAppointmentArgs,
    handler=cancel_appointment,
)
