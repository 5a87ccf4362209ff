"""``reschedule_appointment``: move the caller's own appointment to another start.

A move keeps the appointment's service (its Cal.com event type). ``service``, when said,
must name a service of the business (else ``invalid`` listing them); naming another
service than the appointment's is ``invalid`` on field ``service`` too, saying that a move
keeps the service (the caller can book the other service and cancel this one).
"""

from __future__ import annotations

from pydantic import Field

from retell_booking_tools.booking.lifecycle import RescheduleRequest
from retell_booking_tools.businesses.services import ServiceMatch, ServiceRefusal
from retell_booking_tools.domain import ToolStatus
from retell_booking_tools.errors import InvalidArguments, SameStart
from retell_booking_tools.messages import render
from retell_booking_tools.tools.base import (
    AppointmentArgs,
    Tool,
    ToolContext,
    ToolResult,
    acting_customer,
    caller_email_field,
    invalid_result,
    offered_slots,
    owned_result,
    refused_service,
    service_field,
)
from retell_booking_tools.tools.dates import requested_start


class RescheduleAppointmentArgs(AppointmentArgs):
    """Which appointment (uid, or the reference the caller reads out), and the new start."""

    date: str = Field(max_length=40, description="New day, YYYY-MM-DD, business time zone.")
    time: str = Field(max_length=40, description="New start, HH:MM (24-hour), business time zone.")
    email: str | None = caller_email_field()
    service: str | None = service_field()


async def reschedule_appointment(
    args: RescheduleAppointmentArgs, context: ToolContext
) -> ToolResult:
    try:
        start = requested_start(args.date, args.time, zone=context.zone, now=context.now)
    except InvalidArguments as error:
        return invalid_result(error, context)
    acting = await acting_customer(context, args)
    if isinstance(acting, ToolResult):
        return acting
    booking_uid, customer = acting
    if args.service:
        kept = await _service_kept(args.service, booking_uid, customer.id, context)
        if kept is not None:
            return kept
    try:
        outcome = await context.lifecycle.reschedule(
            RescheduleRequest(
                call_id=context.call.call_id,
                customer=customer,
                booking_uid=booking_uid,
                start=start,
                resumed=context.resumed,
                offered=await offered_slots(context),
                timezone=context.zone.key,
            )
        )
    except SameStart as error:
        return ToolResult(
            status=ToolStatus.INVALID,
            message=render("invalid.same_time", context.language, zone=context.zone),
            field=error.field,
        )
    return owned_result(outcome, context)


async def _service_kept(
    spoken: str, booking_uid: str, customer_id: int, context: ToolContext
) -> ToolResult | None:
    """None when ``spoken`` names the service of the caller's appointment (or the business
    books any service as one); else the ``invalid`` answer on field ``service``."""
    business = context.business
    if business is None or business.implicit:
        return None
    choice = business.service(spoken)
    if isinstance(choice, ServiceRefusal):
        return refused_service(choice, context)
    assert isinstance(choice, ServiceMatch)
    appointment = await context.core.store.get_appointment_by_uid(booking_uid)
    if appointment is None or appointment.customer_id != customer_id:
        return None  # not theirs: the move answers not_found, revealing nothing
    if appointment.event_type_id == choice.service.event_type_id:
        return None
    return ToolResult(
        status=ToolStatus.INVALID,
        message=render(
            "invalid.service.kept",
            context.language,
            zone=context.zone,
            services=(choice.service.name,),
        ),
        field="service",
    )


TOOL = Tool(
    name="reschedule_appointment",
    description=(
        "Move the caller's appointment to a new day and time; pass its booking_uid, or the "
        "booking_reference (with the name on the booking) the caller reads out. "
        "'rescheduled' means it was "
        "moved: 'appointment' is the new one (with a new booking_uid), "
        "'previous_booking_uid' the old one. 'unavailable' means the new time is not free "
        "and the appointment stays where it was (offer the alternatives); 'limit_reached' "
        "means the service's limit per caller forbids it and nothing changed; 'not_found' or "
        "'conflict' means no such upcoming appointment of theirs; 'invalid' means ask again "
        "for the named field; 'error' means nothing changed for sure. The message is safe "
        "to speak as is."
    ),
    args_model=RescheduleAppointmentArgs,
    handler=reschedule_appointment,
)
