"""The store, as one Protocol per concern, and :class:`Repository`, all of them together,
which every backend implements: :class:`AppointmentStore` (customers, appointments, links,
locks: the booking core), :class:`ToolCallLedger` (the tool runner), :class:`CallRecords`
(call events), :class:`Reports` (``doctor``, ``stats``, metrics) and :class:`SupportReads`
(the support console). Each consumer asks for the one it uses.

Contract (checked by ``tests/repository/test_contract.py`` for every implementation):
- appointments are unique by Cal.com ``booking_uid``: adding one twice returns the first;
- links are unique per (call, appointment, relationship): linking twice keeps the first;
- a customer is found by one identity key: the ``key`` given, else ``phone:<E.164>``, else
  ``email:<lower-case email>``; a customer stored without a key (an identity that came from
  a spoken email, before keys existed) is found by nobody. Without any key, every upsert
  makes a new customer;
- every appointment gets a booking reference unique in the store (``booking_reference``
  given, or a fresh one from :func:`~retell_booking_tools.domain.new_booking_reference`);
- ``record_calcom_change`` stores a status with the time of the Cal.com event it came from;
  whether the change may be applied is decided by the caller, under ``lock``;
- tool-call claims make one delivery of a function call the owner, replay finished results
  and let a later delivery resume one that never finished; an invocation claim also tells a
  repeat of a finished invocation (replayed) from a new invocation with the same arguments
  (claimed afresh under the next ``seq``), by :meth:`Invocation.replays
  <retell_booking_tools.domain.Invocation.replays>`;
- a finished tool call keeps the facts it was finished with (:class:`ResultFacts
  <retell_booking_tools.domain.ResultFacts>`): its touched booking on its record, its
  offered starts in ``offered_starts`` of its call;
- ``lock(name)`` serialises critical sections for every user of the same database;
- a store is the business ``default``'s, and ``for_business(id)`` (:class:`BusinessScoped`)
  is another business's view of the same database: customers (unique per business and
  identity key), appointments and calls written through a view are that business's, and
  a view finds, by id, uid, reference or identity, only its own (a call keeps the business
  it was first stored with); its locks are its own; tool-call records belong to the
  business of their call;
- the read-only listings (``find_customer``, ``list_appointments``, ``list_links``,
  ``tool_call_records``, ``tool_outcome_counts``) serve reports (``doctor``, ``stats``,
  metrics) and change nothing; they list every business's rows, each carrying its
  ``business_id`` (a tool-call record its call's, ``default`` while the call is unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import attrs

from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    NO_FACTS,
    Appointment,
    AppointmentStatus,
    Call,
    CallLink,
    Customer,
    Invocation,
    NewAppointment,
    OfferedStart,
    ResultFacts,
    ToolCallClaim,
    ToolCallKey,
    ToolCallRecord,
)


@runtime_checkable
class AppointmentStore(Protocol):
    """Customers, their appointments and the calls linked to them, and the locks
    that serialise changes: what the booking core reads and writes."""

    async def upsert_customer(
        self,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        call_id: str | None = None,
        key: str | None = None,
    ) -> Customer:
        """Find the customer by identity key (see the module contract) or create them; fill in
        a missing name or email. Pass only trusted values: never what a caller said.

        With ``call_id``, the customer is also recorded as that call's (as by
        :meth:`upsert_call`), in the same transaction.
        """
        ...

    async def get_customer(self, customer_id: int) -> Customer | None: ...

    async def find_customer(
        self, *, phone: str | None, email: str | None, key: str | None = None
    ) -> Customer | None:
        """The customer ``upsert_customer`` would find for this identity, creating nobody."""
        ...

    async def add_appointment(self, new: NewAppointment) -> tuple[Appointment, bool]:
        """Store a booking; if its uid is already held, return that one and ``False``."""
        ...

    async def get_appointment(self, appointment_id: int) -> Appointment | None: ...

    async def get_appointment_by_uid(self, booking_uid: str) -> Appointment | None: ...

    async def get_appointment_by_reference(self, booking_reference: str) -> Appointment | None:
        """The appointment with that booking reference (exact, upper case), if any."""
        ...

    async def appointments_at(self, *, event_type_id: int, start: datetime) -> list[Appointment]:
        """Every stored appointment of that event type starting at that instant, any status."""
        ...

    async def appointments_for_customer(self, customer_id: int) -> list[Appointment]:
        """The customer's appointments, ordered by start."""
        ...

    async def set_appointment_status(
        self, appointment_id: int, status: AppointmentStatus
    ) -> Appointment: ...

    async def record_calcom_change(
        self, appointment_id: int, status: AppointmentStatus, *, event_at: datetime
    ) -> Appointment:
        """Store the status a Cal.com event reported and the event's time (``calcom_event_at``).

        An unknown id raises :class:`KeyError`.
        """
        ...

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        """Link a call to an appointment; idempotent, returning the stored link and if it is new."""
        ...

    async def links_for_call(self, call_id: str) -> list[CallLink]:
        """Links of one call, oldest first."""
        ...

    async def links_for_appointment(self, appointment_id: int) -> list[CallLink]:
        """Links of one appointment, oldest first."""
        ...

    async def record_reference_miss(
        self, *, call_id: str, number: str | None, at: datetime
    ) -> None:
        """Remember one wrong booking reference said in ``call_id`` (from ``number``).

        ``number`` is whose misses these also are: the network number in E.164, or for a
        call without one ``agent:<agent_id>`` (every such call to that agent).
        """
        ...

    async def reference_misses(
        self,
        *,
        since: datetime,
        call_id: str | None = None,
        number: str | None = None,
        business_id: str | None = None,
    ) -> int:
        """How many wrong references since ``since``, of that call and/or that number and/or
        the calls of that business (``default`` for a call not stored)."""
        ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold a named lock shared by every user of this database."""
        ...


@runtime_checkable
class ToolCallLedger(Protocol):
    """One record per invocation of a function call: who owns a delivery, and the
    result every later delivery replays (the tool runner's)."""

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta, call: Call | None = None
    ) -> ToolCallClaim:
        """Become the owner of a function call delivery, or learn its result or that it is busy.

        A ``call`` given is recorded first, as by :meth:`upsert_call`, in the same transaction
        (one round trip per delivery instead of two).

        A claim older than ``lease`` without a result counts as abandoned (its process died).
        A backend that can tell its owner's process is gone (PostgreSQL: the owner's session
        ended) resumes it at once instead.
        """
        ...

    async def claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: datetime,
        lease: timedelta,
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        """Claim the invocation a delivery belongs to; returns its key and the claim.

        ``key.seq`` is ignored: the latest invocation of ``key``'s call, tool and arguments
        decides. None yet: ``seq`` 0 is claimed. Unfinished: it is this delivery's, as by
        :meth:`claim_tool_call` (busy, or resumed once abandoned or outlived). Finished: its
        result if ``invocation`` replays it, else the next ``seq`` is claimed afresh. So at
        most one invocation of the same arguments is unfinished at a time, and concurrent
        deliveries share it. A new row records ``invocation.tool_call_id`` and how many tool
        calls of the call had finished. A store may answer busy instead of claiming (the
        caller asks again); the key then names the invocation to ask about.
        """
        ...

    async def finish_tool_call(
        self,
        key: ToolCallKey,
        result: dict[str, Any],
        *,
        now: datetime,
        facts: ResultFacts = NO_FACTS,
    ) -> None:
        """Store the final result that every later delivery of the same call replays, and
        with it, in the same transaction, what later calls need of it (``facts``): the
        booking it touched (:attr:`ToolCallRecord.booking_uid`) and the starts it offered
        (:meth:`offered_starts`)."""
        ...

    async def offered_starts(self, call_id: str) -> list[OfferedStart]:
        """Every start a finished tool call of ``call_id`` offered, by start, then listed in
        part before listed whole; a start offered twice the same way is listed once."""
        ...

    async def tool_call_results(self, call_id: str, tool: str) -> list[dict[str, Any]]:
        """Final results of one tool within one call (any arguments), oldest first."""
        ...

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        """Give up ownership without a final result; the next delivery resumes."""
        ...


