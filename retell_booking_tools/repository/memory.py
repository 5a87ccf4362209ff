"""An in-memory repository: fast and faithful to the contract, for tests and experiments."""

from __future__ import annotations

import bisect
import copy
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
    ToolCallBusy,
    ToolCallClaim,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
    ToolCallRecord,
    customer_key,
    new_booking_reference,
)
from retell_booking_tools.repository.locks import NamedLocks
from retell_booking_tools.repository.protocol import (
    CallCursor,
    CallEntry,
    PeriodOutcomes,
    business_lock_name,
)

_Row = TypeVar("_Row", Customer, Appointment, Call)


@attrs.define
class _ToolCallRow:
    claimed_at: datetime
    result: dict[str, Any] | None = None
    abandoned: bool = False
    finished_at: datetime | None = None
    tool_call_id: str | None = None
    finished_seen: int = 0
    booking_uid: str | None = None


class InMemoryRepository:
    """Keeps everything in dicts; one process only, lost on exit.

    The store itself is the business ``default``'s; :meth:`for_business` is another
    business's view of the same data (see :class:`~retell_booking_tools.repository.protocol.
    BusinessScoped`).
    """

    business_id: str = DEFAULT_BUSINESS_ID

    def for_business(self, business_id: str) -> InMemoryRepository:
        view = copy.copy(self)
        view.business_id = business_id
        return view

    def __init__(self) -> None:
        self._customers: dict[int, Customer] = {}
        self._appointments: dict[int, Appointment] = {}
        self._calls: dict[str, Call] = {}
        self._call_recorded_at: dict[str, datetime] = {}
        self._links: list[CallLink] = []
        self._tool_calls: dict[ToolCallKey, _ToolCallRow] = {}
        self._offered: defaultdict[str, set[OfferedStart]] = defaultdict(set)
        self._misses: list[tuple[str, str | None, datetime]] = []
        self._ids = itertools.count(1)
        self._locks = NamedLocks()

    async def upsert_customer(
        self,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        call_id: str | None = None,
        key: str | None = None,
    ) -> Customer:
        key = key or customer_key(phone, email and email.lower())
        found = self._find_customer(key)
        if found is None:
            customer = Customer(
                id=next(self._ids),
                name=name,
                phone=phone,
                email=email and email.lower(),
                identity_key=key,
                business_id=self.business_id,
            )
        else:
            customer = attrs.evolve(
                found, name=found.name or name, email=found.email or (email and email.lower())
            )
        self._customers[customer.id] = customer
        if call_id is not None:
            await self.upsert_call(Call(call_id=call_id, customer_id=customer.id))
        return customer

    def _find_customer(self, key: str | None) -> Customer | None:
        if key is None:
            return None
        for customer in self._customers.values():
            if customer.identity_key == key and customer.business_id == self.business_id:
                return customer
        return None

    async def get_customer(self, customer_id: int) -> Customer | None:
        return self._own(self._customers.get(customer_id))

    def _own(self, row: _Row | None) -> _Row | None:
        """``row`` when it is this business's, else None."""
        return row if row is not None and row.business_id == self.business_id else None

    async def add_appointment(self, new: NewAppointment) -> tuple[Appointment, bool]:
        # A uid is unique in the whole store, as the SQL constraint holds it.
        for existing in self._appointments.values():
            if existing.booking_uid == new.booking_uid:
                return existing, False
        references = {a.booking_reference for a in self._appointments.values()}
        reference = new.booking_reference or new_booking_reference()
        while reference in references:
            reference = new_booking_reference()
        appointment = Appointment(
            id=next(self._ids),
            customer_id=new.customer_id,
            booking_uid=new.booking_uid,
            event_type_id=new.event_type_id,
            start=new.start,
            end=new.end,
            timezone=new.timezone,
            status=new.status,
            created_at=datetime.now(UTC),
            rescheduled_from_uid=new.rescheduled_from_uid,
            booking_reference=reference,
            attendee_name=new.attendee_name,
            contact_email=new.contact_email,
            contact_phone=new.contact_phone,
            business_id=self.business_id,
        )
        self._appointments[appointment.id] = appointment
        return appointment, True

    async def get_appointment(self, appointment_id: int) -> Appointment | None:
        return self._own(self._appointments.get(appointment_id))

    async def get_appointment_by_uid(self, booking_uid: str) -> Appointment | None:
        for appointment in self._appointments.values():
            if appointment.booking_uid == booking_uid:
                return self._own(appointment)
        return None

    async def get_appointment_by_reference(self, booking_reference: str) -> Appointment | None:
        for appointment in self._appointments.values():
            if appointment.booking_reference == booking_reference:
                return self._own(appointment)
        return None

    async def record_reference_miss(
        self, *, call_id: str, number: str | None, at: datetime
    ) -> None:
        self._misses.append((call_id, number, at))

    async def reference_misses(
        self,
        *,
        since: datetime,
        call_id: str | None = None,
        number: str | None = None,
        business_id: str | None = None,
    ) -> int:
        return sum(
            1
            for missed_call, missed_number, at in self._misses
            if at >= since
            and (call_id is None or missed_call == call_id)
            and (number is None or missed_number == number)
            and (business_id is None or self._business_of_call(missed_call) == business_id)
        )

    async def list_customers(self) -> list[Customer]:
        return sorted(self._customers.values(), key=lambda c: c.id)

    async def appointments_at(self, *, event_type_id: int, start: datetime) -> list[Appointment]:
        return [
            a
            for a in self._appointments.values()
            if a.event_type_id == event_type_id
            and a.start == start
            and a.business_id == self.business_id
        ]

    async def appointments_for_customer(self, customer_id: int) -> list[Appointment]:
        found = [a for a in self._appointments.values() if a.customer_id == customer_id]
        return sorted(found, key=lambda a: (a.start, a.id))

    async def set_appointment_status(
        self, appointment_id: int, status: AppointmentStatus
    ) -> Appointment:
        appointment = attrs.evolve(self._appointments[appointment_id], status=status)
        self._appointments[appointment_id] = appointment
        return appointment

    async def record_calcom_change(
        self, appointment_id: int, status: AppointmentStatus, *, event_at: datetime
    ) -> Appointment:
        appointment = attrs.evolve(
            self._appointments[appointment_id], status=status, calcom_event_at=event_at
        )
        self._appointments[appointment_id] = appointment
        return appointment

    async def upsert_call(self, call: Call) -> Call:
        stored = self._calls.get(call.call_id)
        if stored is not None:
            changes = {
                field.name: getattr(call, field.name)
                for field in attrs.fields(Call)
                if getattr(call, field.name) is not None
            }
            call = attrs.evolve(stored, **changes, business_id=stored.business_id)
        else:
            call = attrs.evolve(call, business_id=self.business_id)
        self._calls[call.call_id] = call
        self._call_recorded_at.setdefault(call.call_id, datetime.now(UTC))
        return call

    async def get_call(self, call_id: str) -> Call | None:
        return self._own(self._calls.get(call_id))

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        for stored in self._links:
            if (stored.call_id, stored.appointment_id, stored.relationship) == (
                link.call_id,
                link.appointment_id,
                link.relationship,
            ):
                return stored, False
        self._links.append(link)
        return link, True

    async def links_for_call(self, call_id: str) -> list[CallLink]:
        return [link for link in self._links if link.call_id == call_id]

    async def links_for_appointment(self, appointment_id: int) -> list[CallLink]:
        return [link for link in self._links if link.appointment_id == appointment_id]

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta, call: Call | None = None
    ) -> ToolCallClaim:
        if call is not None:
            await self.upsert_call(call)
        row = self._tool_calls.get(key)
        if row is None:
            self._tool_calls[key] = _ToolCallRow(
                claimed_at=now, finished_seen=self._finished_in(key.call_id)
            )
            return ToolCallClaimed(resumed=False)
        return self._claim_row(key, row, now=now, lease=lease)

    def _claim_row(
        self, key: ToolCallKey, row: _ToolCallRow, *, now: datetime, lease: timedelta
    ) -> ToolCallClaim:
        if row.result is not None:
            return ToolCallFinished(result=row.result)
        if row.abandoned or now - row.claimed_at >= lease:
            row.claimed_at, row.abandoned = now, False
            return ToolCallClaimed(resumed=True)
        return ToolCallBusy()

    async def claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: datetime,
        lease: timedelta,
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        if call is not None:
            await self.upsert_call(call)
        rows = [
            (stored, row)
            for stored, row in self._tool_calls.items()
            if (stored.call_id, stored.tool, stored.args_digest)
            == (key.call_id, key.tool, key.args_digest)
        ]
        if rows:
            latest, row = max(rows, key=lambda item: item[0].seq)
            if row.result is None:
                return latest, self._claim_row(latest, row, now=now, lease=lease)
            assert row.finished_at is not None
            if invocation.replays(
                latest.seq,
                claimed_by=row.tool_call_id,
                finished_seen=row.finished_seen,
                finished_now=self._finished_in(key.call_id) - 1,
                finished_at=row.finished_at,
                now=now,
                window=lease,
            ):
                return latest, ToolCallFinished(result=row.result)
            key = attrs.evolve(latest, seq=latest.seq + 1)
        else:
            key = attrs.evolve(key, seq=0)
        self._tool_calls[key] = _ToolCallRow(
            claimed_at=now,
            tool_call_id=invocation.tool_call_id,
            finished_seen=self._finished_in(key.call_id),
        )
        return key, ToolCallClaimed(resumed=False)

    def _finished_in(self, call_id: str) -> int:
        """How many tool calls of the call have finished."""
        return sum(
            1
            for key, row in self._tool_calls.items()
            if key.call_id == call_id and row.result is not None
        )

    async def finish_tool_call(
        self,
        key: ToolCallKey,
        result: dict[str, Any],
        *,
        now: datetime,
        facts: ResultFacts = NO_FACTS,
    ) -> None:
        row = self._tool_calls.get(key)
        if row is None:
            row = self._tool_calls[key] = _ToolCallRow(claimed_at=now)
        row.claimed_at, row.finished_at, row.abandoned = now, now, False
        row.result = dict(result)
        row.booking_uid = facts.booking_uid
        self._offered[key.call_id].update(
            OfferedStart(start, facts.listed_whole) for start in facts.offered
        )

    async def offered_starts(self, call_id: str) -> list[OfferedStart]:
        offered = self._offered.get(call_id, set())
        return sorted(offered, key=lambda o: (o.start, o.listed_whole))

    async def tool_call_results(self, call_id: str, tool: str) -> list[dict[str, Any]]:
        finished = [
            row
            for key, row in self._tool_calls.items()
            if key.call_id == call_id and key.tool == tool and row.result is not None
        ]
        finished.sort(key=lambda row: row.claimed_at)
        return [dict(row.result) for row in finished if row.result is not None]

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        row = self._tool_calls.get(key)
        if row is not None and row.result is None:
            row.abandoned = True

    async def find_customer(
        self, *, phone: str | None, email: str | None, key: str | None = None
    ) -> Customer | None:
        return self._find_customer(key or customer_key(phone, email and email.lower()))

    async def list_appointments(self, *, ending_after: datetime | None = None) -> list[Appointment]:
        found = [
            a for a in self._appointments.values() if ending_after is None or a.end > ending_after
        ]
        return sorted(found, key=lambda a: (a.start, a.id))

    async def list_links(self, *, since: datetime | None = None) -> list[CallLink]:
        return [link for link in self._links if since is None or link.linked_at >= since]

    async def tool_call_records(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[ToolCallRecord]:
        records = [
            ToolCallRecord(
                key=key,
                claimed_at=row.claimed_at,
                finished_at=row.finished_at,
                abandoned=row.abandoned and row.result is None,
                result=dict(row.result) if row.result is not None else None,
                booking_uid=row.booking_uid if row.result is not None else None,
                business_id=self._business_of_call(key.call_id),
            )
            for key, row in self._tool_calls.items()
        ]
        chosen = [
            r
            for r in records
            if (since is None or r.at >= since) and (until is None or r.at < until)
        ]
        return sorted(
            chosen, key=lambda r: (r.at, r.key.call_id, r.key.tool, r.key.args_digest, r.key.seq)
        )

    def _business_of_call(self, call_id: str) -> str:
        call = self._calls.get(call_id)
        return (call.business_id if call else None) or DEFAULT_BUSINESS_ID

    async def tool_outcome_counts(
        self, *, business_id: str | None = None
    ) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for record in await self.tool_call_records():
            if business_id is not None and record.business_id != business_id:
                continue
            if record.status is not None:
                outcome = (record.key.tool, record.status)
                counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks.hold(business_lock_name(self.business_id, name)):
            yield

    async def close(self) -> None:
        return None

    # -- the support console's reads (SupportReads) ---------------------------------------

    def _entry(self, call: Call) -> CallEntry:
        return CallEntry(call=call, recorded_at=self._call_recorded_at[call.call_id])

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
        def wanted(entry: CallEntry) -> bool:
            call = entry.call
            return (
                (
                    after is None
                    or (entry.recorded_at, call.call_id) < (after.recorded_at, after.call_id)
                )
                and (call_id is None or call.call_id == call_id)
                and (number_suffix is None or (call.from_number or "").endswith(number_suffix))
                and (since is None or entry.recorded_at >= since)
                and (until is None or entry.recorded_at < until)
            )

        entries = [e for e in map(self._entry, self._calls.values()) if wanted(e)]
        entries.sort(key=lambda e: (e.recorded_at, e.call.call_id), reverse=True)
        return entries[:limit]

    async def calls_by_id(self, call_ids: Sequence[str]) -> list[CallEntry]:
        return [self._entry(self._calls[i]) for i in dict.fromkeys(call_ids) if i in self._calls]

    async def tool_calls_of(self, call_ids: Sequence[str]) -> list[ToolCallRecord]:
        wanted = set(call_ids)
        records = [r for r in await self.tool_call_records() if r.key.call_id in wanted]
        return sorted(records, key=lambda r: r.key.call_id)

    async def links_of_calls(self, call_ids: Sequence[str]) -> list[CallLink]:
        wanted = set(call_ids)
        return [link for link in self._links if link.call_id in wanted]

    async def appointments_by_id(self, appointment_ids: Sequence[int]) -> list[Appointment]:
        wanted = set(appointment_ids)
        found = [a for a in self._appointments.values() if a.id in wanted]
        return sorted(found, key=lambda a: (a.start, a.id))

    async def appointments_by_uid(self, booking_uids: Sequence[str]) -> list[Appointment]:
        wanted = set(booking_uids)
        found = [a for a in self._appointments.values() if a.booking_uid in wanted]
        return sorted(found, key=lambda a: (a.start, a.id))

    async def customers_by_id(self, customer_ids: Sequence[int]) -> list[Customer]:
        return [self._customers[i] for i in sorted(set(customer_ids)) if i in self._customers]

    async def period_outcomes(self, edges: Sequence[datetime]) -> list[PeriodOutcomes]:
        if len(edges) < 2 or any(a >= b for a, b in itertools.pairwise(edges)):
            raise ValueError("period_outcomes needs at least two ascending edges")
        calls: list[set[str]] = [set() for _ in edges[1:]]
        orphaned: list[set[str]] = [set() for _ in edges[1:]]
        statuses: list[dict[str, int]] = [{} for _ in edges[1:]]
        linked = {(link.call_id, link.appointment_id) for link in self._links}
        for record in await self.tool_call_records(since=edges[0], until=edges[-1]):
            period = bisect.bisect_right(edges, record.at) - 1
            calls[period].add(record.key.call_id)
            if record.status is not None:
                statuses[period][record.status] = statuses[period].get(record.status, 0) + 1
            if record.booking_uid is not None:
                appointment = await self.get_appointment_by_uid(record.booking_uid)
                if appointment is None or (record.key.call_id, appointment.id) not in linked:
                    orphaned[period].add(record.key.call_id)
        return [
            PeriodOutcomes(
                start=start,
                end=end,
                calls=len(calls[i]),
                statuses=statuses[i],
                orphaned_calls=len(orphaned[i]),
            )
            for i, (start, end) in enumerate(itertools.pairwise(edges))
        ]
