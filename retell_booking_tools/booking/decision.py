"""The booking decision: booked, existing, conflict, unavailable or error. No HTTP here.

The rules, in order, all under a lock on (event type, start) shared by every replica:

1. The store says this customer already holds an upcoming appointment at that start, and
   Cal.com still has it (one GET; if Cal.com cannot be asked, the store is trusted):
   ``existing`` (or ``booked`` when this very call made it), linked as ``duplicate_attempt``
   with ``original_call_id`` and ``detected_at``. Cal.com is not asked to book again.
2. The store says another customer holds it: ``conflict`` with nearby alternatives,
   revealing nothing about the holder.
3. The call was shown the free starts of that day (``check_availability``) and this one was
   not among them: ``unavailable`` with the offered starts nearest to it, without asking
   Cal.com again (unless an appointment at that start was cancelled or moved since).
4. Otherwise Cal.com is asked. A 201 counts as ``booked`` only if this call created the
   booking (its metadata carries this call id, or it is new and unknown); a booking made
   earlier, or a uid we hold, is ``existing`` for the same customer and ``conflict`` for
   another. A refusal is followed by a look-up: this customer's booking at that start is
   ``existing``; none is ``unavailable`` with nearby alternatives.
5. After an ambiguous failure (timeout, reset, 5xx) the booking is looked up before any
   second attempt, so a retry never books twice; when nothing can be settled: ``error``.

Whose booking is whose: a Cal.com booking is the caller's only if its attendee matches the
caller's trusted identity (the phone placeholder or the stored identity email), or its
metadata names this very call. An email the caller said is the attendee email of the
booking made now, never a key to an earlier one. A caller without a trusted identity
(``trusted=False``) never hears about anyone's booking: a held start is ``unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import attrs

from retell_booking_tools.booking.attendees import attendee_emails
from retell_booking_tools.booking.availability import OfferedSlots, SlotReads
from retell_booking_tools.booking.records import (
    CALL_ID_METADATA_KEY,
    BookingOutcome,
    BookingPolicy,
    Records,
    booking_status,
    error_outcome,
    log_unknown_refusal,
    unavailable,
)
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import (
    CalcomBookerLimitReached,
    CalcomError,
    CalcomNotFound,
    CalcomSlotUnavailable,
    CalcomUnavailable,
    CalcomValidationError,
)
from retell_booking_tools.calcom.models import Booking, CreateBooking, NewAttendee
from retell_booking_tools.calcom.refusals import Refusal
from retell_booking_tools.clock import Clock
from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    Customer,
    Relationship,
    ToolStatus,
)
from retell_booking_tools.repository.protocol import AppointmentStore

logger = logging.getLogger(__name__)


@attrs.frozen
class BookingRequest:
    """One caller asking one call for one start."""

    call_id: str
    customer: Customer
    start: datetime
    customer_name: str
    email: str | None = attrs.field(default=None, repr=False)
    language: str | None = None
    notes: str | None = attrs.field(default=None, repr=False)
    resumed: bool = False
    """An earlier delivery of this call never finished: a booking may already exist."""
    event_type_id: int | None = None
    """Overrides the policy's event type for this call (per-agent configuration)."""
    timezone: str | None = None
    """Overrides the policy's business time zone for this call."""
    offered: OfferedSlots | None = None
    """Free starts this call was shown earlier (``check_availability``)."""
    trusted: bool = True
    """False when ``customer`` is this call's alone: no trusted identity stands behind it."""
    contact_phone: str | None = attrs.field(default=None, repr=False)
    """A phone the caller said for this booking only."""


@attrs.frozen
class _Detection:
    """Where a duplicate was noticed, recorded in the link metadata."""

    source: str


