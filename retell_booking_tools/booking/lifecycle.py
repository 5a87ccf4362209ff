"""Looking up, moving and cancelling a caller's appointments. No HTTP here.

Rules every operation follows:

- Ownership comes from the store: a booking uid we do not hold is ``not_found``; one held
  by another customer is ``conflict``, and nothing about it is revealed or touched.
- A change runs under a lock on the booking uid shared by every replica, so a concurrent
  reschedule, cancellation or Cal.com webhook of the same appointment waits its turn.
- Statuses only move forward (:attr:`AppointmentStatus.rank`): nothing revives a cancelled
  or rescheduled-away appointment.
- After an ambiguous failure, and on a delivery that resumes an unfinished one, the booking
  is read back from Cal.com before anything is claimed; when that is not possible: ``error``.
- The call is linked to what it changed: ``reschedule`` to the old and the new appointment,
  ``cancellation`` to the cancelled one. Looking appointments up changes nothing and links
  nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import attrs

from retell_booking_tools.booking.availability import OfferedSlots, SlotReads
from retell_booking_tools.booking.records import (
    BookingOutcome,
    BookingPolicy,
    Records,
    booking_status,
    error_outcome,
    log_unknown_refusal,
    storable,
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
from retell_booking_tools.calcom.models import Booking
from retell_booking_tools.calcom.refusals import Refusal
from retell_booking_tools.clock import Clock
from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    Customer,
    Relationship,
    ToolStatus,
)
from retell_booking_tools.errors import RepositoryError, SameStart
from retell_booking_tools.repository.protocol import AppointmentStore

logger = logging.getLogger(__name__)

MAX_RESCHEDULE_HOPS = 5
"""How many successive reschedules a look-up follows before giving up."""


@attrs.frozen
class RescheduleRequest:
    """One caller asking one call to move one of their appointments to ``start``."""

    call_id: str
    customer: Customer
    booking_uid: str
    start: datetime
    resumed: bool = False
    offered: OfferedSlots | None = None
    timezone: str | None = None
    """The call's business time zone, for alternatives."""


@attrs.frozen
class CancelRequest:
    """One caller asking one call to cancel one of their appointments."""

    call_id: str
    customer: Customer
    booking_uid: str
    reason: str | None = attrs.field(default=None, repr=False)
    resumed: bool = False