@runtime_checkable
class CallRecords(Protocol):
    """The Retell calls themselves, as call events and tool calls report them."""

    async def upsert_call(self, call: Call) -> Call:
        """Record a call; fields that are ``None`` in ``call`` keep their stored value."""
        ...

    async def get_call(self, call_id: str) -> Call | None: ...


@runtime_checkable
class Reports(Protocol):
    """Read-only listings for ``doctor``, ``stats`` and metrics; they change nothing."""

    async def list_customers(self) -> list[Customer]:
        """Every customer, by id (for reports such as ``doctor``)."""
        ...

    async def list_appointments(self, *, ending_after: datetime | None = None) -> list[Appointment]:
        """Appointments (any status) that end after ``ending_after``, ordered by start."""
        ...

    async def list_links(self, *, since: datetime | None = None) -> list[CallLink]:
        """Links made at or after ``since``, oldest first."""
        ...

    async def tool_call_records(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[ToolCallRecord]:
        """Stored function calls whose :attr:`~ToolCallRecord.at` lies in ``[since, until)``.

        Ordered by that instant, then by key, so every reader sees the same order.
        """
        ...

    async def tool_outcome_counts(
        self, *, business_id: str | None = None
    ) -> dict[tuple[str, str], int]:
        """How many function calls ended with each (tool, status), over all time: of every
        business, or of the calls of ``business_id`` only.

        A finished call counts under its result's status; an abandoned, unfinished one under
        ``error``; one still running is not counted.
        """
        ...


@runtime_checkable
class BookingStore(AppointmentStore, CallRecords, Protocol):
    """What the booking core reads and writes: appointments, customers, links, locks, and
    the calls a booking names."""


@runtime_checkable
class Repository(AppointmentStore, ToolCallLedger, CallRecords, Reports, Protocol):
    """The whole store: every concern above, as each backend implements it. Consumers ask
    for the one concern they use."""

    async def close(self) -> None: ...


@runtime_checkable
class BusinessScoped(Protocol):
    """A store that keeps businesses apart: itself the business ``default``'s, and
    :meth:`for_business` the view of another business over the same database."""

    business_id: str

    def for_business(self, business_id: str) -> Self:
        """The same database as business ``business_id`` sees it; closing the view is not
        needed (close the store it came from)."""
        ...


_Store = TypeVar("_Store")


def store_for_business(store: _Store, business_id: str) -> _Store:
    """``store`` as business ``business_id`` sees it. The business ``default`` is the store
    itself; any other needs a :class:`BusinessScoped` store (every backend here is one)."""
    if business_id == DEFAULT_BUSINESS_ID:
        return store
    if not isinstance(store, BusinessScoped):
        raise TypeError(f"{type(store).__name__} cannot keep businesses apart (no for_business)")
    return store.for_business(business_id)


def business_lock_name(business_id: str, name: str) -> str:
    """The name a business's lock ``name`` is held under: the business ``default`` keeps
    the names it always had, so replicas of an older release still exclude each other."""
    return name if business_id == DEFAULT_BUSINESS_ID else f"business:{business_id}:{name}"


@attrs.frozen
class CallCursor:
    """Where a page of :meth:`SupportReads.recent_calls` ended: the next page starts after it."""

    recorded_at: datetime
    call_id: str


@attrs.frozen
class CallEntry:
    """A stored call and when the store first heard of it (the order of the call list)."""

    call: Call
    recorded_at: datetime

    @property
    def cursor(self) -> CallCursor:
        return CallCursor(recorded_at=self.recorded_at, call_id=self.call.call_id)


@attrs.frozen
class PeriodOutcomes:
    """The function calls that ended within ``[start, end)``, counted as ``stats`` counts them.

    ``calls``: distinct calls; ``statuses``: function calls per status heard (an abandoned,
    unfinished one as ``error``; running ones not at all); ``orphaned_calls``: distinct calls
    with a finished tool call that touched a booking (:attr:`ToolCallRecord.booking_uid`)
    they are not linked to.
    """

    start: datetime
    end: datetime
    calls: int = 0
    statuses: dict[str, int] = attrs.field(factory=dict, hash=False)
    orphaned_calls: int = 0


@runtime_checkable
class SupportReads(Protocol):
    """The read-only queries of the support console: pages of a large history, in few trips.

    Every method reads, none changes anything; each answers from indexed columns, so a page
    stays fast with a history of a hundred thousand calls (``benchmarks/console.py``).
    """

    async def recent_calls(
        self,
        *,
        limit: int,
        after: CallCursor | None = None,
        call_id: str | None = None,
        number_suffix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CallEntry]:
        """At most ``limit`` calls, newest first (by ``recorded_at``, then call id descending).

        ``after`` continues a listing past that entry; ``call_id`` matches exactly;
        ``number_suffix`` (digits) matches calls whose from number (the caller's, for an
        inbound call) ends with it;
        ``since``/``until`` keep calls recorded within ``[since, until)``.
        """
        ...

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[CallEntry]:
        """The stored calls among ``call_ids``, in no particular order; unknown ids are left out."""
        ...

    async def tool_calls_of(self, call_ids: Sequence[str]) -> list[ToolCallRecord]:
        """Every stored function call of these calls, ordered by call id, then as
        :meth:`Repository.tool_call_records` orders them (by when they ended)."""
        ...

    async def links_of_calls(self, call_ids: Sequence[str]) -> list[CallLink]:
        """Every link of these calls, oldest first."""
        ...

    async def appointments_by_id(self, appointment_ids: Sequence[int]) -> list[Appointment]:
        """The stored appointments among these ids, ordered by start."""
        ...

    async def appointments_by_uid(self, booking_uids: Sequence[str]) -> list[Appointment]:
        """The stored appointments among these Cal.com uids, ordered by start."""
        ...

    async def customers_by_id(self, customer_ids: Sequence[int]) -> list[Customer]:
        """The stored customers among these ids, ordered by id."""
        ...

    async def period_outcomes(self, edges: Sequence[datetime]) -> list[PeriodOutcomes]:
        """One :class:`PeriodOutcomes` per period ``[edges[i], edges[i + 1])``, in order.

        Needs at least two ascending edges. Counted in the store, not by loading every
        record, so thirty days of a busy history take one round trip.
        """
        ...
