"""What every tool shares: its context, the result shape, and the caller's claims worded.

Who the caller is, and which appointments they may act on, is the booking core's
(:mod:`retell_booking_tools.booking.callers`); this module turns its answers into results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import attrs
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retell_booking_tools.booking.availability import AvailabilityService, OfferedSlots
from retell_booking_tools.booking.callers import Caller, Claimed
from retell_booking_tools.booking.core import BookingCore
from retell_booking_tools.booking.identity import CONTACT_NEEDED, spoken_reference
from retell_booking_tools.booking.lifecycle import AppointmentLifecycle
from retell_booking_tools.booking.records import BookingOutcome
from retell_booking_tools.businesses.model import Business
from retell_booking_tools.businesses.services import ServiceRefusal
from retell_booking_tools.config import Language
from retell_booking_tools.domain import (
    READ_ONLY_TOOLS,
    Appointment,
    AppointmentStatus,
    Customer,
    ResultFacts,
    ToolStatus,
)
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.messages import render
from retell_booking_tools.repository.protocol import ToolCallLedger
from retell_booking_tools.retell.models import RetellCall


@attrs.frozen
class ToolContext:
    """Everything a tool needs besides its arguments, for one delivery of one function call."""

    call: RetellCall
    core: BookingCore
    ledger: ToolCallLedger
    """Read for what this call was offered earlier; the tools write nothing to the store."""
    language: Language
    zone: ZoneInfo
    phone_region: str
    now: datetime
    resumed: bool = False
    event_type_id: int | None = None
    """The call's own Cal.com event type, when it overrides the configured one."""
    business: Business | None = None
    """The business the call belongs to (None for a runner built without businesses)."""

    @property
    def lifecycle(self) -> AppointmentLifecycle:
        return self.core.lifecycle

    @property
    def availability(self) -> AvailabilityService:
        return self.core.availability

    @property
    def event_type(self) -> int:
        """The event type this call books: its own, else the configured one."""
        return self.event_type_id or self.core.policy.event_type_id

    @property
    def caller(self) -> Caller:
        """What of this call vouches for its caller."""
        call = self.call
        return Caller(
            call_id=call.call_id,
            agent_id=call.agent_id,
            number=call.customer_number,
            metadata=call.metadata or {},
            dynamic_variables=call.retell_llm_dynamic_variables or {},
            region=self.phone_region,
        )


class ToolArgs(BaseModel):
    """Arguments the model fills in: unknown keys are ignored and strings stripped."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: Any) -> Any:
        """Strict tool calls send ``null`` for every optional argument left out: drop it."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def booking_uid_field(description: str) -> Any:
    """The ``booking_uid`` argument of a tool that acts on one of the caller's appointments."""
    return Field(default=None, min_length=1, max_length=100, description=description)


def booking_reference_field() -> Any:
    """The ``booking_reference`` a caller reads out from their confirmation."""
    return Field(
        default=None,
        max_length=40,
        description=(
            "The six-character booking reference the caller reads out (e.g. 'K7F2QX'), "
            "only if they give one."
        ),
    )


def reference_name_field() -> Any:
    """The name on the booking, asked for together with a booking reference."""
    return Field(
        default=None,
        max_length=200,
        description="The name on the booking, when the caller gives a booking reference.",
    )


def caller_email_field() -> Any:
    """A spoken ``email`` is no identity; the argument is accepted and ignored (older agents)."""
    return Field(
        default=None,
        max_length=320,
        description="Not needed: the caller is identified by the call or a booking reference.",
    )


