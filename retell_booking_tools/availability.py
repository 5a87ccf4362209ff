"""What is free: a day's starts, the nearest free days when it has none, and what a call
was already offered. No HTTP here.

Starts a call was offered (:class:`OfferedSlots`) let a following booking or reschedule
answer ``unavailable`` for a start that was not offered, with alternatives, without asking
Cal.com for slots again. They never make anything ``booked``: only Cal.com's answer books.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.domain import ToolStatus

logger = logging.getLogger(__name__)


def nearest(slots: Sequence[datetime], target: datetime, limit: int) -> tuple[datetime, ...]:
    """The ``limit`` slots closest to ``target`` (excluding it), in chronological order."""
    others = [slot.astimezone(UTC) for slot in slots if slot != target]
    closest = sorted(others, key=lambda slot: (abs(slot - target), slot))[:limit]
    return tuple(sorted(closest))


@attrs.frozen
class OfferedSlots:
    """Free starts a call was told about; every local day among them was listed whole.

    So a start on one of those days that is not among them was not free when asked.
    """

    starts: frozenset[datetime]
    zone: ZoneInfo

    @classmethod
    def of(cls, starts: Iterable[datetime], zone: ZoneInfo) -> OfferedSlots:
        return cls(frozenset(start.astimezone(UTC) for start in starts), zone)

    @property
    def days(self) -> frozenset[date]:
        return frozenset(start.astimezone(self.zone).date() for start in self.starts)

    def covers(self, start: datetime) -> bool:
        """Whether the start's day was listed, so the list alone says if it was free."""
        return start.astimezone(self.zone).date() in self.days

    def offers(self, start: datetime) -> bool:
        return start.astimezone(UTC) in self.starts

    def alternatives(self, start: datetime, *, now: datetime, limit: int) -> tuple[datetime, ...]:
        """Offered starts still ahead, nearest to ``start`` first chosen."""
        return nearest([s for s in self.starts if s > now], start, limit)


@attrs.frozen
class AvailabilityRequest:
    """A caller asking what is free on ``day`` (local), optionally at one ``start``."""

    day: date
    zone: ZoneInfo
    event_type_id: int
    start: datetime | None = None


@attrs.frozen
class Availability:
    """The answer. ``slots`` lists whole local days: the day asked for, or the nearest free
    days when it has none. ``alternatives`` are the starts nearest the request when it is
    ``unavailable``."""

    status: ToolStatus
    slots: tuple[datetime, ...] = ()
    alternatives: tuple[datetime, ...] = ()
    error_kind: str | None = None


class AvailabilityService:
    """Asks Cal.com for free starts once per question: the day and the days around it."""

    def __init__(
        self,
        *,
        calcom: CalcomClient,
        clock: Clock = system_clock,
        max_alternatives: int = 3,
        search_days: int = 7,
    ) -> None:
        self._calcom = calcom
        self._clock = clock
        self._max_alternatives = max_alternatives
        self._search = timedelta(days=search_days)

    async def check(self, request: AvailabilityRequest) -> Availability:
        """One slots request covering the day and ``search_days`` either side (not the past)."""
        now = self._clock()
        day_start = _local_midnight(request.day, request.zone)
        day_end = _local_midnight(request.day + timedelta(days=1), request.zone)
        try:
            found = await self._calcom.get_slots(
                event_type_id=request.event_type_id,
                start=max(day_start - self._search, now),
                end=day_end + self._search - timedelta(milliseconds=1),
                time_zone=request.zone.key,
            )
        except CalcomError as exc:
            logger.warning("could not fetch slots: %s", exc.kind)
            return Availability(ToolStatus.ERROR, error_kind=exc.kind)
        free = sorted({slot.astimezone(UTC) for slot in found if slot > now})
        on_day = tuple(s for s in free if s.astimezone(request.zone).date() == request.day)
        if request.start is not None:
            if request.start.astimezone(UTC) in on_day:
                return Availability(ToolStatus.AVAILABLE, slots=on_day)
            return Availability(
                ToolStatus.UNAVAILABLE,
                slots=on_day or _nearest_days(free, request),
                alternatives=nearest(free, request.start, self._max_alternatives),
            )
        if on_day:
            return Availability(ToolStatus.AVAILABLE, slots=on_day)
        midday = datetime.combine(request.day, time(12), tzinfo=request.zone)
        return Availability(
            ToolStatus.UNAVAILABLE,
            slots=_nearest_days(free, request),
            alternatives=nearest(free, midday, self._max_alternatives),
        )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _nearest_days(free: Sequence[datetime], request: AvailabilityRequest) -> tuple[datetime, ...]:
    """Every free start of the nearest free day before and the nearest after the one asked."""
    days = sorted({slot.astimezone(request.zone).date() for slot in free})
    before = [d for d in days if d < request.day][-1:]
    after = [d for d in days if d > request.day][:1]
    wanted = set(before + after)
    return tuple(s for s in free if s.astimezone(request.zone).date() in wanted)
