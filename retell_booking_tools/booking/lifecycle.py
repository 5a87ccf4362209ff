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
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.booking.availability import OfferedSlots, nearest
from retell_booking_tools.booking.decision import (
    BookingOutcome,
    BookingService,
    error_variant,
    link_as_far_as_stored,
    log_unknown_refusal,
    refusal_variant,
    store_appointment,
    withdrawn_status,
)
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
from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    CallLink,
    Customer,
    NewAppointment,
    Relationship,
    ToolStatus,
)
from retell_booking_tools.errors import InvalidArguments, RepositoryError

logger = logging.getLogger(__name__)

MAX_RESCHEDULE_HOPS = 5
"""How many successive reschedules a look-up follows before giving up."""


class SameStart(InvalidArguments):
    """The appointment already starts at the time asked for: nothing to move."""

    def __init__(self) -> None:
        super().__init__("time", "the appointment already starts then")


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


def appointment_lock(booking_uid: str) -> str:
    """The lock name every change of one appointment holds (tools and webhooks alike)."""
    return f"appointment:{booking_uid}"


class AppointmentLifecycle:
    """Finds, reschedules and cancels on Cal.com and keeps the store and links honest."""

    def __init__(self, service: BookingService) -> None:
        self._calcom = service.calcom
        self._repository = service.repository
        self._policy = service.policy
        self._clock = service.clock
        self._slots = service.slots

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
                return _error(exc)
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
                return _error(exc)
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
                await self._advance(appointment, withdrawn_status(booking))
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
        async with self._repository.lock(appointment_lock(request.booking_uid)):
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
                return _error(exc)
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
                return _error(exc)
            return await self._settle_reschedule(request, old, start, exc)
        except (CalcomNotFound, CalcomValidationError) as exc:
            refused = await self._refused(old, exc)
            if refused.status is ToolStatus.ERROR:
                log_unknown_refusal(exc, request.call_id)
            if refused.status is ToolStatus.ALREADY_CANCELLED:
                return BookingOutcome(ToolStatus.NOT_FOUND)
            return refused
        except CalcomError as exc:
            return _error(exc)
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
            return _error(lookup)
        if earlier is None:
            return _error(exc)
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
        await self._record_link(
            request.call_id,
            new,
            Relationship.RESCHEDULE,
            {"rescheduled_from_uid": old.booking_uid, "rescheduled_at": now},
            minimal={"rescheduled_at": now},
        )
        await self._record_link(
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
        new, _ = await store_appointment(
            self._repository,
            NewAppointment(
                customer_id=old.customer_id,
                booking_uid=booking.uid,
                event_type_id=booking.event_type_id or old.event_type_id,
                start=booking.start.astimezone(UTC),
                end=booking.end.astimezone(UTC),
                timezone=old.timezone,
                status=appointment_status(booking.status),
                rescheduled_from_uid=old.booking_uid,
                attendee_name=old.attendee_name,
                contact_email=old.contact_email,
                contact_phone=old.contact_phone,
            ),
        )
        return new

    async def _unavailable(
        self, request: RescheduleRequest, old: Appointment, refusal: Refusal
    ) -> BookingOutcome:
        """The same refusal table as booking: ``unavailable`` with the nearest free starts."""
        alternatives = await self._alternatives(request, old)
        return BookingOutcome(
            ToolStatus.UNAVAILABLE,
            alternatives=alternatives,
            variant=refusal_variant(refusal, request.start.astimezone(UTC), alternatives),
        )

    async def _alternatives(
        self, request: RescheduleRequest, old: Appointment
    ) -> tuple[datetime, ...]:
        """Offered starts if the call was shown that day, else a slots request; none on failure."""
        start, now = request.start, self._clock()
        limit = self._policy.max_alternatives
        if request.offered is not None and request.offered.covers(start):
            return request.offered.alternatives(start, now=now, limit=limit)
        window = self._policy.alternatives_window
        zone = ZoneInfo(request.timezone or old.timezone)
        try:
            slots = await self._slots.around(old.event_type_id, start.astimezone(zone).date(), zone)
        except CalcomError as exc:
            logger.warning("could not fetch alternatives: %s", exc.kind)
            return ()
        near = [s for s in slots if s > now and abs(s - start) <= window]
        return nearest(near, start, limit)

    # -- cancel ----------------------------------------------------------------------------

    async def cancel(self, request: CancelRequest) -> BookingOutcome:
        """Cancel the caller's appointment on Cal.com. Statuses: ``cancelled``,
        ``already_cancelled``, ``not_found``, ``conflict``, ``error``."""
        async with self._repository.lock(appointment_lock(request.booking_uid)):
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
                return _error(exc)
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
                return _error(exc)
            return await self._settle_cancel(request, appointment, exc)
        except (CalcomNotFound, CalcomValidationError) as exc:
            return await self._cancel_refused(request, appointment, exc)
        except CalcomError as exc:
            return _error(exc)
        return await self._cancelled(request, appointment)

    async def _settle_cancel(
        self, request: CancelRequest, appointment: Appointment, exc: CalcomError
    ) -> BookingOutcome:
        """The cancellation may have happened: read it back before saying anything."""
        logger.warning("Cal.com cancel failed ambiguously (%s); reading it back", exc.kind)
        try:
            booking = await self._calcom.get_booking(appointment.booking_uid)
        except CalcomError as lookup:
            return _error(lookup)
        if _withdrawn(booking):
            return await self._cancelled(request, appointment)
        return _error(exc)

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
            metadata["reason"] = _storable(request.reason)
        await self._record_link(
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
        await self._link(
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
            return _error(lookup)
        if booking is None:
            await self._advance(appointment, AppointmentStatus.CANCELLED)
            return BookingOutcome(ToolStatus.NOT_FOUND)
        if booking.is_active:
            return _error(exc)
        if booking.rescheduled_to_uid is not None:
            await self._advance(appointment, AppointmentStatus.RESCHEDULED)
            return BookingOutcome(ToolStatus.NOT_FOUND)
        cancelled = await self._advance(appointment, AppointmentStatus.CANCELLED)
        return BookingOutcome(ToolStatus.ALREADY_CANCELLED, cancelled)

    async def _advance(self, appointment: Appointment, status: AppointmentStatus) -> Appointment:
        """Set ``status`` unless the stored one is already as far along or further."""
        stored = await self._repository.get_appointment(appointment.id)
        if stored is None or stored.status is status or stored.status.rank > status.rank:
            return stored or appointment
        return await self._repository.set_appointment_status(appointment.id, status)

    async def _record_link(
        self,
        call_id: str,
        appointment: Appointment,
        relationship: Relationship,
        metadata: dict[str, Any],
        *,
        minimal: dict[str, Any],
    ) -> None:
        """Link a change Cal.com has made; see :func:`booking.link_as_far_as_stored`."""
        await link_as_far_as_stored(
            self._repository,
            self._call_link(call_id, appointment, relationship, metadata),
            minimal=minimal,
        )

    async def _link(
        self,
        call_id: str,
        appointment: Appointment,
        relationship: Relationship,
        metadata: dict[str, Any],
    ) -> None:
        await self._repository.link(self._call_link(call_id, appointment, relationship, metadata))

    def _call_link(
        self,
        call_id: str,
        appointment: Appointment,
        relationship: Relationship,
        metadata: dict[str, Any],
    ) -> CallLink:
        """This call touching ``appointment`` now, in the given way."""
        return CallLink(
            call_id=call_id,
            appointment_id=appointment.id,
            relationship=relationship,
            linked_at=self._clock(),
            metadata=metadata,
        )


def _storable(text: str) -> str:
    """``text`` as every store takes it: without NUL characters (which PostgreSQL refuses in
    text and JSON) and with lone surrogates (not encodable as UTF-8) replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def appointment_status(calcom_status: str) -> AppointmentStatus:
    """Our status for a Cal.com booking status, in either case (API or webhook)."""
    status = calcom_status.lower()
    if status == "pending":
        return AppointmentStatus.PENDING
    if status == "rejected":
        return AppointmentStatus.REJECTED
    if status == "cancelled":
        return AppointmentStatus.CANCELLED
    return AppointmentStatus.ACTIVE


def _withdrawn(booking: Booking) -> bool:
    """Cancelled on Cal.com, and not because it was moved."""
    return not booking.is_active and booking.rescheduled_to_uid is None


def _error(exc: CalcomError) -> BookingOutcome:
    logger.warning("Cal.com error: %s (status %s)", exc.kind, exc.status_code)
    return BookingOutcome(ToolStatus.ERROR, error_kind=exc.kind, variant=error_variant(exc))
