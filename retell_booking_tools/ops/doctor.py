"""Find and repair gaps between calls, appointments and Cal.com (``retell-booking-tools doctor``).

Six kinds of problem, each with the booking uid and call id it concerns:

- ``unlinked_call``: a call's recorded tool result (or a Cal.com booking's ``retell_call_id``
  metadata) names a booking, but the call has no link to that appointment;
- ``unknown_booking``: an active Cal.com booking of a configured event type that the store
  does not hold;
- ``stale_appointment``: a stored appointment that still holds its slot while Cal.com has
  cancelled or moved its booking;
- ``foreign_link``: a call linked to an appointment of a different customer;
- ``unverified_identity``: a customer whose identity came from a spoken email (stored before
  identities were checked); it keeps its data and matches no caller.
- ``legacy_attendee_email``: an upcoming Cal.com booking whose attendee is the older
  phone placeholder ``tel-<digits>@<domain>``, which Cal.com e-mails (so its confirmations
  bounce). Still recognised everywhere; reported only, never changed.

A doctor checks one business: its Cal.com key and URL, its event types, its view of the
store. :func:`examine_businesses` runs one per business, each with its own key; a
business it cannot check says so as its own problem (``missing_calcom_key``: its key
variable is unset; ``calcom_unavailable``: its Cal.com refused or did not answer) and the
others still run.

:meth:`Doctor.run` is a dry run unless ``fix`` is true; repairs are idempotent, mark every
link they make with ``backfilled`` and ``backfilled_at``, and never touch ``foreign_link``\\ s,
``unverified_identity``\\ s or ``legacy_attendee_email``\\ s, which need a person to decide.
Details never contain names, emails or phone numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.booking.attendees import parse_attendee_email
from retell_booking_tools.booking.availability import SlotReads
from retell_booking_tools.booking.identity import normalize_email, normalize_phone
from retell_booking_tools.booking.records import (
    CALL_ID_METADATA_KEY,
    BookingPolicy,
    Records,
    booking_status,
)
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import CalcomError, CalcomNotFound
from retell_booking_tools.calcom.models import Booking
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    Appointment,
    Customer,
    Relationship,
)
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.repository.protocol import Repository, store_for_business

if TYPE_CHECKING:
    import httpx

    from retell_booking_tools.businesses.model import Business

__all__ = [
    "BusinessDoctorReport",
    "Doctor",
    "DoctorReport",
    "DoctorReports",
    "Problem",
    "ProblemKind",
    "examine_businesses",
]

ProblemKind = Literal[
    "unlinked_call",
    "unknown_booking",
    "stale_appointment",
    "foreign_link",
    "unverified_identity",
    "legacy_attendee_email",
    "missing_calcom_key",
    "calcom_unavailable",
]

_REPAIR_ORDER: dict[ProblemKind, int] = {
    "unknown_booking": 0,
    "stale_appointment": 1,
    "unlinked_call": 2,
    "foreign_link": 3,
    "unverified_identity": 4,
    "legacy_attendee_email": 5,
    "missing_calcom_key": 6,
    "calcom_unavailable": 7,
}
_LISTED_STATUSES = ("upcoming", "unconfirmed", "past", "cancelled")
_RELATIONSHIP_BY_STATUS = {
    "confirmed": Relationship.CONFIRMATION,
    "rescheduled": Relationship.RESCHEDULE,
    "cancelled": Relationship.CANCELLATION,
    "already_cancelled": Relationship.CANCELLATION,
}
"""Tool statuses that say how the call touched the appointment; others are booking attempts."""

Progress = Callable[[str, int, int], None]
"""``(what, done, total)``, called while a scan goes through many items."""


@attrs.frozen
class Problem:
    """One gap found; ``detail`` is for people and carries no personal data."""

    kind: ProblemKind
    booking_uid: str | None
    call_id: str | None
    detail: str
    source: str = attrs.field(default="", eq=False, repr=False)
    """Where an ``unlinked_call`` was seen (``tool_result`` or ``calcom_metadata``)."""
    tool_status: str | None = attrs.field(default=None, eq=False, repr=False)
    """The status the call's tool result reported, when one names the booking."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "booking_uid": self.booking_uid,
            "call_id": self.call_id,
            "detail": self.detail,
        }


