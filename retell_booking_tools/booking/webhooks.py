"""Cal.com's booking events applied to the store, so it follows changes made in Cal.com.

Deliveries repeat and arrive out of order. Each change is applied under the appointment's
lock and only if it moves the lifecycle forward (:attr:`AppointmentStatus.rank`); between
``active`` and ``pending`` only a newer event than the last one applied counts
(``calcom_event_at``). So a repeat changes nothing and an older event never undoes a newer
state.

An appointment is never created from a webhook alone: the booking is read back from
Cal.com first, and only an active one is stored. That way a ``BOOKING_CREATED`` that
arrives after the booking's ``BOOKING_CANCELLED`` (which found nothing to change) cannot
bring it back. A booking we do not hold is stored only when its owner is known: the Retell
call id in its metadata, or the attendee address derived from a caller's phone.
"""

from __future__ import annotations

import enum
import logging
from datetime import UTC

from retell_booking_tools.booking.attendees import parse_attendee_email
from retell_booking_tools.booking.availability import SlotReads
from retell_booking_tools.booking.records import (
    CALL_ID_METADATA_KEY,
    BookingPolicy,
    Records,
    appointment_status,
    booking_status,
)
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.webhooks import BookingEvent
from retell_booking_tools.domain import Appointment, AppointmentStatus, Relationship
from retell_booking_tools.repository.protocol import AppointmentStore, CallRecords

logger = logging.getLogger(__name__)


