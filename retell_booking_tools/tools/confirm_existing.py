"""``confirm_existing``: the caller keeps an appointment they already have."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from retell_booking_tools.domain import ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.tools.base import (
    Tool,
    ToolContext,
    ToolResult,
    invalid_result,
    outcome_result,
    resolve_customer,
    status_result,
)


class ConfirmExistingArgs(BaseModel):
    """The booking the caller keeps, as returned in an ``existing`` result."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    booking_uid: str = Field(
        min_length=1,
        max_length=100,
        description="appointment.booking_uid from the earlier 'existing' result.",
    )
    email: str | None = Field(
        default=None,
        max_length=320,
        description="The caller's email, only if they booked with it and call without a number.",
    )


async def confirm_existing(args: ConfirmExistingArgs, context: ToolContext) -> ToolResult:
    try:
        customer, _ = await resolve_customer(context, name="", phone=None, email=args.email)
    except InvalidArguments as error:
        return invalid_result(error, context)
    outcome = await context.service.confirm_existing(
        call_id=context.call.call_id, customer=customer, booking_uid=args.booking_uid
    )
    if outcome.status is ToolStatus.CONFLICT:
        return status_result(ToolStatus.CONFLICT, context, variant="appointment")
    if outcome.status is ToolStatus.NOT_FOUND:
        return status_result(ToolStatus.NOT_FOUND, context)
    return outcome_result(outcome, context)


TOOL = Tool(
    name="confirm_existing",
    description=(
        "Call when the caller, told they already have an appointment, wants to keep it. "
        "'confirmed' means it stays as it is; 'not_found' or 'conflict' means no such "
        "appointment of theirs: do not claim one. 'pending' means nothing is confirmed yet: "
        "call it again with the same arguments."
    ),
    args_model=ConfirmExistingArgs,
    handler=confirm_existing,
)
