"""What every part of the booking core shares: the policy, the outcome, and the one way
each kind of record is written.

- A Cal.com booking becomes an appointment in one place (:meth:`Records.appointment_of`),
  with its status from one mapping (:func:`booking_status`);
- a call link is made in one place (:meth:`Records.link`), and the link of a change
  Cal.com has already made is stored as far as the store allows;
- an appointment's status only moves forward, under the appointment's lock
  (:meth:`Records.advance`): booking, the lifecycle, webhooks and ``doctor`` all go
  through it, so nothing revives a cancelled or moved appointment;
- alternatives near a start and the ``error`` outcome of a Cal.com failure are worded once.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.booking.attendees import SMS_DOMAIN
from retell_booking_tools.booking.availability import OfferedSlots, SlotReads, nearest
from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.calcom.models import ACTIVE_BOOKING_STATUSES, Booking
from retell_booking_tools.calcom.refusals import Refusal
from retell_booking_tools.clock import Clock
from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    CallLink,
    NewAppointment,
    Relationship,
    ToolStatus,
)
from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.repository.protocol import AppointmentStore

logger = logging.getLogger(__name__)

CALL_ID_METADATA_KEY = "retell_call_id"
"""The Cal.com booking metadata key that names the Retell call that made the booking."""


@attrs.frozen
class BookingPolicy:
    """What to book and how to judge Cal.com's answers."""

    event_type_id: int
    timezone: str = "UTC"
    attendee_email_domain: str = SMS_DOMAIN
    """Domain of the address a caller without an email is booked under (see ``attendees``)."""
    created_by_us_skew: timedelta = timedelta(seconds=60)
    """A booking Cal.com says was created this long before our request was not ours."""
    max_alternatives: int = 3
    alternatives_window: timedelta = timedelta(days=3)
    slots_reuse_seconds: float = 5.0
    """How long a day's free slots are reused (see :class:`~availability.SlotReads`)."""


@attrs.frozen
class BookingOutcome:
    """What happened, for the tool layer to word. Appointments are always the caller's own."""

    status: ToolStatus
    appointment: Appointment | None = None
    alternatives: tuple[datetime, ...] = ()
    error_kind: str | None = None
    appointments: tuple[Appointment, ...] = ()
    previous_booking_uid: str | None = None
    variant: str | None = None
    """Other words for the same status (``too_soon``, ``too_far``, ``appointment``)."""


_BY_CALCOM_STATUS = {
    "accepted": AppointmentStatus.ACTIVE,
    "pending": AppointmentStatus.PENDING,
    "rejected": AppointmentStatus.REJECTED,
    "cancelled": AppointmentStatus.CANCELLED,
}


def appointment_status(calcom_status: str, *, moved_to: str | None = None) -> AppointmentStatus:
    """Our status for a Cal.com booking status, in either case (API or webhook).

    A booking moved to another (``rescheduledToUid``) is ``rescheduled``; a status Cal.com
    may add later counts as holding its slot exactly when :class:`Booking` says it is
    active, so the two never disagree.
    """
    if moved_to is not None:
        return AppointmentStatus.RESCHEDULED
    status = calcom_status.lower()
    known = _BY_CALCOM_STATUS.get(status)
    if known is not None:
        return known
    if status in ACTIVE_BOOKING_STATUSES:
        return AppointmentStatus.ACTIVE
    return AppointmentStatus.CANCELLED


def booking_status(booking: Booking | None) -> AppointmentStatus:
    """What a stored appointment is, given its Cal.com booking (None: Cal.com has none)."""
    if booking is None:
        return AppointmentStatus.CANCELLED
    return appointment_status(booking.status, moved_to=booking.rescheduled_to_uid)


def appointment_lock(booking_uid: str) -> str:
    """The lock name every change of one appointment holds (tools and webhooks alike)."""
    return f"appointment:{booking_uid}"


_HELD_LOCKS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "held_appointment_locks", default=frozenset()
)
"""The appointment locks this task holds, so a change made inside one does not wait on it."""