@attrs.frozen
class DoctorReport:
    """What is still wrong, and what this run repaired."""

    problems: tuple[Problem, ...]
    fixed: tuple[Problem, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """``{"problems": [...], "fixed": [...]}``, each ``{"kind", "booking_uid", ...}``."""
        return {
            "problems": [problem.to_json() for problem in self.problems],
            "fixed": [problem.to_json() for problem in self.fixed],
        }


@attrs.frozen
class BusinessDoctorReport:
    """One business's report."""

    business_id: str
    report: DoctorReport

    def to_json(self) -> dict[str, Any]:
        """``{"business_id", "problems": [...], "fixed": [...]}``."""
        return {"business_id": self.business_id, **self.report.to_json()}


@attrs.frozen
class DoctorReports:
    """Every business's report, in the order of the businesses."""

    businesses: tuple[BusinessDoctorReport, ...]

    @property
    def healthy(self) -> bool:
        return all(entry.report.healthy for entry in self.businesses)

    def to_json(self) -> dict[str, Any]:
        """One business: its report (``{"business_id", "problems", "fixed"}``); several:
        ``{"businesses": [that, ...]}``."""
        if len(self.businesses) == 1:
            return self.businesses[0].to_json()
        return {"businesses": [entry.to_json() for entry in self.businesses]}


class Doctor:
    """Compares the store with itself and with Cal.com, and repairs what it safely can."""

    def __init__(
        self,
        *,
        repository: Repository,
        calcom: CalcomClient,
        event_type_ids: Iterable[int],
        timezone: str,
        attendee_email_domain: str,
        phone_region: str = "US",
        clock: Clock = system_clock,
        progress: Progress | None = None,
        business_id: str = DEFAULT_BUSINESS_ID,
    ) -> None:
        """``repository`` is business ``business_id``'s view of the store, ``calcom`` its
        account: only that business's appointments, calls and customers are checked."""
        self._business_id = business_id
        self._repository = repository
        self._calcom = calcom
        self._event_type_ids = tuple(dict.fromkeys(event_type_ids))
        self._timezone = timezone
        self._attendee_email_domain = attendee_email_domain
        self._phone_region = phone_region
        self._clock = clock
        self._progress = progress
        self._records = Records(
            repository,
            clock=clock,
            slots=SlotReads(calcom, clock=clock, reuse_seconds=0),
            policy=BookingPolicy(
                event_type_id=self._event_type_ids[0] if self._event_type_ids else 0,
                timezone=timezone,
                attendee_email_domain=attendee_email_domain,
            ),
        )
        """Repairs write as the booking core does: one mapping, forward-only, one link."""

    @classmethod
    def of_business(
        cls,
        business: Business,
        settings: Settings,
        *,
        repository: Repository,
        calcom: CalcomClient,
        clock: Clock = system_clock,
        progress: Progress | None = None,
    ) -> Doctor:
        """The doctor of one business: its event types and zone, its view of ``repository``
        (the whole store), and ``calcom``, which must be its own account."""
        return cls(
            repository=store_for_business(repository, business.id),
            calcom=calcom,
            event_type_ids=business.event_type_ids,
            timezone=business.timezone,
            attendee_email_domain=settings.attendee_email_domain,
            phone_region=settings.phone_region,
            clock=clock,
            progress=progress,
            business_id=business.id,
        )

    async def run(self, *, since: datetime, fix: bool = False) -> DoctorReport:
        """Scan everything from ``since`` on; with ``fix``, repair and scan again."""
        found = await self.scan(since=since)
        if not fix:
            return DoctorReport(problems=found)
        fixed = []
        for problem in sorted(found, key=lambda p: _REPAIR_ORDER[p.kind]):
            if await self._repair(problem):
                fixed.append(problem)
        return DoctorReport(problems=await self.scan(since=since), fixed=tuple(fixed))

    async def scan(self, *, since: datetime) -> tuple[Problem, ...]:
        """Every problem visible from ``since`` on, in a stable order; changes nothing."""
        bookings = await self._calcom_bookings(since)
        problems = [
            *await self._unlinked_calls(since, bookings),
            *await self._unknown_bookings(bookings),
            *await self._stale_appointments(since, bookings),
            *await self._foreign_links(since),
            *await self._unverified_identities(),
            *self._legacy_attendee_emails(bookings),
        ]
        return tuple(
            sorted(
                problems,
                key=lambda p: (_REPAIR_ORDER[p.kind], p.booking_uid or "", p.call_id or ""),
            )
        )

    # -- scans ---------------------------------------------------------------------------

    async def _calcom_bookings(self, since: datetime) -> dict[str, Booking]:
        event_type_ids = {*self._event_type_ids}
        for appointment in await self._appointments(since):
            event_type_ids.add(appointment.event_type_id)
        bookings: dict[str, Booking] = {}
        for event_type_id in sorted(event_type_ids):
            for booking in await self._calcom.list_bookings(
                event_type_id=event_type_id,
                after_start=since,
                status=_LISTED_STATUSES,
                take=250,
            ):
                bookings[booking.uid] = booking
        return bookings

    async def _unlinked_calls(self, since: datetime, bookings: dict[str, Booking]) -> list[Problem]:
        named: dict[tuple[str, str], tuple[str, str | None]] = {}
        for record in await self._repository.tool_call_records(since=since):
            if record.business_id != self._business_id:
                continue
            if record.booking_uid is not None:
                seen = (record.key.call_id, record.booking_uid)
                if record.status in _RELATIONSHIP_BY_STATUS or seen not in named:
                    named[seen] = ("tool_result", record.status)
        for booking in bookings.values():
            maker = booking.metadata.get(CALL_ID_METADATA_KEY)
            # A rescheduled booking inherits its metadata: the call made the old one only.
            if maker and booking.rescheduled_from_uid is None:
                named.setdefault((maker, booking.uid), ("calcom_metadata", None))
        problems = []
        for done, ((call_id, uid), (source, status)) in enumerate(sorted(named.items()), start=1):
            self._report("calls", done, len(named))
            appointment = await self._repository.get_appointment_by_uid(uid)
            links = await self._repository.links_for_call(call_id)
            if appointment is not None and any(
                link.appointment_id == appointment.id for link in links
            ):
                continue
            where = "a tool result" if source == "tool_result" else "Cal.com booking metadata"
            held = "" if appointment is not None else "; the store does not hold the booking"
            problems.append(
                Problem(
                    "unlinked_call",
                    uid,
                    call_id,
                    f"{where} names this booking but the call has no link to it{held}",
                    source=source,
                    tool_status=status,
                )
            )
        return problems

    async def _unknown_bookings(self, bookings: dict[str, Booking]) -> list[Problem]:
        problems = []
        for booking in bookings.values():
            if not booking.is_active:
                continue
            if await self._repository.get_appointment_by_uid(booking.uid) is not None:
                continue
            customer = await self._customer_of(booking)
            who = f"customer {customer.id}" if customer else "an unknown customer"
            problems.append(
                Problem(
                    "unknown_booking",
                    booking.uid,
                    booking.metadata.get(CALL_ID_METADATA_KEY),
                    f"Cal.com booking ({booking.status}, event type {booking.event_type_id}, "
                    f"starts {self._local(booking.start)}) of {who} is not in the store",
                )
            )
        return problems

    def _legacy_attendee_emails(self, bookings: dict[str, Booking]) -> list[Problem]:
        now = self._clock()
        problems = []
        for booking in bookings.values():
            if not booking.is_active or booking.end <= now:
                continue
            if any(
                (derived := parse_attendee_email(a.email, domain=self._attendee_email_domain))
                is not None
                and derived.legacy
                for a in booking.attendees
            ):
                problems.append(
                    Problem(
                        "legacy_attendee_email",
                        booking.uid,
                        booking.metadata.get(CALL_ID_METADATA_KEY),
                        "booked under the older phone placeholder address (tel-...), which "
                        "Cal.com e-mails; new bookings use <digits>@sms.cal.com",
                    )
                )
        return problems

    async def _stale_appointments(
        self, since: datetime, bookings: dict[str, Booking]
    ) -> list[Problem]:
        held = [a for a in await self._appointments(since) if a.status.holds_slot]
        problems = []
        for done, appointment in enumerate(held, start=1):
            self._report("appointments", done, len(held))
            booking = bookings.get(appointment.booking_uid)
            if booking is None:
                booking = await self._fetch(appointment.booking_uid)
            detail = _staleness(appointment, booking)
            if detail is not None:
                problems.append(Problem("stale_appointment", appointment.booking_uid, None, detail))
        return problems

    async def _unverified_identities(self) -> list[Problem]:
        """Customers without an identity key but with an email: it was said, never vouched for."""
        problems = []
        for customer in await self._repository.list_customers():
            if customer.business_id != self._business_id:
                continue
            if customer.identity_key is not None or customer.email is None:
                continue
            held = len(await self._repository.appointments_for_customer(customer.id))
            problems.append(
                Problem(
                    "unverified_identity",
                    None,
                    None,
                    f"customer {customer.id} was identified by a spoken email and matches no "
                    f"caller now ({held} appointment{'s' if held != 1 else ''})",
                )
            )
        return problems

    async def _foreign_links(self, since: datetime) -> list[Problem]:
        links = await self._repository.list_links(since=since)
        customers_of_calls: dict[str, int | None] = {}
        appointments: dict[int, Appointment | None] = {}
        problems = []
        for done, link in enumerate(links, start=1):
            self._report("links", done, len(links))
            if link.call_id not in customers_of_calls:
                call = await self._repository.get_call(link.call_id)
                customers_of_calls[link.call_id] = call.customer_id if call else None
            if link.appointment_id not in appointments:
                appointments[link.appointment_id] = await self._repository.get_appointment(
                    link.appointment_id
                )
            caller = customers_of_calls[link.call_id]
            appointment = appointments[link.appointment_id]
            if caller is None or appointment is None or appointment.customer_id == caller:
                continue
            problems.append(
                Problem(
                    "foreign_link",
                    appointment.booking_uid,
                    link.call_id,
                    f"linked as {link.relationship.value}, but the call's customer {caller} "
                    f"is not the appointment's customer {appointment.customer_id}",
                )
            )
        return problems

    # -- repairs -------------------------------------------------------------------------

    async def _repair(self, problem: Problem) -> bool:
        """Repair one problem; True when it is gone afterwards."""
        if problem.kind == "unknown_booking":
            return await self._adopt_booking(problem)
        if problem.kind == "stale_appointment":
            return await self._retire_appointment(problem)
        if problem.kind == "unlinked_call":
            return await self._link_call(problem)
        return False

    async def _adopt_booking(self, problem: Problem) -> bool:
        assert problem.booking_uid is not None
        booking = await self._fetch(problem.booking_uid)
        if booking is None or not booking.is_active or booking.event_type_id is None:
            return False
        customer = await self._customer_of(booking, create=True)
        if customer is None:
            return False
        await self._records.store(
            self._records.appointment_of(booking, customer_id=customer.id, timezone=self._timezone)
        )
        return True

    async def _retire_appointment(self, problem: Problem) -> bool:
        assert problem.booking_uid is not None
        appointment = await self._repository.get_appointment_by_uid(problem.booking_uid)
        if appointment is None:
            return False
        booking = await self._fetch(problem.booking_uid)
        if booking is not None and booking.is_active:
            # Moved in place (same uid, other start): the store cannot follow that.
            return _staleness(appointment, booking) is None
        await self._records.advance(appointment, booking_status(booking))
        return True

    async def _link_call(self, problem: Problem) -> bool:
        assert problem.booking_uid is not None
        assert problem.call_id is not None
        appointment = await self._repository.get_appointment_by_uid(problem.booking_uid)
        if appointment is None:
            return False
        now = self._clock()
        metadata: dict[str, Any] = {
            "backfilled": True,
            "backfilled_at": now.isoformat(),
            "backfilled_from": problem.source or "tool_result",
        }
        relationship = _RELATIONSHIP_BY_STATUS.get(problem.tool_status or "")
        if relationship is None:
            originals = [
                link.call_id
                for link in await self._repository.links_for_appointment(appointment.id)
                if link.relationship is Relationship.ORIGINAL and link.call_id != problem.call_id
            ]
            relationship = Relationship.DUPLICATE_ATTEMPT if originals else Relationship.ORIGINAL
            if originals:
                metadata["original_call_id"] = originals[0]
        await self._records.link(problem.call_id, appointment, relationship, metadata)
        return True

    # -- helpers -------------------------------------------------------------------------

    async def _appointments(self, since: datetime) -> list[Appointment]:
        """This business's appointments ending after ``since``."""
        listed = await self._repository.list_appointments(ending_after=since)
        return [a for a in listed if a.business_id == self._business_id]

    async def _fetch(self, uid: str) -> Booking | None:
        try:
            return await self._calcom.get_booking(uid)
        except CalcomNotFound:
            return None

    async def _customer_of(self, booking: Booking, *, create: bool = False) -> Customer | None:
        """The customer behind a booking's attendees: by phone, derived email, then email."""
        for attendee in booking.attendees:
            phone, email = self._identity(attendee.phone_number, attendee.email)
            if phone is None and email is None:
                continue
            found = await self._repository.find_customer(phone=phone, email=email)
            if found is None and phone is not None and email is not None:
                found = await self._repository.find_customer(phone=None, email=email)
            if found is not None:
                return found
            if create:
                return await self._repository.upsert_customer(
                    name=attendee.name, phone=phone, email=email
                )
        return None

    def _identity(self, raw_phone: str | None, raw_email: str) -> tuple[str | None, str | None]:
        """(E.164 phone, email) of an attendee; a derived email gives a phone, not an email."""
        email = raw_email.strip().lower() or None
        derived = parse_attendee_email(email or "", domain=self._attendee_email_domain)
        phone = derived.phone if derived else raw_phone
        if derived:
            email = None
        if phone:
            try:
                phone = normalize_phone(phone, region=self._phone_region)
            except InvalidArguments:
                phone = None
        if email:
            try:
                email = normalize_email(email)
            except InvalidArguments:
                email = None
        return phone or None, email

    def _local(self, instant: datetime) -> str:
        return instant.astimezone(ZoneInfo(self._timezone)).isoformat()

    def _report(self, what: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(what, done, total)


def _staleness(appointment: Appointment, booking: Booking | None) -> str | None:
    """Why the stored appointment no longer matches Cal.com, or None when it does."""
    if booking is None:
        return "Cal.com no longer has this booking; the store still holds the slot"
    if booking.rescheduled_to_uid is not None:
        return (
            f"Cal.com moved this booking to {booking.rescheduled_to_uid}; "
            "the store still holds the old slot"
        )
    if not booking.is_active:
        return f"Cal.com says {booking.status}; the store still holds the slot"
    if booking.start.astimezone(UTC) != appointment.start:
        return (
            f"Cal.com has it at {booking.start.astimezone(UTC).isoformat()}, "
            f"the store at {appointment.start.isoformat()}"
        )
    return None


async def examine_businesses(
    businesses: Iterable[Business],
    *,
    settings: Settings,
    repository: Repository,
    keys: Mapping[str, str],
    since: datetime | Callable[[Business], datetime],
    fix: bool = False,
    calcom_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
    progress: Progress | None = None,
) -> DoctorReports:
    """:meth:`Doctor.run` for each business in turn, with its own Cal.com key (``keys`` by
    business id) and URL, from ``since`` (an instant, or each business's own, e.g. a local
    midnight in its zone). A business without a key in ``keys`` is reported as
    ``missing_calcom_key``, one whose Cal.com fails as ``calcom_unavailable``; neither
    stops the others.

    ``calcom_transport`` replaces the HTTP transport of every Cal.com client (tests).
    """
    reports = []
    for business in businesses:
        start = since if isinstance(since, datetime) else since(business)
        reports.append(
            BusinessDoctorReport(
                business.id,
                await _examine(
                    business,
                    keys.get(business.id),
                    settings=settings,
                    repository=repository,
                    since=start,
                    fix=fix,
                    calcom_transport=calcom_transport,
                    clock=clock,
                    progress=progress,
                ),
            )
        )
    return DoctorReports(tuple(reports))


async def _examine(
    business: Business,
    api_key: str | None,
    *,
    settings: Settings,
    repository: Repository,
    since: datetime,
    fix: bool,
    calcom_transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    progress: Progress | None,
) -> DoctorReport:
    if api_key is None:
        detail = (
            f"{business.calcom_api_key_env} is not set: the Cal.com API key of business "
            f"{business.id!r}; nothing of it was checked"
        )
        return DoctorReport(problems=(Problem("missing_calcom_key", None, None, detail),))
    async with CalcomClient(
        api_key=api_key,
        base_url=business.calcom_api_url,
        timeout=settings.calcom_timeout_seconds,
        transport=calcom_transport,
    ) as calcom:
        checkup = Doctor.of_business(
            business,
            settings,
            repository=repository,
            calcom=calcom,
            clock=clock,
            progress=progress,
        )
        try:
            return await checkup.run(since=since, fix=fix)
        except CalcomError as error:
            detail = f"Cal.com of business {business.id!r} failed ({error.kind}): {error.message}"
            return DoctorReport(problems=(Problem("calcom_unavailable", None, None, detail),))
