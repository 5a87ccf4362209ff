"""The booking core as one object: built once per process, handed to the tools, the
webhook endpoint and ``doctor``, which call it and never write to the store themselves."""

from __future__ import annotations

from retell_booking_tools.booking.availability import AvailabilityService, SharedSlots, SlotReads
from retell_booking_tools.booking.callers import Callers
from retell_booking_tools.booking.decision import BookingService
from retell_booking_tools.booking.lifecycle import AppointmentLifecycle
from retell_booking_tools.booking.records import BookingPolicy, Records
from retell_booking_tools.booking.webhooks import CalcomSync
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.repository.protocol import BookingStore


class BookingCore:
    """Booking, the lifecycle, webhooks, availability and callers over one store and one
    Cal.com client, sharing one set of slot reads and one way of writing each record."""

    def __init__(
        self,
        *,
        calcom: CalcomClient,
        store: BookingStore,
        policy: BookingPolicy,
        clock: Clock = system_clock,
        shared_slots: SharedSlots | None = None,
    ) -> None:
        """``shared_slots`` shares slot reads with other replicas (the PostgreSQL store)."""
        self.calcom = calcom
        self.store = store
        """The store as this core's business sees it (read-only use outside the core)."""
        self.policy = policy
        self.clock = clock
        self.slots = SlotReads(
            calcom, clock=clock, reuse_seconds=policy.slots_reuse_seconds, shared=shared_slots
        )
        """The coalesced slot reads every part shares."""
        self.records = Records(store, clock=clock, slots=self.slots, policy=policy)
        records, slots = self.records, self.slots
        self.bookings = BookingService(
            calcom=calcom, store=store, records=records, slots=slots, policy=policy, clock=clock
        )
        self.lifecycle = AppointmentLifecycle(
            calcom=calcom, store=store, records=records, slots=slots, policy=policy, clock=clock
        )
        self.sync = CalcomSync(
            calcom=calcom, store=store, calls=store, records=records, slots=slots, policy=policy
        )
        self.availability = AvailabilityService(
            calcom=calcom, clock=clock, max_alternatives=policy.max_alternatives, slots=self.slots
        )
        self.callers = Callers(store, bookings=self.bookings, slots=self.slots)
