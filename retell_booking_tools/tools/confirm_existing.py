"""``confirm_existing``: the caller keeps an appointment they already have."""

from __future__ import annotations

from retell_booking_tools.errors import InvalidArguments
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


class ConfirmExistingArgs(ToolArgs):
    """The booking the caller keeps, as returned in an ``existing`` result."""

    booking_uid: str = booking_uid_field(
        "appointment.booking_uid from the earlier 'existing' result."
    )
    email: str | None = caller_email_field()


async def confirm_existing(args: ConfirmExistingArgs, context: ToolContext) -> ToolResult:
    try:
        customer, _ = await resolve_customer(context, name="", phone=None, email=args.email)
    except InvalidArguments as error:
        return invalid_result(error, context)
    outcome = await context.service.confirm_existing(
        call_id=context.call.call_id, customer=customer, booking_uid=args.booking_uid
    )
    return owned_result(outcome, context)


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
