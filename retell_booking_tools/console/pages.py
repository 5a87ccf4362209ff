"""What each console page shows, read from the store in a few queries; no HTML here.

Times are shown in the business time zone; numbers and emails masked (``masking.py``).
Warning signs follow the rules of ``stats`` and ``doctor``: a tool call that answered
``error``, a result naming a booking its call is not linked to (unlinked), a duplicate
attempt (an ``existing`` answer or a ``duplicate_attempt`` link).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.console.masking import masked_email, masked_number, masked_value
from retell_booking_tools.domain import (
    Appointment,
    CallLink,
    Customer,
    Relationship,
    ToolCallRecord,
    ToolStatus,
)
from retell_booking_tools.ops.stats import DayStats, day_start
from retell_booking_tools.repository.protocol import (
    CallCursor,
    CallEntry,
    Repository,
    SupportReads,
)

__all__ = [
    "MIN_NUMBER_DIGITS",
    "PAGE_SIZE",
    "AppointmentPage",
    "CallPage",
    "CallRow",
    "CallSearch",
    "ConsoleStore",
    "appointment_page",
    "call_page",
    "call_rows",
    "cursor_text",
    "last_days",
    "recent_call_rows",
]

PAGE_SIZE = 50
MIN_NUMBER_DIGITS = 4
"""A number search needs the last four digits at least (what the console shows of one)."""
_SEPARATORS = re.compile(r"[\s\-().+/]")
_MAX_SEARCH = 200


@runtime_checkable
class ConsoleStore(Repository, SupportReads, Protocol):
    """A store the console can read: the ``Repository`` and its ``SupportReads``."""


@attrs.frozen
class CallSearch:
    """The call list's filters as typed in: a call id or a number's last digits, and a day."""

    call_id: str | None = None
    number_suffix: str | None = None
    day: date | None = None
    after: CallCursor | None = None
    problem: str | None = None
    """Why part of the input was ignored, to tell the person searching."""

    @classmethod
    def parse(cls, query: str | None, day: str | None, after: str | None) -> CallSearch:
        text = (query or "").strip()[:_MAX_SEARCH]
        digits = _SEPARATORS.sub("", text)
        call_id = number_suffix = None
        problem = None
        if digits.isdigit() and len(digits) >= MIN_NUMBER_DIGITS:
            number_suffix = digits[-15:]
        elif text:
            call_id = text  # too few digits for a number: perhaps a call id
            if digits.isdigit():
                problem = f"Type at least the last {MIN_NUMBER_DIGITS} digits of the number."
        chosen_day = None
        if day:
            try:
                chosen_day = date.fromisoformat(day.strip())
            except ValueError:
                problem = "The date must look like 2025-10-10; it was ignored."
        return cls(
            call_id=call_id,
            number_suffix=number_suffix,
            day=chosen_day,
            after=_cursor(after),
            problem=problem,
        )


def _cursor(text: str | None) -> CallCursor | None:
    if not text:
        return None
    instant, tilde, call_id = text.partition("~")
    if not tilde or not call_id:
        return None
    try:
        recorded_at = datetime.fromisoformat(instant)
    except ValueError:
        return None
    if recorded_at.tzinfo is None:
        return None
    return CallCursor(recorded_at=recorded_at, call_id=call_id)


def cursor_text(cursor: CallCursor) -> str:
    """The cursor as it travels in a link (``?after=``)."""
    return f"{cursor.recorded_at.isoformat()}~{cursor.call_id}"


@attrs.frozen
class ToolLine:
    """One function call as a row shows it."""

    tool: str
    status: str | None


@attrs.frozen
class CallRow:
    """One line of the call list."""

    call_id: str
    when: datetime
    agent_id: str | None
    number: str | None
    tools: tuple[ToolLine, ...]
    warnings: tuple[str, ...]


def _local(instant: datetime | None, zone: ZoneInfo) -> datetime | None:
    return instant.astimezone(zone) if instant is not None else None


def _warnings(
    records: Iterable[ToolCallRecord],
    links: Iterable[CallLink],
    by_uid: dict[str, Appointment],
) -> tuple[str, ...]:
    records = list(records)
    links = list(links)
    linked = {link.appointment_id for link in links}
    found = []
    if any(record.status == ToolStatus.ERROR.value for record in records):
        found.append("error")
    for record in records:
        uid = record.booking_uid
        if uid is not None and (uid not in by_uid or by_uid[uid].id not in linked):
            found.append("unlinked")
            break
    if any(link.relationship is Relationship.DUPLICATE_ATTEMPT for link in links) or any(
        record.status == ToolStatus.EXISTING.value for record in records
    ):
        found.append("duplicate attempt")
    return tuple(found)


async def call_rows(
    reads: SupportReads, entries: Sequence[CallEntry], zone: ZoneInfo
) -> list[CallRow]:
    """The rows for these calls: three queries, whatever the page's length."""
    ids = [entry.call.call_id for entry in entries]
    if not ids:
        return []
    records = await reads.tool_calls_of(ids)
    links = await reads.links_of_calls(ids)
    uids = sorted({r.booking_uid for r in records if r.booking_uid is not None})
    by_uid = {a.booking_uid: a for a in await reads.appointments_by_uid(uids)} if uids else {}
    records_of: dict[str, list[ToolCallRecord]] = {call_id: [] for call_id in ids}
    for record in records:
        records_of[record.key.call_id].append(record)
    links_of: dict[str, list[CallLink]] = {call_id: [] for call_id in ids}
    for link in links:
        links_of[link.call_id].append(link)
    rows = []
    for entry in entries:
        call = entry.call
        mine = sorted(records_of[call.call_id], key=lambda r: r.at)
        rows.append(
            CallRow(
                call_id=call.call_id,
                when=(call.started_at or entry.recorded_at).astimezone(zone),
                agent_id=call.agent_id,
                number=masked_number(call.from_number) or masked_number(call.to_number),
                tools=tuple(ToolLine(r.key.tool, r.status) for r in mine),
                warnings=_warnings(mine, links_of[call.call_id], by_uid),
            )
        )
    return rows