class BookingService:
    """Books on Cal.com and keeps the store and the call links honest."""

    def __init__(
        self,
        *,
        calcom: CalcomClient,
        store: AppointmentStore,
        records: Records,
        slots: SlotReads,
        policy: BookingPolicy,
        clock: Clock,
    ) -> None:
        """Built by :class:`~retell_booking_tools.booking.core.BookingCore`."""
        self._calcom = calcom
        self._repository = store
        self._records = records
        self._slots = slots
        self._policy = policy
        self._clock = clock

    async def book(self, request: BookingRequest) -> BookingOutcome:
        """Decide and act for one booking request; see the module docstring for the rules."""
        start = request.start.astimezone(UTC)
        request = attrs.evolve(
            request,
            start=start,
            event_type_id=request.event_type_id or self._policy.event_type_id,
            timezone=request.timezone or self._policy.timezone,
        )
        lock_name = f"slot:{request.event_type_id}:{start.isoformat()}"
        async with self._repository.lock(lock_name):
            outcome = await self._book_locked(request)
        if outcome.status is ToolStatus.BOOKED and outcome.appointment is not None:
            booked = outcome.appointment
            await self._slots.booked(booked.start, booked.end, booked.event_type_id)
        elif outcome.status in (ToolStatus.UNAVAILABLE, ToolStatus.ERROR):
            # Refused, or perhaps booked: the day's free slots are no longer known.
            await self._slots.touched(start, request.event_type_id)
        return outcome

    async def confirm_existing(
        self, *, call_id: str, customer: Customer, booking_uid: str
    ) -> BookingOutcome:
        """The caller keeps an appointment they already hold: link the call as ``confirmation``."""
        appointment = await self._repository.get_appointment_by_uid(booking_uid)
        if appointment is None:
            return BookingOutcome(ToolStatus.NOT_FOUND)
        if appointment.customer_id != customer.id:
            return BookingOutcome(ToolStatus.CONFLICT)
        if not appointment.is_upcoming(self._clock()):
            return BookingOutcome(ToolStatus.NOT_FOUND)
        await self._records.link(
            call_id,
            appointment,
            Relationship.CONFIRMATION,
            {"confirmed_at": self._clock().isoformat()},
        )
        return BookingOutcome(ToolStatus.CONFIRMED, appointment)

    async def _book_locked(self, request: BookingRequest) -> BookingOutcome:
        now = self._clock()
        held = await self._repository.appointments_at(
            event_type_id=_event_type(request), start=request.start
        )
        for appointment in held:
            if (
                appointment.customer_id == request.customer.id
                and appointment.is_upcoming(now)
                and await self.still_booked(appointment)
            ):
                return await self._already_held(request, appointment, _Detection("store"))
        if any(
            a.customer_id != request.customer.id and a.status.holds_slot and a.end > now
            for a in held
        ):
            return await self._taken(request)
        offered = request.offered
        if (
            offered is not None
            and not request.resumed
            and offered.covers(request.start)
            and not offered.offers(request.start)
            and not any(not a.status.holds_slot for a in held)
        ):
            return await self._unavailable(request)

        if request.resumed:
            return await self._look_up_then(request, lambda: self._create(request, attempts_left=2))
        return await self._create(request, attempts_left=2)

    async def still_booked(self, appointment: Appointment) -> bool:
        """Check with Cal.com that a stored appointment still stands; record it if not.

        Cal.com may have cancelled or moved it without telling us. When Cal.com cannot be
        asked, the store is trusted: saying "you already have it" is then still our best
        knowledge, and nothing is booked twice.
        """
        try:
            booking = await self._calcom.get_booking(appointment.booking_uid)
        except CalcomNotFound:
            booking = None
        except CalcomError as exc:
            logger.warning("could not re-check a stored appointment: %s", exc.kind)
            return True
        if booking is not None and booking.is_active and booking.start == appointment.start:
            return True
        await self._records.advance(appointment, booking_status(booking))
        return False

    async def _create(self, request: BookingRequest, *, attempts_left: int) -> BookingOutcome:
        sent_at = self._clock()
        try:
            booking = await self._calcom.create_booking(self._create_body(request))
        except CalcomSlotUnavailable as exc:
            return await self._refused(request, exc.refusal)
        except CalcomBookerLimitReached as exc:
            return await self._limit_reached(request, exc)
        except CalcomValidationError as exc:
            log_unknown_refusal(exc, request.call_id)
            return error_outcome(exc)
        except CalcomUnavailable as exc:
            if not exc.ambiguous:
                return error_outcome(exc)
            logger.warning(
                "Cal.com create failed ambiguously (%s); looking the booking up before retrying",
                exc.kind,
                extra={"call_id": request.call_id},
            )

            failure = exc

            async def retry_or_fail() -> BookingOutcome:
                if attempts_left > 1:
                    return await self._create(request, attempts_left=attempts_left - 1)
                return error_outcome(failure)

            return await self._look_up_then(request, retry_or_fail)
        except CalcomError as exc:
            return error_outcome(exc)
        return await self._adopt(request, booking, sent_at=sent_at)

    async def _look_up_then(
        self, request: BookingRequest, otherwise: Callable[[], Awaitable[BookingOutcome]]
    ) -> BookingOutcome:
        """Adopt the caller's Cal.com booking at that start if there is one, else ``otherwise``."""
        try:
            found = await self._find_upstream(request)
        except CalcomError as exc:
            return error_outcome(exc)
        if found is not None:
            return await self._adopt(request, found, sent_at=None)
        return await otherwise()

    async def _refused(self, request: BookingRequest, refusal: Refusal) -> BookingOutcome:
        """Cal.com refused the start (a refusal of the table in :mod:`calcom.refusals`): the
        caller may hold it already (ordinary event types refuse a repeat with 400, and a
        booking made earlier may now lie inside the notice) or it is not to be had.

        The look-up and the alternatives go out together, so a taken slot costs the caller
        one round trip less; a found booking drops the alternatives. Alternatives come
        from slots, which leave out the notice period and what lies past the window.
        """
        # What was read of this day is wrong at least about this start.
        await self._slots.touched(request.start, _event_type(request))
        alternatives = asyncio.ensure_future(self._alternatives(request))
        try:
            found = await self._find_upstream(request)
        except CalcomError as exc:
            alternatives.cancel()
            return error_outcome(exc)
        except BaseException:
            alternatives.cancel()
            raise
        if found is not None:
            alternatives.cancel()
            return await self._adopt(request, found, sent_at=None)
        return unavailable(refusal, request.start, await alternatives)

    async def _limit_reached(
        self, request: BookingRequest, exc: CalcomBookerLimitReached
    ) -> BookingOutcome:
        """The caller holds as many appointments as the event type allows: unless this very
        start is one of them (then ``existing``), say so, naming the one Cal.com offers to
        move (or the caller's next one of this service) when the store holds it as theirs."""
        try:
            found = await self._find_upstream(request)
        except CalcomError as lookup:
            return error_outcome(lookup)
        if found is not None:
            return await self._adopt(request, found, sent_at=None)
        now = self._clock()
        named = (
            await self._repository.get_appointment_by_uid(exc.reschedule_uid)
            if exc.reschedule_uid
            else None
        )
        held = [
            a
            for a in await self._repository.appointments_for_customer(request.customer.id)
            if a.is_upcoming(now) and a.event_type_id == _event_type(request)
        ]
        movable = named if named in held else min(held, key=lambda a: a.start, default=None)
        return BookingOutcome(
            ToolStatus.LIMIT_REACHED,
            movable,
            variant="appointment" if movable is not None else None,
        )

    async def _taken(self, request: BookingRequest) -> BookingOutcome:
        """Someone else holds the start: ``conflict`` (``unavailable`` for a caller without a
        trusted identity, who must not learn that anyone booked it), with alternatives."""
        status = ToolStatus.CONFLICT if request.trusted else ToolStatus.UNAVAILABLE
        return BookingOutcome(status, alternatives=await self._alternatives(request))

    async def _unavailable(self, request: BookingRequest) -> BookingOutcome:
        return BookingOutcome(
            ToolStatus.UNAVAILABLE, alternatives=await self._alternatives(request)
        )

    async def _adopt(
        self, request: BookingRequest, booking: Booking, *, sent_at: datetime | None
    ) -> BookingOutcome:
        """Judge a booking Cal.com gave us: made by this call, already held, or someone else's."""
        if not self._is_callers(request, booking):
            # Not the caller's booking unless the store already holds it as theirs.
            stored = await self._repository.get_appointment_by_uid(booking.uid)
            if stored is None or stored.customer_id != request.customer.id:
                logger.warning(
                    "Cal.com returned a booking for another attendee",
                    extra={"call_id": request.call_id},
                )
                return await self._taken(request)
        # Storing is idempotent by uid, so it doubles as the look-up of a held booking.
        appointment, created = await self._records.store(
            self._records.appointment_of(
                booking,
                customer_id=request.customer.id,
                event_type_id=_event_type(request),
                timezone=request.timezone,
                attendee_name=request.customer_name,
                contact_email=request.email,
                contact_phone=request.contact_phone,
            )
        )
        stored = None if created else appointment
        if stored is not None and stored.customer_id != request.customer.id:
            logger.warning(
                "Cal.com returned a booking held by another customer",
                extra={"call_id": request.call_id},
            )
            return await self._taken(request)
        if self._made_by_this_call(request, booking, stored, sent_at):
            await self._link_original(request, appointment, booking)
            return _held(ToolStatus.BOOKED, appointment)
        source = "calcom_returned_existing" if sent_at is not None else "calcom_lookup"
        return await self._already_held(request, appointment, _Detection(source))

    async def _link_original(
        self, request: BookingRequest, appointment: Appointment, booking: Booking
    ) -> None:
        """Cal.com has booked it for this call: the caller hears ``booked`` whatever the
        store takes of the link (see :meth:`Records.link`)."""
        await self._records.link(
            request.call_id,
            appointment,
            Relationship.ORIGINAL,
            {"calcom_created_at": booking.created_at.astimezone(UTC).isoformat()},
            minimal={},
        )

    async def _made_here_unlinked(
        self, request: BookingRequest, appointment: Appointment
    ) -> Booking | None:
        """The Cal.com booking of a stored appointment no call is linked to as its original,
        if this very call made it (its metadata says so): its link was refused earlier.
        A moved booking inherits the metadata of the one it replaced, so it never counts."""
        if appointment.rescheduled_from_uid is not None:
            return None
        try:
            booking = await self._calcom.get_booking(appointment.booking_uid)
        except CalcomError as exc:
            logger.warning("could not ask Cal.com who made a stored booking: %s", exc.kind)
            return None
        if booking.metadata.get(CALL_ID_METADATA_KEY) != request.call_id:
            return None
        return booking

    def _made_by_this_call(
        self,
        request: BookingRequest,
        booking: Booking,
        stored: Appointment | None,
        sent_at: datetime | None,
    ) -> bool:
        maker = booking.metadata.get(CALL_ID_METADATA_KEY)
        if maker is not None:
            return maker == request.call_id
        if stored is not None or sent_at is None:
            return False
        return booking.created_at >= sent_at - self._policy.created_by_us_skew

    async def _already_held(
        self, request: BookingRequest, appointment: Appointment, detection: _Detection
    ) -> BookingOutcome:
        """The caller holds this appointment already; link this call to it, say so."""
        links = await self._repository.links_for_appointment(appointment.id)
        originals = [link.call_id for link in links if link.relationship is Relationship.ORIGINAL]
        if request.call_id in originals:
            return _held(ToolStatus.BOOKED, appointment)
        if not originals and detection.source == "store":
            made = await self._made_here_unlinked(request, appointment)
            if made is not None:
                await self._link_original(request, appointment, made)
                return _held(ToolStatus.BOOKED, appointment)
        await self._records.link(
            request.call_id,
            appointment,
            Relationship.DUPLICATE_ATTEMPT,
            {
                "original_call_id": originals[0] if originals else None,
                "detected_at": self._clock().isoformat(),
                "detected_by": detection.source,
            },
        )
        return _held(ToolStatus.EXISTING, appointment)

    async def _find_upstream(self, request: BookingRequest) -> Booking | None:
        """This customer's active Cal.com booking at the requested start, if any.

        One request for the event type's bookings around that start, matched against every
        address a booking of this call may carry (the spoken one and the legacy ``tel-`` form
        included), so recognising old bookings costs no extra request; but only a booking of
        the trusted identity or of this very call counts. A booking this very call made (by
        metadata) wins over one made earlier.
        """
        emails = self._emails(request)
        bookings = await self._calcom.list_bookings(
            event_type_id=_event_type(request),
            after_start=request.start - timedelta(minutes=1),
            before_end=request.start + timedelta(days=1),
        )
        matches = [
            b
            for b in bookings
            if b.is_active
            and b.start == request.start
            and any(b.has_attendee(email) for email in emails)
            and self._is_callers(request, b)
        ]
        if not matches:
            return None
        matches.sort(key=lambda b: b.metadata.get(CALL_ID_METADATA_KEY) != request.call_id)
        return matches[0]

    async def _alternatives(self, request: BookingRequest) -> tuple[datetime, ...]:
        """Free starts nearest the one asked for (see :meth:`Records.alternatives`)."""
        return await self._records.alternatives(
            request.start,
            event_type_id=_event_type(request),
            timezone=request.timezone or self._policy.timezone,
            offered=request.offered,
        )

    def _emails(self, request: BookingRequest) -> tuple[str, ...]:
        """The addresses to book with (the first) and to look this call's bookings up by."""
        return attendee_emails(
            self._contact(request), given=request.email, domain=self._policy.attendee_email_domain
        )

    def _trusted_emails(self, request: BookingRequest) -> tuple[str, ...]:
        """The addresses of the caller's trusted identity; none for a caller without one."""
        if not request.trusted:
            return ()
        return attendee_emails(
            request.customer, given=None, domain=self._policy.attendee_email_domain
        )

    def _is_callers(self, request: BookingRequest, booking: Booking) -> bool:
        """Whether a Cal.com booking is this caller's: made by this call, or booked under
        the trusted identity. A spoken email never makes a booking anyone's."""
        if booking.metadata.get(CALL_ID_METADATA_KEY) == request.call_id:
            return True
        return any(booking.has_attendee(email) for email in self._trusted_emails(request))

    @staticmethod
    def _contact(request: BookingRequest) -> Customer:
        """The customer as the booking's attendee: a phone said for it replaces none."""
        if request.contact_phone and not request.customer.phone:
            return attrs.evolve(request.customer, phone=request.contact_phone)
        return request.customer

    def _create_body(self, request: BookingRequest) -> CreateBooking:
        return CreateBooking(
            start=request.start,
            event_type_id=_event_type(request),
            attendee=NewAttendee(
                name=request.customer_name,
                email=self._emails(request)[0],
                time_zone=request.timezone or self._policy.timezone,
                phone_number=request.contact_phone or request.customer.phone,
                language=request.language,
            ),
            metadata={CALL_ID_METADATA_KEY: request.call_id},
            booking_fields_responses={"notes": request.notes} if request.notes else None,
        )


def _event_type(request: BookingRequest) -> int:
    assert request.event_type_id is not None, "book() fills in the policy's event type"
    return request.event_type_id


def _held(status: ToolStatus, appointment: Appointment) -> BookingOutcome:
    """``booked`` / ``existing``, worded as a request the host still has to confirm when
    Cal.com holds the booking as pending."""
    pending = appointment.status is AppointmentStatus.PENDING
    return BookingOutcome(status, appointment, variant="pending" if pending else None)
