"""Who the caller is, and which appointments they may act on.

Who the caller is comes from the call alone (:func:`~.identity.trusted_identity`): the
network number or the backend's identity fields. What the caller says (a phone, an email,
a name) is contact data of one booking, or, with a booking reference, a claim to one
appointment that is checked and rate-limited (:meth:`Callers.claim_reference`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.booking.availability import SlotReads
from retell_booking_tools.booking.decision import BookingService
from retell_booking_tools.booking.identity import (
    CONTACT_NEEDED,
    TrustedIdentity,
    clean_text,
    names_match,
    network_phone,
    normalize_email,
    normalize_phone,
    parse_booking_reference,
    trusted_identity,
)
from retell_booking_tools.domain import Appointment, Customer, call_key, phone_key
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.repository.protocol import BookingStore

MAX_REFERENCE_MISSES = 3
"""Wrong booking references a call (or a number, within a day) may say before it is refused."""

MAX_NUMBERLESS_MISSES = 20
"""Wrong booking references all calls without a number to one agent may say within a day."""

REFERENCE_MISS_WINDOW = timedelta(days=1)


@attrs.frozen
class Caller:
    """What of one call vouches for its caller (never what the caller said)."""

    call_id: str
    agent_id: str | None
    number: str | None
    """The caller's network number as Retell delivered it (``from_number`` inbound)."""
    metadata: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    dynamic_variables: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    region: str = "US"
    """Where a number without a country code is read."""


@attrs.frozen
class Booker:
    """The caller about to book: their customer, and the contact they gave for this booking."""

    customer: Customer
    trusted: bool
    """False: the customer is this call's alone (no trusted identity behind it)."""
    contact_email: str | None = attrs.field(default=None, repr=False)
    contact_phone: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Claimed:
    """A booking reference (and name) proved: the appointment, and the customer to act as."""

    appointment: Appointment
    owner: Customer


@attrs.frozen
class ReferenceRefused:
    """Why a reference claim got nowhere: ``name_needed`` (ask for the name on the
    booking), ``name_unreadable`` (``error`` says why), ``miss`` (a wrong reference or
    name, counted) or ``locked`` (too many misses: call from the number booked with)."""

    reason: Literal["name_needed", "name_unreadable", "miss", "locked"]
    error: InvalidArguments | None = None