async def recent_call_rows(
    reads: SupportReads, search: CallSearch, zone: ZoneInfo
) -> tuple[list[CallRow], CallCursor | None]:
    """One page of the call list, newest first, and the cursor of the next page (if any)."""
    since = until = None
    if search.day is not None:
        since = day_start(search.day, zone)
        until = day_start(search.day + timedelta(days=1), zone)
    entries = await reads.recent_calls(
        limit=PAGE_SIZE + 1,
        after=search.after,
        call_id=search.call_id,
        number_suffix=search.number_suffix,
        since=since,
        until=until,
    )
    more = entries[PAGE_SIZE - 1].cursor if len(entries) > PAGE_SIZE else None
    return await call_rows(reads, entries[:PAGE_SIZE], zone), more


@attrs.frozen
class TimelineEvent:
    """One thing that happened in a call, in the order it happened."""

    at: datetime | None
    kind: str
    """``started``, ``tool``, ``link`` or ``ended``."""
    title: str
    status: str | None = None
    message: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict, hash=False)
    appointment: Appointment | None = None


@attrs.frozen
class LinkedAppointment:
    """An appointment as a call (or the appointment page) shows it, with its customer."""

    appointment: Appointment
    link: CallLink
    start: datetime
    end: datetime


@attrs.frozen
class CallPage:
    """The call's timeline and what it touched."""

    call_id: str
    row: CallRow | None
    agent_id: str | None
    from_number: str | None
    to_number: str | None
    started_at: datetime | None
    ended_at: datetime | None
    disconnection_reason: str | None
    customer_name: str | None
    customer_email: str | None
    events: tuple[TimelineEvent, ...]
    appointments: tuple[LinkedAppointment, ...]


def _result_details(record: ToolCallRecord) -> dict[str, Any]:
    """What the result said besides its status and message, masked, for the timeline.

    The ledger keeps a digest of the arguments, not the arguments themselves, so the digest
    is what the timeline can show of them (retries of one function call share it).
    """
    result = dict(record.result or {})
    result.pop("status", None)
    result.pop("message", None)
    details: dict[str, Any] = {"arguments digest": record.key.args_digest}
    if record.abandoned:
        details["abandoned"] = "the last delivery gave up and no retry finished it"
    if record.result is None and not record.abandoned:
        details["state"] = "still running or never finished"
    for key, value in result.items():
        details[key] = masked_value(value)
    return details