def storable(text: str) -> str:
    """``text`` as every store takes it: without NUL characters (which PostgreSQL refuses in
    text and JSON) and with lone surrogates (not encodable as UTF-8) replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class Records:
    """The booking core's writes: appointments, links and statuses, each one way."""

    def __init__(
        self, store: AppointmentStore, *, clock: Clock, slots: SlotReads, policy: BookingPolicy
    ) -> None:
        self._store = store
        self._clock = clock
        self._slots = slots
        self._policy = policy

    @asynccontextmanager
    async def locked(self, booking_uid: str) -> AsyncIterator[None]:
        """Hold the appointment's lock (shared by every replica); re-entered freely."""
        name = appointment_lock(booking_uid)
        held = _HELD_LOCKS.get()
        if name in held:
            yield
            return
        async with self._store.lock(name):
            token = _HELD_LOCKS.set(held | {name})
            try:
                yield
            finally:
                _HELD_LOCKS.reset(token)

    def appointment_of(
        self,
        booking: Booking,
        *,
        customer_id: int,
        event_type_id: int | None = None,
        timezone: str | None = None,
        rescheduled_from_uid: str | None = None,
        attendee_name: str | None = None,
        contact_email: str | None = None,
        contact_phone: str | None = None,
    ) -> NewAppointment:
        """A Cal.com booking as the appointment to store (times in UTC)."""
        return NewAppointment(
            customer_id=customer_id,
            booking_uid=booking.uid,
            event_type_id=event_type_id or booking.event_type_id or self._policy.event_type_id,
            start=booking.start.astimezone(UTC),
            end=booking.end.astimezone(UTC),
            timezone=timezone or self._policy.timezone,
            status=booking_status(booking),
            rescheduled_from_uid=rescheduled_from_uid or booking.rescheduled_from_uid,
            attendee_name=attendee_name,
            contact_email=contact_email,
            contact_phone=contact_phone,
        )

    async def store(self, new: NewAppointment) -> tuple[Appointment, bool]:
        """Record a booking Cal.com has made (idempotent by uid; True when new). One the
        store refuses is recorded again without the details the caller gave (name,
        contact), which are the only free text in it. Raises :class:`RepositoryError`
        when even that is refused."""
        try:
            return await self._store.add_appointment(new)
        except RepositoryError as exc:
            logger.warning("appointment refused (%s); storing it without the caller's details", exc)
        return await self._store.add_appointment(
            attrs.evolve(new, attendee_name=None, contact_email=None, contact_phone=None)
        )

    async def link(
        self,
        call_id: str,
        appointment: Appointment,
        relationship: Relationship,
        metadata: dict[str, Any],
        *,
        minimal: dict[str, Any] | None = None,
    ) -> CallLink | None:
        """Link ``call_id`` to ``appointment`` now (linking twice keeps the first).

        With ``minimal``, the link records a change Cal.com has already made, so it is kept
        as far as the store allows: a link the store refuses is recorded again with only
        the ``minimal`` metadata, one it refuses even so is left for ``doctor`` to find
        (``unlinked_call``), with one WARNING either way, and None is returned. Without
        ``minimal`` a refusal raises.
        """
        link = CallLink(
            call_id=call_id,
            appointment_id=appointment.id,
            relationship=relationship,
            linked_at=self._clock(),
            metadata=metadata,
        )
        if minimal is None:
            stored, _ = await self._store.link(link)
            return stored
        try:
            stored, _ = await self._store.link(link)
            return stored
        except RepositoryError as exc:
            refusal = exc
        what = relationship.value
        try:
            stored, _ = await self._store.link(attrs.evolve(link, metadata=minimal))
        except RepositoryError as exc:
            logger.warning(
                "%s link not stored (%s); `doctor` will find the call unlinked",
                what,
                exc,
                extra={"call_id": call_id},
            )
            return None
        logger.warning(
            "%s link refused (%s); stored without its details",
            what,
            refusal,
            extra={"call_id": call_id},
        )
        return stored

    async def advance(
        self,
        appointment: Appointment,
        status: AppointmentStatus,
        *,
        event_at: datetime | None = None,
    ) -> tuple[Appointment, bool]:
        """Move a stored appointment to ``status`` if that is forward; True when it moved.

        Runs under the appointment's lock. Forward means a higher
        :attr:`~AppointmentStatus.rank`; within one rank (``active`` and ``pending``,
        ``cancelled`` and ``rejected``) a change counts when it comes from a Cal.com event
        newer than the last one applied (``event_at``), or, without an event, when the
        status differs. Nothing ever moves back.
        """
        async with self.locked(appointment.booking_uid):
            stored = await self._store.get_appointment(appointment.id)
            if stored is None:
                return appointment, False
            if not _may_move(stored, status, event_at):
                return stored, False
            if event_at is None:
                moved = await self._store.set_appointment_status(stored.id, status)
            else:
                moved = await self._store.record_calcom_change(stored.id, status, event_at=event_at)
        return moved, moved.status is not stored.status

    async def alternatives(
        self,
        start: datetime,
        *,
        event_type_id: int,
        timezone: str,
        offered: OfferedSlots | None,
    ) -> tuple[datetime, ...]:
        """Up to ``max_alternatives`` free starts nearest ``start``: from what the call was
        offered when it was shown that day, else from one (shared) slots read; none when
        Cal.com cannot be asked."""
        now, limit = self._clock(), self._policy.max_alternatives
        if offered is not None and offered.covers(start):
            return offered.alternatives(start, now=now, limit=limit)
        zone = ZoneInfo(timezone)
        try:
            slots = await self._slots.around(event_type_id, start.astimezone(zone).date(), zone)
        except CalcomError as exc:
            logger.warning("could not fetch alternatives: %s", exc.kind)
            return ()
        window = self._policy.alternatives_window
        near = [s for s in slots if s > now and abs(s - start) <= window]
        return nearest(near, start, limit)


