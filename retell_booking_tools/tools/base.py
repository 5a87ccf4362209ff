"""What every tool shares: its context, the result shape and who the caller is.

Who the caller is comes from the call alone (:func:`caller_identity`): the network number
or the backend's identity fields. What the caller says (a phone, an email, a name) is
contact data of one booking, or, with a booking reference, a claim to one appointment
that is checked and rate-limited (:func:`reference_owner`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

import attrs
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retell_booking_tools.booking.availability import AvailabilityService, OfferedSlots
from retell_booking_tools.booking.decision import BookingOutcome, BookingService
from retell_booking_tools.booking.identity import (
    CONTACT_NEEDED,
    TrustedIdentity,
    clean_text,
    names_match,
    network_phone,
    normalize_email,
    normalize_phone,
    parse_booking_reference,
    spoken_reference,
    trusted_identity,
)
from retell_booking_tools.booking.lifecycle import AppointmentLifecycle
from retell_booking_tools.config import Language
from retell_booking_tools.domain import (
    READ_ONLY_TOOLS,
    Appointment,
    AppointmentStatus,
    Customer,
    ResultFacts,
    ToolStatus,
    call_key,
    phone_key,
)
from retell_booking_tools.errors import InvalidArguments
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


MAX_REFERENCE_MISSES = 3
"""Wrong booking references a call (or a number, within a day) may say before it is refused."""

MAX_NUMBERLESS_MISSES = 20
"""Wrong booking references all calls without a number to one agent may say within a day."""

REFERENCE_MISS_WINDOW = timedelta(days=1)


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


def caller_identity(context: ToolContext) -> TrustedIdentity | None:
    """Who the call is from, as Retell vouches: never anything the caller said."""
    call = context.call
    return trusted_identity(
        number=call.customer_number,
        metadata=call.metadata,
        dynamic_variables=call.retell_llm_dynamic_variables,
        region=context.phone_region,
    )


async def trusted_customer(context: ToolContext, *, name: str = "") -> Customer | None:
    """The caller's customer record, or None when the call carries no trusted identity.

    The customer is recorded as the call's. A phone is stored on the customer only when it
    is the identity itself (a number cannot be two customers' identity).
    """
    identity = caller_identity(context)
    if identity is None:
        return None
    phone = identity.phone
    if phone is not None and identity.key != phone_key(phone):
        phone = None
    return await context.repository.upsert_customer(
        name=name,
        phone=phone,
        email=identity.email,
        key=identity.key,
        call_id=context.call.call_id,
    )


async def known_customer(context: ToolContext) -> Customer | None:
    """The trusted identity's stored customer, read only (None if new or without identity)."""
    identity = caller_identity(context)
    if identity is None:
        return None
    return await context.repository.find_customer(phone=None, email=None, key=identity.key)


@attrs.frozen
class Booker:
    """The caller about to book: their customer, and the contact they gave for this booking."""

    customer: Customer
    trusted: bool
    """False: the customer is this call's alone (no trusted identity behind it)."""
    contact_email: str | None = attrs.field(default=None, repr=False)
    contact_phone: str | None = attrs.field(default=None, repr=False)


async def booking_customer(
    context: ToolContext, *, name: str, phone: str | None, email: str | None
) -> Booker:
    """The customer a booking is made for, and the contact data said for it.

    With a trusted identity, that identity's customer. Without one, a customer of this call
    alone, and only if the caller gave a phone or an email (InvalidArguments ``phone`` with
    :data:`CONTACT_NEEDED` otherwise). A spoken phone is checked strictly.
    """
    contact_email = normalize_email(email) if email else None
    contact_phone = normalize_phone(phone, region=context.phone_region) if phone else None
    customer = await trusted_customer(context, name=name)
    if customer is not None:
        return Booker(customer, True, contact_email, contact_phone)
    if contact_email is None and contact_phone is None:
        raise InvalidArguments("phone", CONTACT_NEEDED)
    customer = await context.repository.upsert_customer(
        name=name,
        phone=None,
        email=None,
        key=call_key(context.call.call_id),
        call_id=context.call.call_id,
    )
    return Booker(customer, False, contact_email, contact_phone)


async def own_customer(context: ToolContext) -> Customer | None:
    """The trusted identity's customer, else the customer this very call booked as (a
    caller without a trusted identity acts on what they booked in this call), else None."""
    customer = await trusted_customer(context)
    if customer is not None:
        return customer
    call = await context.repository.get_call(context.call.call_id)
    if call is None or call.customer_id is None:
        return None
    booked_as = await context.repository.get_customer(call.customer_id)
    if booked_as is not None and booked_as.identity_key == call_key(context.call.call_id):
        return booked_as
    return None


def network_number(context: ToolContext) -> str | None:
    """The call's network number in E.164, if it has a usable one (for rate limits)."""
    return network_phone(context.call.customer_number, region=context.phone_region)


async def reference_owner(
    context: ToolContext, *, reference: str, name: str | None
) -> tuple[Appointment, Customer] | ToolResult:
    """The appointment a booking reference names and the customer to act as, or the answer.

    The caller's own appointment needs no name; anyone else's needs the name on the booking
    (compared leniently; the reference exactly). Without a name the answer asks for it,
    whether or not the reference exists, so a reference alone reveals nothing. Every wrong
    reference or name is a miss: after :data:`MAX_REFERENCE_MISSES` in this call, or from
    this number within a day, or :data:`MAX_NUMBERLESS_MISSES` of all calls without a number
    to this agent within a day, the answer is ``invalid`` asking them to call from the
    number they booked with. Checking and recording a miss happen under the lock of the
    call's scope (:func:`miss_scope`), which every delivery of this call and every call of
    that number (or agent) shares, so concurrent guesses cannot pass either limit. One lock,
    never two nested: a look-up holds at most one lock connection.
    """
    scope = miss_scope(context)
    repository = context.repository
    async with repository.lock(f"reference-misses:{scope}"):
        if await _reference_locked(context, scope):
            return _too_many_misses(context)
        owned = await _claimed_appointment(context, reference=reference, name=name)
        if owned is not None:
            return owned
        await repository.record_reference_miss(
            call_id=context.call.call_id, number=scope, at=context.now
        )
        if await _reference_locked(context, scope):
            return _too_many_misses(context)
    return status_result(ToolStatus.NOT_FOUND, context, variant="reference")


async def _claimed_appointment(
    context: ToolContext, *, reference: str, name: str | None
) -> tuple[Appointment, Customer] | ToolResult | None:
    """The appointment and owner the reference (and name) prove, the answer asking again for
    a missing or unreadable name, or None for a miss."""
    repository = context.repository
    code = parse_booking_reference(reference)
    appointment = await repository.get_appointment_by_reference(code) if code else None
    owner = await repository.get_customer(appointment.customer_id) if appointment else None
    if appointment is not None and owner is not None:
        own = await own_customer(context)
        if own is not None and own.id == owner.id:
            return appointment, owner
    if not name:
        return invalid_result(InvalidArguments("customer_name", "name on the booking"), context)
    try:
        said = clean_text(name, field="customer_name")
    except InvalidArguments as error:
        return invalid_result(error, context)
    booked_name = (appointment.attendee_name or owner.name) if appointment and owner else ""
    if appointment is not None and owner is not None and names_match(said, booked_name):
        return appointment, owner
    return None


def miss_scope(context: ToolContext) -> str:
    """Whose wrong references a miss counts against besides the call's: the network number
    (E.164), or for a call without one ``agent:<agent_id>``, shared by every such call."""
    number = network_number(context)
    if number is not None:
        return number
    return f"agent:{context.call.agent_id or ''}"


async def _reference_locked(context: ToolContext, scope: str) -> bool:
    since = context.now - REFERENCE_MISS_WINDOW
    repository = context.repository
    in_call = await repository.reference_misses(since=since, call_id=context.call.call_id)
    if in_call >= MAX_REFERENCE_MISSES:
        return True
    limit = MAX_NUMBERLESS_MISSES if scope.startswith("agent:") else MAX_REFERENCE_MISSES
    return await repository.reference_misses(since=since, number=scope) >= limit


def _too_many_misses(context: ToolContext) -> ToolResult:
    return ToolResult(
        status=ToolStatus.INVALID,
        message=render("invalid.reference_locked", context.language, zone=context.zone),
        field="booking_reference",
    )


class NamesAnAppointment(Protocol):
    """Arguments of a tool that acts on one appointment: by uid, or by reference and name."""

    @property
    def booking_uid(self) -> str | None: ...

    @property
    def booking_reference(self) -> str | None: ...

    @property
    def customer_name(self) -> str | None: ...


async def acting_customer(
    context: ToolContext, args: NamesAnAppointment
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
    customer = await own_customer(context)
    if customer is None:
        return reference_needed(context)
    if not booking_uid:
        return invalid_result(InvalidArguments("booking_uid", "missing"), context)
    return booking_uid, customer


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
    offered = await context.repository.offered_starts(context.call.call_id)
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