class AppointmentLifecycle:
    """Finds, reschedules and cancels on Cal.com and keeps the store and links honest."""

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

    # -- find ------------------------------------------------------------------------------

    async def find(self, customer: Customer) -> BookingOutcome:
        """The customer's upcoming appointments, each re-checked with Cal.com.

        One moved in Cal.com is followed to its new booking; one cancelled there is
        recorded and left out. If Cal.com cannot be asked: ``error``, nothing listed.
        """
        now = self._clock()
        stored = await self._repository.appointments_for_customer(customer.id)
        found: dict[str, Appointment] = {}
        for appointment in (a for a in stored if a.is_upcoming(now)):
            try:
                current = await self._follow(appointment)
            except CalcomError as exc:
                return error_outcome(exc)
            if current is not None and current.is_upcoming(now):
                found[current.booking_uid] = current
        if not found:
            return BookingOutcome(ToolStatus.NONE)
        upcoming = tuple(sorted(found.values(), key=lambda a: (a.start, a.id)))
        return BookingOutcome(ToolStatus.FOUND, upcoming[0], appointments=upcoming)

    async def find_one(self, appointment: Appointment) -> BookingOutcome:
        """One appointment (named by its booking reference), re-checked like :meth:`find`."""
        now = self._clock()
        current = None
        if appointment.is_upcoming(now):
            try:
                current = await self._follow(appointment)
            except CalcomError as exc:
                return error_outcome(exc)
        if current is None or not current.is_upcoming(now):
            return BookingOutcome(ToolStatus.NONE)
        return BookingOutcome(ToolStatus.FOUND, current, appointments=(current,))

    async def _follow(self, appointment: Appointment) -> Appointment | None:
        """Where Cal.com says this appointment stands now: itself, its successor or gone."""
        owner = appointment.customer_id
        for _ in range(MAX_RESCHEDULE_HOPS):
            try:
                booking = await self._calcom.get_booking(appointment.booking_uid)
            except CalcomNotFound:
                await self._advance(appointment, AppointmentStatus.CANCELLED)
                return None
            if booking.is_active:
                return appointment
            if booking.rescheduled_to_uid is None:
                await self._advance(appointment, booking_status(booking))
                return None
            await self._advance(appointment, AppointmentStatus.RESCHEDULED)
            successor = await self._calcom.get_booking(booking.rescheduled_to_uid)
            appointment = await self._store_successor(appointment, successor)
            if appointment.customer_id != owner:
                return None
        return None

    # -- reschedule ------------------------------------------------------------------------

    async def reschedule(self, request: RescheduleRequest) -> BookingOutcome:
        """Move the caller's appointment with Cal.com's reschedule: a new booking, new uid.

        Raises :class:`SameStart` when it already starts then. Statuses: ``rescheduled``
        (the new appointment and ``previous_booking_uid``), ``unavailable`` with
        alternatives, ``not_found``, ``conflict``, ``error``.
        """
        async with self._records.locked(request.booking_uid):
            outcome = await self._reschedule_locked(request)
        if outcome.status in (ToolStatus.RESCHEDULED, ToolStatus.UNAVAILABLE, ToolStatus.ERROR):
            await self._slots.touched(request.start.astimezone(UTC))
            if outcome.previous_booking_uid is not None:
                old = await self._repository.get_appointment_by_uid(outcome.previous_booking_uid)
                if old is not None:
                    await self._slots.touched(old.start, old.event_type_id)
        return outcome

    async def _reschedule_locked(self, request: RescheduleRequest) -> BookingOutcome:
        owned = await self._owned(request.customer, request.booking_uid)
        if isinstance(owned, BookingOutcome):
            return owned
        old = owned
        start = request.start.astimezone(UTC)
        if request.resumed:
            try:
                earlier = await self._earlier_reschedule(old, start)
            except CalcomError as exc:
                return error_outcome(exc)
            if earlier is not None:
                return await self._rescheduled(request, old, earlier)
        if not old.is_upcoming(self._clock()):
            return BookingOutcome(ToolStatus.NOT_FOUND)
        if start == old.start:
            raise SameStart
        offered = request.offered
        if offered is not None and offered.covers(start) and not offered.offers(start):
            return await self._unavailable(request, old, Refusal.SLOT_TAKEN)
        try:
            booking = await self._calcom.reschedule_booking(old.booking_uid, start)
        except CalcomSlotUnavailable as exc:
            return await self._unavailable(request, old, exc.refusal)
        except CalcomBookerLimitReached:
            return BookingOutcome(ToolStatus.LIMIT_REACHED, old, variant="appointment")
        except CalcomUnavailable as exc:
            if not exc.ambiguous:
                return error_outcome(exc)
            return await self._settle_reschedule(request, old, start, exc)
        except (CalcomNotFound, CalcomValidationError) as exc:
            refused = await self._refused(old, exc)
            if refused.status is ToolStatus.ERROR:
                log_unknown_refusal(exc, request.call_id)
            if refused.status is ToolStatus.ALREADY_CANCELLED:
                return BookingOutcome(ToolStatus.NOT_FOUND)
            return refused
        except CalcomError as exc:
            return error_outcome(exc)
        new = await self._store_successor(old, booking)
        return await self._rescheduled(request, old, new)

    async def _settle_reschedule(
        self, request: RescheduleRequest, old: Appointment, start: datetime, exc: CalcomError
    ) -> BookingOutcome:
        """The reschedule may have happened: read it back before saying anything."""
        logger.warning("Cal.com reschedule failed ambiguously (%s); reading it back", exc.kind)
        try:
            earlier = await self._earlier_reschedule(old, start)
        except CalcomError as lookup:
            return error_outcome(lookup)
        if earlier is None:
            return error_outcome(exc)
        return await self._rescheduled(request, old, earlier)

    async def _earlier_reschedule(self, old: Appointment, start: datetime) -> Appointment | None:
        """The successor an earlier, unfinished attempt made at ``start``, if there is one."""
        for candidate in await self._repository.appointments_for_customer(old.customer_id):
            if candidate.rescheduled_from_uid == old.booking_uid and candidate.start == start:
                return candidate
        try:
            booking = await self._calcom.get_booking(old.booking_uid)
        except CalcomNotFound:
            return None
        if booking.rescheduled_to_uid is None:
            return None
        successor = await self._calcom.get_booking(booking.rescheduled_to_uid)
        if successor.start.astimezone(UTC) != start:
            return None
        return await self._store_successor(old, successor)

    async def _rescheduled(
        self, request: RescheduleRequest, old: Appointment, new: Appointment
    ) -> BookingOutcome:
        """Cal.com has moved it: link both appointments as far as the store allows (what
        cannot be linked is left for ``doctor``), and say ``rescheduled`` either way."""
        now = self._clock().isoformat()
        await self._records.link(
            request.call_id,
            new,
            Relationship.RESCHEDULE,
            {"rescheduled_from_uid": old.booking_uid, "rescheduled_at": now},
            minimal={"rescheduled_at": now},
        )
        await self._records.link(
            request.call_id,
            old,
            Relationship.RESCHEDULE,
            {"rescheduled_to_uid": new.booking_uid, "rescheduled_at": now},
            minimal={"rescheduled_at": now},
        )
        try:
            await self._advance(old, AppointmentStatus.RESCHEDULED)
        except RepositoryError as exc:
            logger.warning("rescheduled in Cal.com but not in the store (%s)", exc)
        return BookingOutcome(ToolStatus.RESCHEDULED, new, previous_booking_uid=old.booking_uid)

    async def _store_successor(self, old: Appointment, booking: Booking) -> Appointment:
        """Record the booking that replaced ``old``; it belongs to the same customer."""
        new, _ = await self._records.store(
            self._records.appointment_of(
                booking,
                customer_id=old.customer_id,
                event_type_id=booking.event_type_id or old.event_type_id,
                timezone=old.timezone,
                rescheduled_from_uid=old.booking_uid,
                attendee_name=old.attendee_name,
                contact_email=old.contact_email,
                contact_phone=old.contact_phone,
            )
        )
        return new

    async def _unavailable(
        self, request: RescheduleRequest, old: Appointment, refusal: Refusal
    ) -> BookingOutcome:
        """The same refusal table as booking: ``unavailable`` with the nearest free starts,
        from what the call was offered or one slots read (see :meth:`Records.alternatives`)."""
        start = request.start.astimezone(UTC)
        alternatives = await self._records.alternatives(
            start,
            event_type_id=old.event_type_id,
            timezone=request.timezone or old.timezone,
            offered=request.offered,
        )
        return unavailable(refusal, start, alternatives)

    # -- cancel ----------------------------------------------------------------------------

    async def cancel(self, request: CancelRequest) -> BookingOutcome:
        """Cancel the caller's appointment on Cal.com. Statuses: ``cancelled``,
        ``already_cancelled``, ``not_found``, ``conflict``, ``error``."""
        async with self._records.locked(request.booking_uid):
            outcome = await self._cancel_locked(request)
        if outcome.appointment is not None:
            await self._slots.touched(outcome.appointment.start, outcome.appointment.event_type_id)
        return outcome

    async def _cancel_locked(self, request: CancelRequest) -> BookingOutcome:
        owned = await self._owned(request.customer, request.booking_uid)
        if isinstance(owned, BookingOutcome):
            return owned
        appointment = owned
        if request.resumed:
            try:
                booking: Booking | None = await self._calcom.get_booking(appointment.booking_uid)
            except CalcomNotFound:
                booking = None
            except CalcomError as exc:
                return error_outcome(exc)
            if booking is not None and _withdrawn(booking):
                return await self._cancelled(request, appointment)
        if appointment.status is AppointmentStatus.CANCELLED:
            return await self._already_cancelled(request, appointment)
        if not appointment.is_upcoming(self._clock()):
            return BookingOutcome(ToolStatus.NOT_FOUND)
        try:
            await self._calcom.cancel_booking(appointment.booking_uid, request.reason)
        except CalcomUnavailable as exc:
            if not exc.ambiguous:
                return error_outcome(exc)
            return await self._settle_cancel(request, appointment, exc)
        except (CalcomNotFound, CalcomValidationError) as exc:
            return await self._cancel_refused(request, appointment, exc)
        except CalcomError as exc:
            return error_outcome(exc)
        return await self._cancelled(request, appointment)

    async def _settle_cancel(
        self, request: CancelRequest, appointment: Appointment, exc: CalcomError
    ) -> BookingOutcome:
        """The cancellation may have happened: read it back before saying anything."""
        logger.warning("Cal.com cancel failed ambiguously (%s); reading it back", exc.kind)
        try:
            booking = await self._calcom.get_booking(appointment.booking_uid)
        except CalcomError as lookup:
            return error_outcome(lookup)
        if _withdrawn(booking):
            return await self._cancelled(request, appointment)
        return error_outcome(exc)

    async def _cancel_refused(
        self, request: CancelRequest, appointment: Appointment, exc: CalcomError
    ) -> BookingOutcome:
        """Cal.com would not cancel: most likely it was cancelled or moved there already."""
        outcome = await self._refused(appointment, exc)
        if outcome.status is ToolStatus.ALREADY_CANCELLED:
            return await self._already_cancelled(request, appointment)
        return outcome

    async def _cancelled(self, request: CancelRequest, appointment: Appointment) -> BookingOutcome:
        """Cal.com has cancelled it: record that as far as the store allows, and say so.

        The reason is made storable first (no NUL, no lone surrogates); a link the store
        still refuses is recorded without it, and what cannot be recorded at all is left
        for ``doctor`` to find. The caller hears ``cancelled`` either way.
        """
        cancelled_at = self._clock().isoformat()
        metadata: dict[str, Any] = {"cancelled_at": cancelled_at}
        if request.reason:
            metadata["reason"] = storable(request.reason)
        await self._records.link(
            request.call_id,
            appointment,
            Relationship.CANCELLATION,
            metadata,
            minimal={"cancelled_at": cancelled_at},
        )
        try:
            cancelled = await self._advance(appointment, AppointmentStatus.CANCELLED)
        except RepositoryError as exc:
            logger.warning("cancelled in Cal.com but not in the store (%s)", exc)
            cancelled = attrs.evolve(appointment, status=AppointmentStatus.CANCELLED)
        return BookingOutcome(ToolStatus.CANCELLED, cancelled)

    async def _already_cancelled(
        self, request: CancelRequest, appointment: Appointment
    ) -> BookingOutcome:
        await self._records.link(
            request.call_id,
            appointment,
            Relationship.CANCELLATION,
            {"already_cancelled": True, "detected_at": self._clock().isoformat()},
        )
        return BookingOutcome(ToolStatus.ALREADY_CANCELLED, appointment)

    # -- shared ----------------------------------------------------------------------------

    async def _owned(self, customer: Customer, booking_uid: str) -> Appointment | BookingOutcome:
        appointment = await self._repository.get_appointment_by_uid(booking_uid)
        if appointment is None:
            return BookingOutcome(ToolStatus.NOT_FOUND)
        if appointment.customer_id != customer.id:
            logger.warning("a caller named a booking held by another customer")
            return BookingOutcome(ToolStatus.CONFLICT)
        return appointment

    async def _refused(self, appointment: Appointment, exc: CalcomError) -> BookingOutcome:
        """Cal.com refused a change: learn why from the booking itself and record it.

        ``already_cancelled`` if it was cancelled there, ``not_found`` if it was moved or
        is unknown, ``error`` if it still stands (the refusal is then unexplained).
        """
        try:
            booking: Booking | None = await self._calcom.get_booking(appointment.booking_uid)
        except CalcomNotFound:
            booking = None
        except CalcomError as lookup:
            return error_outcome(lookup)
        if booking is None:
            await self._advance(appointment, AppointmentStatus.CANCELLED)
            return BookingOutcome(ToolStatus.NOT_FOUND)
        if booking.is_active:
            return error_outcome(exc)
        if booking.rescheduled_to_uid is not None:
            await self._advance(appointment, AppointmentStatus.RESCHEDULED)
            return BookingOutcome(ToolStatus.NOT_FOUND)
        cancelled = await self._advance(appointment, AppointmentStatus.CANCELLED)
        return BookingOutcome(ToolStatus.ALREADY_CANCELLED, cancelled)

    async def _advance(self, appointment: Appointment, status: AppointmentStatus) -> Appointment:
        """Move it forward (see :meth:`Records.advance`); the appointment as stored after."""
        moved, _ = await self._records.advance(appointment, status)
        return moved


def _withdrawn(booking: Booking) -> bool:
    """Cancelled on Cal.com, and not because it was moved."""
    return not booking.is_active and booking.rescheduled_to_uid is None
