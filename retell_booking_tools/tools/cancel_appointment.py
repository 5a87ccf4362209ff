"""``cancel_appointment``: cancel the caller's own appointment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from retell_booking_tools.domain import ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.lifecycle import CancelRequest
from retell_booking_tools.tools.base import (
    Tool,
    ToolContext,
    ToolResult,
    invalid_result,
    outcome_result,
    resolve_customer,
    status_result,
)


class CancelAppointmentArgs(BaseModel):
    """Which appointment, and why if the caller said."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    booking_uid: str = Field(
        min_length=1,
        max_length=100,
        description="booking_uid of the caller's appointment (from find_appointments).",
    )
    reason: str | None = Field(
        default=None, max_length=500, description="Why, in the caller's words, if given."
    )
    email: str | None = Field(
        default=None,
        max_length=320,
        description="The caller's email, only if they booked with it and call without a number.",
    )


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
    if outcome.status is ToolStatus.CONFLICT:
        return status_result(ToolStatus.CONFLICT, context, variant="appointment")
    if outcome.status is ToolStatus.NOT_FOUND:
        return status_result(ToolStatus.NOT_FOUND, context)
    return outcome_result(outcome, context)


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