class SyncOutcome(enum.StrEnum):
    """What one delivery did to the store."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """Known, but a repeat or older than what the store already holds."""
    IGNORED = "ignored"
    """About a booking we do not hold and cannot attribute to a caller."""


class CalcomSync:
    """Applies ``BOOKING_CREATED``, ``BOOKING_REQUESTED`` (a pending request, stored like a
    new booking), ``BOOKING_REJECTED`` (the host turned it down: ``rejected``, the slot is
    free), ``BOOKING_CANCELLED`` and ``BOOKING_RESCHEDULED``."""

    def __init__(
        self,
        *,
        calcom: CalcomClient,
        store: AppointmentStore,
        calls: CallRecords,
        records: Records,
        slots: SlotReads,
        policy: BookingPolicy,
    ) -> None:
        """Built by :class:`~retell_booking_tools.booking.core.BookingCore`."""
        self._calcom = calcom
        self._repository = store
        self._calls = calls
        self._records = records
        self._slots = slots
        self._policy = policy

    async def apply(self, event: BookingEvent) -> SyncOutcome:
        """Apply one event; a failed read-back raises :class:`CalcomError` (deliver again).

        The booking and the one it replaced are read from the store once; when the event
        changes something, the free slots read around their days are dropped.
        """
        stored = await self._repository.get_appointment_by_uid(event.uid)
        previous = (
            await self._repository.get_appointment_by_uid(event.previous_uid)
            if event.previous_uid is not None
            else None
        )
        outcome = await self._apply(event, stored, previous)
        if outcome is not SyncOutcome.UNCHANGED:
            await self._slots.touched(event.start, event.event_type_id)
            if previous is not None:
                await self._slots.touched(previous.start, previous.event_type_id)
        return outcome

    async def _apply(
        self, event: BookingEvent, stored: Appointment | None, previous: Appointment | None
    ) -> SyncOutcome:
        if event.trigger == "BOOKING_CANCELLED":
            return await self._change(stored, AppointmentStatus.CANCELLED, event)
        if event.trigger == "BOOKING_REJECTED":
            return await self._change(stored, AppointmentStatus.REJECTED, event)
        if event.previous_uid is not None or event.trigger == "BOOKING_RESCHEDULED":
            return await self._rescheduled(event, stored, previous)
        if stored is not None:
            return await self._change(stored, _reported(event), event)
        owner = await self._owner(event)
        if owner is None:
            return SyncOutcome.IGNORED
        customer_id, maker_call_id = owner
        return await self._adopt(
            event, customer_id, rescheduled_from_uid=None, maker_call_id=maker_call_id
        )

    async def _rescheduled(
        self, event: BookingEvent, stored: Appointment | None, old: Appointment | None
    ) -> SyncOutcome:
        """The event names the new booking (``stored`` when we hold it); the one it replaced
        is ``previous_uid`` (``old``)."""
        outcomes = []
        if old is not None:
            outcomes.append(await self._change(old, AppointmentStatus.RESCHEDULED, event))
        if stored is not None:
            outcomes.append(await self._change(stored, _reported(event), event))
        else:
            customer_id = old.customer_id if old is not None else await self._owner_id(event)
            if customer_id is not None:
                outcomes.append(
                    await self._adopt(
                        event,
                        customer_id,
                        rescheduled_from_uid=old.booking_uid if old else event.previous_uid,
                    )
                )
        return _combined(outcomes)

    async def _change(
        self, stored: Appointment | None, status: AppointmentStatus, event: BookingEvent
    ) -> SyncOutcome:
        """Apply the status an event reports to a stored appointment, forward or newer only
        (see :meth:`Records.advance`, which reads it again under its lock)."""
        if stored is None:
            return SyncOutcome.IGNORED
        changed, moved = await self._records.advance(stored, status, event_at=event.occurred_at)
        if not moved:
            return SyncOutcome.UNCHANGED
        logger.info(
            "Cal.com %s applied",
            event.trigger,
            extra={"appointment_id": stored.id, "status": changed.status.value},
        )
        return SyncOutcome.APPLIED

    async def _adopt(
        self,
        event: BookingEvent,
        customer_id: int,
        *,
        rescheduled_from_uid: str | None,
        maker_call_id: str | None = None,
    ) -> SyncOutcome:
        """Store a booking we did not hold, as Cal.com has it now, if it still stands.

        A new booking (not a reschedule) whose metadata names one of our calls was made by
        that call, whose answer never got stored: the call is linked to it as ``original``,
        so a retried delivery of that call hears ``booked``, not ``existing``.
        """
        booking = await self._calcom.get_booking(event.uid)
        if not booking.is_active:
            return SyncOutcome.IGNORED
        appointment, created = await self._records.store(
            self._records.appointment_of(
                booking,
                customer_id=customer_id,
                event_type_id=booking.event_type_id or event.event_type_id,
                rescheduled_from_uid=rescheduled_from_uid,
            )
        )
        if not created:
            return await self._change(appointment, booking_status(booking), event)
        await self._records.advance(appointment, appointment.status, event_at=event.occurred_at)
        if maker_call_id is not None and booking.rescheduled_from_uid is None:
            await self._records.link(
                maker_call_id,
                appointment,
                Relationship.ORIGINAL,
                {
                    "calcom_created_at": booking.created_at.astimezone(UTC).isoformat(),
                    "linked_by": "calcom_webhook",
                },
            )
        logger.info("Cal.com %s stored", event.trigger, extra={"appointment_id": appointment.id})
        return SyncOutcome.APPLIED

    async def _owner_id(self, event: BookingEvent) -> int | None:
        owner = await self._owner(event)
        return None if owner is None else owner[0]

    async def _owner(self, event: BookingEvent) -> tuple[int, str | None] | None:
        """The customer a booking we do not hold belongs to, when that is certain, and the
        call that made it if its metadata names one of ours."""
        call_id = event.metadata.get(CALL_ID_METADATA_KEY)
        if isinstance(call_id, str):
            call = await self._calls.get_call(call_id)
            if call is not None and call.customer_id is not None:
                return call.customer_id, call_id
        for email in event.attendee_emails:
            derived = parse_attendee_email(email, domain=self._policy.attendee_email_domain)
            if derived is not None:
                customer = await self._repository.upsert_customer(
                    name="", phone=derived.phone, email=None
                )
                return customer.id, None
        return None


def _reported(event: BookingEvent) -> AppointmentStatus:
    return appointment_status(event.status or "accepted")


def _combined(outcomes: list[SyncOutcome]) -> SyncOutcome:
    if SyncOutcome.APPLIED in outcomes:
        return SyncOutcome.APPLIED
    if SyncOutcome.UNCHANGED in outcomes:
        return SyncOutcome.UNCHANGED
    return SyncOutcome.IGNORED