class Callers:
    """The caller's customer record and their claims to appointments."""

    def __init__(self, store: BookingStore, *, bookings: BookingService, slots: SlotReads) -> None:
        """Built by :class:`~retell_booking_tools.booking.core.BookingCore`."""
        self._store = store
        self._bookings = bookings
        self._slots = slots

    @staticmethod
    def identity(caller: Caller) -> TrustedIdentity | None:
        """Who the call is from, as Retell vouches: never anything the caller said."""
        return trusted_identity(
            number=caller.number,
            metadata=caller.metadata,
            dynamic_variables=caller.dynamic_variables,
            region=caller.region,
        )

    async def trusted_customer(self, caller: Caller, *, name: str = "") -> Customer | None:
        """The caller's customer record, or None when the call carries no trusted identity.

        The customer is recorded as the call's. A phone is stored on the customer only when
        it is the identity itself (a number cannot be two customers' identity).
        """
        identity = self.identity(caller)
        if identity is None:
            return None
        phone = identity.phone
        if phone is not None and identity.key != phone_key(phone):
            phone = None
        return await self._store.upsert_customer(
            name=name, phone=phone, email=identity.email, key=identity.key, call_id=caller.call_id
        )

    async def known_customer(self, caller: Caller) -> Customer | None:
        """The trusted identity's stored customer, read only (None if new or without one)."""
        identity = self.identity(caller)
        if identity is None:
            return None
        return await self._store.find_customer(phone=None, email=None, key=identity.key)

    async def booking_customer(
        self, caller: Caller, *, name: str, phone: str | None, email: str | None
    ) -> Booker:
        """The customer a booking is made for, and the contact data said for it.

        With a trusted identity, that identity's customer. Without one, a customer of this
        call alone, and only if the caller gave a phone or an email (InvalidArguments
        ``phone`` with :data:`CONTACT_NEEDED` otherwise). A spoken phone is checked strictly.
        """
        contact_email = normalize_email(email) if email else None
        contact_phone = normalize_phone(phone, region=caller.region) if phone else None
        customer = await self.trusted_customer(caller, name=name)
        if customer is not None:
            return Booker(customer, True, contact_email, contact_phone)
        if contact_email is None and contact_phone is None:
            raise InvalidArguments("phone", CONTACT_NEEDED)
        customer = await self._store.upsert_customer(
            name=name,
            phone=None,
            email=None,
            key=call_key(caller.call_id),
            call_id=caller.call_id,
        )
        return Booker(customer, False, contact_email, contact_phone)

    async def own_customer(self, caller: Caller) -> Customer | None:
        """The trusted identity's customer, else the customer this very call booked as (a
        caller without a trusted identity acts on what they booked in this call), else None."""
        customer = await self.trusted_customer(caller)
        if customer is not None:
            return customer
        call = await self._store.get_call(caller.call_id)
        if call is None or call.customer_id is None:
            return None
        booked_as = await self._store.get_customer(call.customer_id)
        if booked_as is not None and booked_as.identity_key == call_key(caller.call_id):
            return booked_as
        return None

    async def claim_reference(
        self, caller: Caller, *, reference: str, name: str | None, now: datetime
    ) -> Claimed | ReferenceRefused:
        """The appointment a booking reference names and the customer to act as.

        The caller's own appointment needs no name; anyone else's needs the name on the
        booking (compared leniently; the reference exactly). Without a name the answer asks
        for it, whether or not the reference exists, so a reference alone reveals nothing.
        Every wrong reference or name is a miss: after :data:`MAX_REFERENCE_MISSES` in this
        call, or from this number within a day, or :data:`MAX_NUMBERLESS_MISSES` of all
        calls without a number to this agent within a day, the claim is ``locked``.
        Checking and recording a miss happen under the lock of the call's scope
        (:meth:`miss_scope`), which every delivery of this call and every call of that
        number (or agent) shares, so concurrent guesses cannot pass either limit. One lock,
        never two nested: a look-up holds at most one lock connection.
        """
        scope = self.miss_scope(caller)
        async with self._store.lock(f"reference-misses:{scope}"):
            if await self._locked(caller, scope, now):
                return ReferenceRefused("locked")
            claim = await self._claimed(caller, reference=reference, name=name)
            if claim is not None:
                return claim
            await self._store.record_reference_miss(call_id=caller.call_id, number=scope, at=now)
            if await self._locked(caller, scope, now):
                return ReferenceRefused("locked")
        return ReferenceRefused("miss")

    async def _claimed(
        self, caller: Caller, *, reference: str, name: str | None
    ) -> Claimed | ReferenceRefused | None:
        """What the reference (and name) prove, a refusal asking again for a missing or
        unreadable name, or None for a miss."""
        code = parse_booking_reference(reference)
        appointment = await self._store.get_appointment_by_reference(code) if code else None
        owner = await self._store.get_customer(appointment.customer_id) if appointment else None
        if appointment is not None and owner is not None:
            own = await self.own_customer(caller)
            if own is not None and own.id == owner.id:
                return Claimed(appointment, owner)
        if not name:
            return ReferenceRefused("name_needed")
        try:
            said = clean_text(name, field="customer_name")
        except InvalidArguments as error:
            return ReferenceRefused("name_unreadable", error)
        booked_name = (appointment.attendee_name or owner.name) if appointment and owner else ""
        if appointment is not None and owner is not None and names_match(said, booked_name):
            return Claimed(appointment, owner)
        return None

    @staticmethod
    def miss_scope(caller: Caller) -> str:
        """Whose wrong references a miss counts against besides the call's: the network
        number (E.164), or for a call without one ``agent:<agent_id>``, shared by every
        such call."""
        number = network_phone(caller.number, region=caller.region)
        if number is not None:
            return number
        return f"agent:{caller.agent_id or ''}"

    async def _locked(self, caller: Caller, scope: str, now: datetime) -> bool:
        since = now - REFERENCE_MISS_WINDOW
        in_call = await self._store.reference_misses(since=since, call_id=caller.call_id)
        if in_call >= MAX_REFERENCE_MISSES:
            return True
        limit = MAX_NUMBERLESS_MISSES if scope.startswith("agent:") else MAX_REFERENCE_MISSES
        return await self._store.reference_misses(since=since, number=scope) >= limit

    async def held_on(
        self,
        caller: Caller,
        day: date,
        *,
        last_day: date | None = None,
        zone: ZoneInfo,
        event_type_id: int,
        now: datetime,
    ) -> list[Appointment]:
        """The caller's upcoming appointments of that event type on that local day (through
        ``last_day``, for a range), soonest first (trusted identity only), as Cal.com still
        has them.

        Each stored one is re-checked (:meth:`BookingService.still_booked`, as booking does):
        one Cal.com cancelled or moved without a webhook is recorded so, its day's slot
        reads are dropped, and it is left out. When Cal.com cannot be asked, the store is
        trusted.
        """
        customer = await self.known_customer(caller)
        if customer is None:
            return []
        held = []
        for appointment in await self._store.appointments_for_customer(customer.id):
            if not (
                appointment.is_upcoming(now)
                and appointment.event_type_id == event_type_id
                and day <= appointment.start.astimezone(zone).date() <= (last_day or day)
            ):
                continue
            if await self._bookings.still_booked(appointment):
                held.append(appointment)
            else:
                await self._slots.touched(appointment.start, appointment.event_type_id)
        return held
