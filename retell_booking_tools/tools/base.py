"""What every tool shares: its context, the result shape and the customer from the call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import attrs
from pydantic import BaseModel, ConfigDict, Field

from retell_booking_tools.availability import AvailabilityService, OfferedSlots
from retell_booking_tools.booking import BookingOutcome, BookingService
from retell_booking_tools.config import Language
from retell_booking_tools.domain import Appointment, AppointmentStatus, Customer, ToolStatus
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.identity import normalize_email, normalize_phone
from retell_booking_tools.lifecycle import AppointmentLifecycle
from retell_booking_tools.messages import render
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.retell.models import RetellCall


@attrs.frozen
class ToolContext:
    """Everything a tool needs besides its arguments, for one delivery of one function call."""

    call: RetellCall
    service: BookingService
    repository: Repository
    language: Language
    zone: ZoneInfo
    phone_region: str
    now: datetime
    resumed: bool = False
    event_type_id: int | None = None
    """The call's own Cal.com event type, when it overrides the configured one."""

    @property
    def lifecycle(self) -> AppointmentLifecycle:
        return AppointmentLifecycle(self.service)

    @property
    def availability(self) -> AvailabilityService:
        return AvailabilityService(
            calcom=self.service.calcom,
            clock=self.service.clock,
            max_alternatives=self.service.policy.max_alternatives,
            slots=self.service.slots,
        )


class ToolArgs(BaseModel):
    """Arguments the model fills in: unknown keys are ignored and strings stripped."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def booking_uid_field(description: str) -> Any:
    """The ``booking_uid`` argument of a tool that acts on one of the caller's appointments."""
    return Field(min_length=1, max_length=100, description=description)


def caller_email_field() -> Any:
    """The optional ``email`` that identifies a caller who phones without a number."""
    return Field(
        default=None,
        max_length=320,
        description="The caller's email, only if they booked with it and call without a number.",
    )


class AppointmentView(BaseModel):
    """An appointment as the agent sees it: the caller's own, times in the business zone."""

    model_config = ConfigDict(frozen=True)

    id: int
    booking_uid: str
    start: datetime = Field(description="ISO 8601 with offset, in the business time zone")
    end: datetime
    timezone: str
    status: AppointmentStatus = Field(
        default=AppointmentStatus.ACTIVE,
        description="'active', or 'pending' while the host still has to confirm it",
    )

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentView:
        zone = ZoneInfo(appointment.timezone)
        return cls(
            id=appointment.id,
            booking_uid=appointment.booking_uid,
            start=appointment.start.astimezone(zone),
            end=appointment.end.astimezone(zone),
            timezone=appointment.timezone,
            status=appointment.status,
        )


class ToolResult(BaseModel):
    """The JSON the agent reads: a status from a closed set and words that match it."""

    model_config = ConfigDict(frozen=True)

    status: ToolStatus
    message: str
    appointment: AppointmentView | None = None
    appointments: list[AppointmentView] | None = Field(
        default=None, description="The caller's upcoming appointments, soonest first"
    )
    slots: list[datetime] | None = Field(
        default=None, description="Free starts (ISO 8601 with offset)"
    )
    alternatives: list[datetime] | None = Field(
        default=None, description="Free starts nearby (ISO 8601 with offset)"
    )
    previous_booking_uid: str | None = Field(
        default=None, description="The booking a reschedule replaced"
    )
    field: str | None = Field(default=None, description="The argument that was invalid")

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


ArgsT = TypeVar("ArgsT", bound=BaseModel)

CHECK_AVAILABILITY = "check_availability"


@attrs.frozen
class Tool(Generic[ArgsT]):
    """A Retell custom function: its name, what the model is told, its arguments and handler."""

    name: str
    description: str
    args_model: type[ArgsT]
    handler: Callable[[ArgsT, ToolContext], Awaitable[ToolResult]]

    async def invoke(self, args: BaseModel, context: ToolContext) -> ToolResult:
        assert isinstance(args, self.args_model)
        return await self.handler(args, context)


def outcome_result(outcome: BookingOutcome, context: ToolContext) -> ToolResult:
    """Word a booking outcome; the appointment is spoken in its own time zone."""
    appointment = outcome.appointment
    key = f"{outcome.status.value}.{outcome.variant}" if outcome.variant else outcome.status.value
    return ToolResult(
        status=outcome.status,
        message=render(
            key,
            context.language,
            zone=ZoneInfo(appointment.timezone) if appointment else context.zone,
            at=appointment.start if appointment else None,
            choices=outcome.alternatives,
        ),
        appointment=AppointmentView.of(appointment) if appointment else None,
        alternatives=[a.astimezone(context.zone) for a in outcome.alternatives] or None,
        previous_booking_uid=outcome.previous_booking_uid,
    )


def invalid_result(error: InvalidArguments, context: ToolContext) -> ToolResult:
    """``invalid`` naming the field; the variant wording asks for exactly that field again."""
    key = "invalid.past" if error.reason == "in the past" else f"invalid.{error.field}"
    return ToolResult(
        status=ToolStatus.INVALID,
        message=render(key, context.language, zone=context.zone),
        field=error.field,
    )


def status_result(
    status: ToolStatus, context: ToolContext, variant: str | None = None
) -> ToolResult:
    """A result that carries no appointment, e.g. ``not_found`` or ``error``."""
    key = f"{status.value}.{variant}" if variant else status.value
    return ToolResult(status=status, message=render(key, context.language, zone=context.zone))


async def resolve_customer(
    context: ToolContext, *, name: str, phone: str | None, email: str | None
) -> tuple[Customer, str | None]:
    """The caller as a customer (phone from the args, else the call), and their given email.

    Raises InvalidArguments when neither a phone nor an email identifies them.
    """
    given_email = normalize_email(email) if email else None
    raw_phone = phone or context.call.customer_number
    field = "phone"
    normalized_phone = None
    if raw_phone:
        try:
            normalized_phone = normalize_phone(raw_phone, region=context.phone_region, field=field)
        except InvalidArguments:
            if phone:
                raise
    if normalized_phone is None and given_email is None:
        raise InvalidArguments(field, "a phone number or an email is needed to book")
    customer = await context.repository.upsert_customer(
        name=name, phone=normalized_phone, email=given_email, call_id=context.call.call_id
    )
    return customer, given_email


async def offered_slots(context: ToolContext) -> OfferedSlots | None:
    """Every start ``check_availability`` listed earlier in this call, or None if it was never
    asked. Read from the store, so it holds whichever replica served that question."""
    results = await context.repository.tool_call_results(context.call.call_id, CHECK_AVAILABILITY)
    starts = [
        datetime.fromisoformat(slot)
        for result in results
        for slot in result.get("slots") or ()
        if isinstance(slot, str)
    ]
    return OfferedSlots.of(starts, context.zone) if starts else None


def owned_result(outcome: BookingOutcome, context: ToolContext) -> ToolResult:
    """Word the outcome of acting on a booking by uid; another customer's one is worded like an
    unknown one, so the answer reveals nothing about it."""
    if outcome.status is ToolStatus.CONFLICT:
        return status_result(ToolStatus.CONFLICT, context, variant="appointment")
    if outcome.status is ToolStatus.NOT_FOUND:
        return status_result(ToolStatus.NOT_FOUND, context)
    return outcome_result(outcome, context)