class AppointmentView(BaseModel):
    """An appointment as the agent sees it: the caller's own, times in the business zone."""

    model_config = ConfigDict(frozen=True)

    id: int
    booking_uid: str
    start: datetime = Field(description="ISO 8601 with offset, in the business time zone")
    end: datetime
    timezone: str
    booking_reference: str | None = Field(
        default=None, description="The code the caller can give to manage it (e.g. K7F2QX)"
    )
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
            booking_reference=appointment.booking_reference,
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
    more_appointments: int | None = Field(
        default=None, description="How many later appointments 'appointments' leaves out"
    )
    more_slots: int | None = Field(
        default=None, description="How many free starts of the day(s) 'slots' leaves out"
    )
    previous_booking_uid: str | None = Field(
        default=None, description="The booking a reschedule replaced"
    )
    field: str | None = Field(default=None, description="The argument that was invalid")

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)

    def facts(self, tool: str) -> ResultFacts:
        """What the store records of this answer for later calls, from its typed fields:
        the starts it offered (``slots``; days listed whole unless ``more_slots`` counts
        some left out) and the booking it touched (a read-only ``tool`` touches none, even
        when it names the caller's appointment)."""
        touched = None if tool in READ_ONLY_TOOLS else self.appointment
        return ResultFacts(
            booking_uid=touched.booking_uid if touched is not None else None,
            offered=tuple(self.slots or ()),
            listed_whole=not self.more_slots,
        )


ArgsT = TypeVar("ArgsT", bound=BaseModel)


class AppointmentArgs(ToolArgs):
    """Arguments naming one of the caller's appointments: by uid, or by the reference the
    caller reads out (with the name on the booking); see :func:`acting_customer`."""

    booking_uid: str | None = booking_uid_field(
        "booking_uid of the caller's appointment (from find_appointments)."
    )
    booking_reference: str | None = booking_reference_field()
    customer_name: str | None = reference_name_field()


MAX_RESULT_CHARS = 15_000
"""Retell hands the model at most this many characters of a function result; every result
stays below it, so the model never reads a cut-off answer."""
MAX_LISTED_APPOINTMENTS = 10
"""A result lists at most this many appointments (soonest first) and counts the rest."""
MAX_SPOKEN_APPOINTMENTS = 3
"""A message names at most this many appointments; more are counted, not read out."""

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


_SPOKEN_REFERENCE = (ToolStatus.BOOKED, ToolStatus.RESCHEDULED)
"""Outcomes whose message reads the booking reference out, for the caller to note."""


def outcome_result(outcome: BookingOutcome, context: ToolContext) -> ToolResult:
    """Word a booking outcome; the appointment is spoken in its own time zone."""
    appointment = outcome.appointment
    key = f"{outcome.status.value}.{outcome.variant}" if outcome.variant else outcome.status.value
    message = render(
        key,
        context.language,
        zone=ZoneInfo(appointment.timezone) if appointment else context.zone,
        at=appointment.start if appointment else None,
        choices=outcome.alternatives,
    )
    if (
        appointment is not None
        and appointment.booking_reference
        and outcome.status in _SPOKEN_REFERENCE
    ):
        message = " ".join((message, reference_sentence(appointment.booking_reference, context)))
    return ToolResult(
        status=outcome.status,
        message=message,
        appointment=AppointmentView.of(appointment) if appointment else None,
        alternatives=[a.astimezone(context.zone) for a in outcome.alternatives] or None,
        previous_booking_uid=outcome.previous_booking_uid,
    )


def reference_sentence(reference: str, context: ToolContext) -> str:
    """ "Your booking reference is K 7 F, 2 Q X." in the caller's language."""
    return render(
        "reference", context.language, zone=context.zone, reference=spoken_reference(reference)
    )


def invalid_result(error: InvalidArguments, context: ToolContext) -> ToolResult:
    """``invalid`` naming the field; the variant wording asks for exactly that field again."""
    key = "invalid.past" if error.reason == "in the past" else f"invalid.{error.field}"
    if error.reason == CONTACT_NEEDED:
        key = "invalid.contact"
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


async def trusted_customer(context: ToolContext, *, name: str = "") -> Customer | None:
    """The caller's customer record, or None without a trusted identity (see
    :meth:`Callers.trusted_customer <retell_booking_tools.booking.callers.Callers>`)."""
    return await context.core.callers.trusted_customer(context.caller, name=name)


