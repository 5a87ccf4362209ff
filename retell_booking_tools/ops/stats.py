"""Daily numbers from the store (``retell-booking-tools stats``), per day in the business zone.

Every number counts stored function calls, so it survives restarts and is the same from
every replica. A function call belongs to the day it ended (or was last claimed, if it
never finished):

- ``calls``: distinct Retell calls with at least one function call that day;
- ``bookings``: results ``booked``; ``duplicates``: results ``existing``;
  ``conflicts``: results ``conflict``; ``errors``: function calls whose last delivery
  answered ``error`` and that no retry finished;
- ``orphaned_calls``: distinct calls whose result that day names a booking the call is not
  linked to (the incident's gap; ``doctor --fix`` repairs them, so this should be 0);
- ``duplicate_rate``: ``duplicates / (bookings + duplicates)``, 0 when both are 0.

The numbers are one business's (the calls that are its own), in its time zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.domain import DEFAULT_BUSINESS_ID, ToolCallRecord, ToolStatus
from retell_booking_tools.repository.protocol import Repository

__all__ = ["DayStats", "daily_stats", "day_start"]


@attrs.frozen
class DayStats:
    """One business day's numbers; see the module docstring for what each counts."""

    date: date
    calls: int = 0
    bookings: int = 0
    duplicates: int = 0
    conflicts: int = 0
    errors: int = 0
    orphaned_calls: int = 0

    @property
    def duplicate_rate(self) -> float:
        attempts = self.bookings + self.duplicates
        return round(self.duplicates / attempts, 4) if attempts else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "calls": self.calls,
            "bookings": self.bookings,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "errors": self.errors,
            "orphaned_calls": self.orphaned_calls,
            "duplicate_rate": self.duplicate_rate,
        }


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant a business day begins (local midnight, whatever the clocks do)."""
    return datetime.combine(day, time(0), tzinfo=zone)


async def daily_stats(
    repository: Repository,
    *,
    days: int,
    zone: ZoneInfo,
    now: datetime,
    business_id: str = DEFAULT_BUSINESS_ID,
) -> list[DayStats]:
    """The last ``days`` business days up to today, oldest first, days without calls as 0:
    the calls of business ``business_id``, whose view of the store ``repository`` is."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    records = await repository.tool_call_records(since=day_start(first, zone))
    by_day: defaultdict[date, list[ToolCallRecord]] = defaultdict(list)
    for record in records:
        if record.business_id == business_id:
            by_day[record.at.astimezone(zone).date()].append(record)
    wanted = [first + timedelta(days=offset) for offset in range(days)]
    return [await _day(repository, day, by_day[day]) for day in wanted]


async def _day(repository: Repository, day: date, records: Iterable[ToolCallRecord]) -> DayStats:
    counts: defaultdict[str | None, int] = defaultdict(int)
    calls: set[str] = set()
    orphaned: set[str] = set()
    for record in records:
        calls.add(record.key.call_id)
        if record.booking_attempt or record.status != ToolStatus.EXISTING.value:
            counts[record.status] += 1
        if record.booking_uid is not None and await _unlinked(
            repository, record.key.call_id, record.booking_uid
        ):
            orphaned.add(record.key.call_id)
    return DayStats(
        date=day,
        calls=len(calls),
        bookings=counts[ToolStatus.BOOKED.value],
        duplicates=counts[ToolStatus.EXISTING.value],
        conflicts=counts[ToolStatus.CONFLICT.value],
        errors=counts[ToolStatus.ERROR.value],
        orphaned_calls=len(orphaned),
    )


async def _unlinked(repository: Repository, call_id: str, booking_uid: str) -> bool:
    appointment = await repository.get_appointment_by_uid(booking_uid)
    if appointment is None:
        return True
    links = await repository.links_for_call(call_id)
    return not any(link.appointment_id == appointment.id for link in links)