def _may_move(stored: Appointment, status: AppointmentStatus, event_at: datetime | None) -> bool:
    if status.rank != stored.status.rank:
        return status.rank > stored.status.rank
    if event_at is not None:
        return stored.calcom_event_at is None or event_at > stored.calcom_event_at
    return status is not stored.status


def error_outcome(exc: CalcomError) -> BookingOutcome:
    """``error`` for a Cal.com failure, worded ``busy`` when the API key's request budget or
    Cal.com's rate limit stopped it: the caller hears that the booking system is busy and
    nothing was done, not a breakdown."""
    logger.warning("Cal.com error: %s (status %s)", exc.kind, exc.status_code)
    variant = "busy" if exc.busy else None
    return BookingOutcome(ToolStatus.ERROR, error_kind=exc.kind, variant=variant)


def refusal_variant(
    refusal: Refusal, start: datetime, alternatives: tuple[datetime, ...]
) -> str | None:
    """Why a start is ``unavailable``, when saying so helps: ``too_soon`` when every free
    start offered lies after it, ``too_far`` when every one lies before it."""
    if refusal is not Refusal.OUT_OF_BOUNDS or not alternatives:
        return None
    if min(alternatives) > start:
        return "too_soon"
    if max(alternatives) < start:
        return "too_far"
    return None


def unavailable(
    refusal: Refusal, start: datetime, alternatives: tuple[datetime, ...]
) -> BookingOutcome:
    """``unavailable`` with the alternatives, worded by why Cal.com refused."""
    return BookingOutcome(
        ToolStatus.UNAVAILABLE,
        alternatives=alternatives,
        variant=refusal_variant(refusal, start, alternatives),
    )


def log_unknown_refusal(exc: CalcomError, call_id: str | None = None) -> None:
    """A 400 that is not in the refusal table: logged (scrubbed) so the table can grow."""
    logger.warning(
        "Cal.com refused with an answer the refusal table does not know: %s",
        exc.message,
        extra={"call_id": call_id} if call_id else None,
    )