async def reference_owner(
    context: ToolContext, *, reference: str, name: str | None
) -> tuple[Appointment, Customer] | ToolResult:
    """The appointment a booking reference names and the customer to act as, or the answer
    (see :meth:`Callers.claim_reference <retell_booking_tools.booking.callers.Callers>`)."""
    claim = await context.core.callers.claim_reference(
        context.caller, reference=reference, name=name, now=context.now
    )
    if isinstance(claim, Claimed):
        return claim.appointment, claim.owner
    if claim.reason == "name_needed":
        return invalid_result(InvalidArguments("customer_name", "name on the booking"), context)
    if claim.reason == "name_unreadable":
        assert claim.error is not None
        return invalid_result(claim.error, context)
    if claim.reason == "locked":
        return ToolResult(
            status=ToolStatus.INVALID,
            message=render("invalid.reference_locked", context.language, zone=context.zone),
            field="booking_reference",
        )
    return status_result(ToolStatus.NOT_FOUND, context, variant="reference")


async def acting_customer(
    context: ToolContext, args: AppointmentArgs
) -> tuple[str, Customer] | ToolResult:
    """The booking uid to act on and the customer to act as, or the answer to give.

    A booking reference (with the name, unless it is the caller's own) works for anyone; a
    booking uid only on the caller's own appointment: of their trusted identity, or, for a
    caller without one, booked in this very call.
    """
    booking_uid = args.booking_uid
    if args.booking_reference:
        owned = await reference_owner(
            context, reference=args.booking_reference, name=args.customer_name
        )
        if isinstance(owned, ToolResult):
            return owned
        appointment, owner = owned
        return appointment.booking_uid, owner
    customer = await context.core.callers.own_customer(context.caller)
    if customer is None:
        return reference_needed(context)
    if not booking_uid:
        return invalid_result(InvalidArguments("booking_uid", "missing"), context)
    return booking_uid, customer


def service_field() -> Any:
    """The ``service`` argument: which of the business's services the caller wants."""
    return Field(default=None, max_length=200, description="What the appointment is for, if said.")


def chosen_event_type(context: ToolContext, spoken: str | None) -> int | ToolResult:
    """The Cal.com event type of the service the caller names, or the ``invalid`` answer on
    field ``service`` naming the services on offer.

    A call's own ``booking_event_type_id`` (one of its business's) wins over what is said;
    without a businesses file the one configured event type takes any service, as before.
    """
    business = context.business
    if context.event_type_id is not None or business is None or business.implicit:
        return context.event_type
    choice = business.service(spoken)
    if isinstance(choice, ServiceRefusal):
        return refused_service(choice, context)
    return choice.service.event_type_id


def refused_service(refusal: ServiceRefusal, context: ToolContext) -> ToolResult:
    """``invalid`` on field ``service``, the message naming the services on offer."""
    return ToolResult(
        status=ToolStatus.INVALID,
        message=refusal.message(context.language, context.zone),
        field=refusal.field,
    )


def reference_needed(context: ToolContext) -> ToolResult:
    """``invalid`` asking a caller without a trusted identity for reference and name."""
    return ToolResult(
        status=ToolStatus.INVALID,
        message=render("invalid.booking_reference", context.language, zone=context.zone),
        field="booking_reference",
    )


async def offered_slots(context: ToolContext) -> OfferedSlots | None:
    """Every start ``check_availability`` listed earlier in this call, or None if it was never
    asked. Read from the store, so it holds whichever replica served that question. A list
    that left starts out (``more_slots``) does not count as its days listed whole."""
    offered = await context.ledger.offered_starts(context.call.call_id)
    if not offered:
        return None
    return OfferedSlots.of(
        (o.start for o in offered if o.listed_whole),
        context.zone,
        in_part=(o.start for o in offered if not o.listed_whole),
    )


def owned_result(outcome: BookingOutcome, context: ToolContext) -> ToolResult:
    """Word the outcome of acting on a booking by uid; another customer's one is answered
    exactly like an unknown one (``not_found``, the same words), so it reveals nothing."""
    if outcome.status in (ToolStatus.CONFLICT, ToolStatus.NOT_FOUND):
        return status_result(ToolStatus.NOT_FOUND, context)
    return outcome_result(outcome, context)