async def call_page(reads: SupportReads, call_id: str, zone: ZoneInfo) -> CallPage | None:
    """Everything about one call, or None when the store knows nothing of it."""
    entries = await reads.calls_by_id([call_id])
    records = sorted(await reads.tool_calls_of([call_id]), key=lambda r: r.at)
    links = await reads.links_of_calls([call_id])
    if not entries and not records and not links:
        return None
    appointment_ids = sorted({link.appointment_id for link in links})
    by_id = {a.id: a for a in await reads.appointments_by_id(appointment_ids)}
    call = entries[0].call if entries else None
    customer = None
    if call is not None and call.customer_id is not None:
        found = await reads.customers_by_id([call.customer_id])
        customer = found[0] if found else None
    events: list[TimelineEvent] = []
    if call is not None and call.started_at is not None:
        events.append(
            TimelineEvent(at=call.started_at.astimezone(zone), kind="started", title="Call started")
        )
    for record in records:
        events.append(
            TimelineEvent(
                at=record.at.astimezone(zone),
                kind="tool",
                title=record.key.tool,
                status=record.status,
                message=str(record.result["message"])
                if record.result and "message" in record.result
                else None,
                details=_result_details(record),
            )
        )
    for link in links:
        events.append(
            TimelineEvent(
                at=link.linked_at.astimezone(zone),
                kind="link",
                title=f"Linked as {link.relationship.value}",
                details=masked_value(dict(link.metadata)),
                appointment=by_id.get(link.appointment_id),
            )
        )
    if call is not None and call.ended_at is not None:
        events.append(
            TimelineEvent(
                at=call.ended_at.astimezone(zone),
                kind="ended",
                title="Call ended",
                message=call.disconnection_reason,
            )
        )
    order = {"started": 0, "tool": 1, "link": 2, "ended": 3}
    events.sort(
        key=lambda e: (e.at is None, e.at or datetime.min.replace(tzinfo=zone), order[e.kind])
    )
    rows = await call_rows(reads, entries, zone) if entries else []
    return CallPage(
        call_id=call_id,
        row=rows[0] if rows else None,
        agent_id=call.agent_id if call else None,
        from_number=masked_number(call.from_number) if call else None,
        to_number=masked_number(call.to_number) if call else None,
        started_at=_local(call.started_at, zone) if call else None,
        ended_at=_local(call.ended_at, zone) if call else None,
        disconnection_reason=call.disconnection_reason if call else None,
        customer_name=customer.name if customer else None,
        customer_email=masked_email(customer.email) if customer else None,
        events=tuple(events),
        appointments=tuple(
            LinkedAppointment(
                appointment=by_id[link.appointment_id],
                link=attrs.evolve(link, metadata=masked_value(dict(link.metadata))),
                start=by_id[link.appointment_id].start.astimezone(zone),
                end=by_id[link.appointment_id].end.astimezone(zone),
            )
            for link in links
            if link.appointment_id in by_id
        ),
    )


@attrs.frozen
class LinkedCall:
    """A call linked to the appointment: the link, the call's row and what it was told."""

    link: CallLink
    row: CallRow | None
    told: tuple[TimelineEvent, ...]


@attrs.frozen
class AppointmentPage:
    """One appointment and every call linked to it, in the order they were linked."""

    appointment: Appointment
    start: datetime
    end: datetime
    customer: Customer | None
    customer_email: str | None
    contact_email: str | None
    contact_phone: str | None
    calls: tuple[LinkedCall, ...]


async def appointment_page(
    reads: ConsoleStore, reference: str, zone: ZoneInfo
) -> AppointmentPage | None:
    """By booking uid, else by numeric id; None when neither is stored."""
    found = await reads.appointments_by_uid([reference])
    if not found and reference.isdigit() and len(reference) < 19:
        found = await reads.appointments_by_id([int(reference)])
    if not found:
        return None
    appointment = found[0]
    links = await reads.links_for_appointment(appointment.id)
    call_ids = list(dict.fromkeys(link.call_id for link in links))
    entries = await reads.calls_by_id(call_ids) if call_ids else []
    rows = {row.call_id: row for row in await call_rows(reads, entries, zone)}
    records = await reads.tool_calls_of(call_ids) if call_ids else []
    told: dict[str, list[TimelineEvent]] = {call_id: [] for call_id in call_ids}
    for record in sorted(records, key=lambda r: r.at):
        if record.booking_uid == appointment.booking_uid:
            told[record.key.call_id].append(
                TimelineEvent(
                    at=record.at.astimezone(zone),
                    kind="tool",
                    title=record.key.tool,
                    status=record.status,
                    message=str((record.result or {}).get("message", "")) or None,
                )
            )
    customers = await reads.customers_by_id([appointment.customer_id])
    customer = customers[0] if customers else None
    return AppointmentPage(
        appointment=appointment,
        start=appointment.start.astimezone(zone),
        end=appointment.end.astimezone(zone),
        customer=customer,
        customer_email=masked_email(customer.email) if customer else None,
        contact_email=masked_email(appointment.contact_email),
        contact_phone=masked_number(appointment.contact_phone),
        calls=tuple(
            LinkedCall(
                link=attrs.evolve(link, metadata=masked_value(dict(link.metadata))),
                row=rows.get(link.call_id),
                told=tuple(told.get(link.call_id, ())),
            )
            for link in links
        ),
    )


async def last_days(
    reads: SupportReads, *, days: int, zone: ZoneInfo, now: datetime
) -> list[DayStats]:
    """The numbers of ``stats`` for the last ``days`` business days, oldest first."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    wanted = [first + timedelta(days=offset) for offset in range(days + 1)]
    periods = await reads.period_outcomes([day_start(day, zone) for day in wanted])
    return [
        DayStats(
            date=day,
            calls=period.calls,
            bookings=period.statuses.get(ToolStatus.BOOKED.value, 0),
            duplicates=period.statuses.get(ToolStatus.EXISTING.value, 0),
            conflicts=period.statuses.get(ToolStatus.CONFLICT.value, 0),
            errors=period.statuses.get(ToolStatus.ERROR.value, 0),
            orphaned_calls=period.orphaned_calls,
        )
        for day, period in zip(wanted, periods, strict=False)
    ]
