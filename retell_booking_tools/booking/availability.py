"""What is free: a day's starts, the nearest free days when it has none, and what a call
was already offered. No HTTP here.

Starts a call was offered (:class:`OfferedSlots`) let a following booking or reschedule
answer ``unavailable`` for a start that was not offered, with alternatives, without asking
Cal.com for slots again. They never make anything ``booked``: only Cal.com's answer books.

Slot reads are coalesced (:class:`SlotReads`): one Cal.com request per event type and day
(or range of days) asked about, shared by concurrent questions and reused for a few
seconds, and dropped as soon as a booking, reschedule, cancellation or Cal.com webhook
touches a day it covers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.domain import ToolStatus

logger = logging.getLogger(__name__)

PartOfDay = Literal["morning", "afternoon", "evening"]
"""A part of a day in business time: ``morning`` before 12:00, ``afternoon`` from 12:00 to
17:00, ``evening`` from 17:00."""
_PARTS_OF_DAY: dict[PartOfDay, tuple[time, time]] = {
    "morning": (time(0), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time.max),
}


def in_part_of_day(start: datetime, part: PartOfDay | None, zone: ZoneInfo) -> bool:
    """Whether ``start`` begins in ``part`` of its local day (any start, without a part)."""
    if part is None:
        return True
    first, last = _PARTS_OF_DAY[part]
    return first <= start.astimezone(zone).time() < last


def nearest(slots: Sequence[datetime], target: datetime, limit: int) -> tuple[datetime, ...]:
    """The ``limit`` slots closest to ``target`` (excluding it), in chronological order."""
    others = [slot.astimezone(UTC) for slot in slots if slot != target]
    closest = sorted(others, key=lambda slot: (abs(slot - target), slot))[:limit]
    return tuple(sorted(closest))


@attrs.frozen
class OfferedSlots:
    """Free starts a call was told about, and the local days it was told every free start of.

    So a start on one of those :attr:`days` that is not among them was not free when asked.
    A day listed only in part (a long day's list is shortened) says nothing about the starts
    it left out: Cal.com decides those.
    """

    starts: frozenset[datetime]
    zone: ZoneInfo
    whole_days: frozenset[date] | None = None
    """The days listed whole; None: every day among ``starts``."""

    @classmethod
    def of(
        cls, starts: Iterable[datetime], zone: ZoneInfo, *, in_part: Iterable[datetime] = ()
    ) -> OfferedSlots:
        """``starts`` from answers that listed their days whole, ``in_part`` from answers
        that listed only some starts of theirs."""
        whole = frozenset(start.astimezone(UTC) for start in starts)
        some = frozenset(start.astimezone(UTC) for start in in_part)
        days = frozenset(start.astimezone(zone).date() for start in whole)
        return cls(whole | some, zone, days)

    @property
    def days(self) -> frozenset[date]:
        """The local days whose every free start was listed."""
        if self.whole_days is not None:
            return self.whole_days
        return frozenset(start.astimezone(self.zone).date() for start in self.starts)

    def covers(self, start: datetime) -> bool:
        """Whether the start's day was listed whole, so the list alone says if it was free."""
        return start.astimezone(self.zone).date() in self.days

    def offers(self, start: datetime) -> bool:
        return start.astimezone(UTC) in self.starts

    def alternatives(self, start: datetime, *, now: datetime, limit: int) -> tuple[datetime, ...]:
        """Offered starts still ahead, nearest to ``start`` first chosen."""
        return nearest([s for s in self.starts if s > now], start, limit)


class SharedSlots(Protocol):
    """Slot reads kept where every replica sees them (the PostgreSQL store): one business's
    (one Cal.com account's) reads, never shared with another business's."""

    async def get(
        self, key: str, *, fresh_after: datetime
    ) -> tuple[tuple[datetime, ...], list[tuple[datetime, datetime]]] | None: ...

    async def put(
        self,
        key: str,
        *,
        event_type_id: int,
        window: tuple[datetime, datetime],
        slots: tuple[datetime, ...],
        fetched_at: datetime,
    ) -> None: ...

    async def booked(self, start: datetime, end: datetime, event_type_id: int) -> None: ...

    async def touched(self, instant: datetime, event_type_id: int | None) -> None: ...


def _without(
    slots: tuple[datetime, ...], taken: Sequence[tuple[datetime, datetime]]
) -> tuple[datetime, ...]:
    """``slots`` minus every start overlapping one of the ``taken`` bookings."""
    if not taken:
        return slots
    return tuple(
        slot for slot in slots if not any(abs(slot - start) < end - start for start, end in taken)
    )


@attrs.frozen
class _Key:
    """What one read answers: an event type, local days ``day`` to ``last_day``, a zone."""

    event_type_id: int
    day: date
    last_day: date
    zone: str

    @property
    def name(self) -> str:
        """The shared row's key: ``id|day|zone`` for a day, ``id|day..last_day|zone``."""
        days = self.day.isoformat()
        if self.last_day != self.day:
            days = f"{days}..{self.last_day.isoformat()}"
        return f"{self.event_type_id}|{days}|{self.zone}"


@attrs.define
class _Read:
    task: asyncio.Future[tuple[datetime, ...]]
    start: datetime
    end: datetime
    fetched_at: datetime | None = None
    taken: list[tuple[datetime, datetime]] = attrs.Factory(list)
    """Bookings made through this process since the read: their starts are left out."""


class SlotReads:
    """Free starts of one event type around one local day (or range of days):
    ``search_days`` either side, in one Cal.com request that concurrent questions about
    that day (or range) share.

    A finished answer is reused for ``reuse_seconds`` (0: never), unless :meth:`touched`
    named an instant inside its window first: a refused booking, a reschedule, a
    cancellation or a webhook that changed something there drops it. A booking this process
    just made (:meth:`booked`) leaves its start and every start overlapping it out of the
    reused answer instead, so nobody is offered a start that was just taken and a busy line
    does not re-read the day after every booking. A failed read is not kept.

    With ``shared`` (the PostgreSQL store) the reads, bookings and drops are shared by every
    replica; this process then only joins reads in flight. No lock is held around a read
    (the booking paths already hold the slot's), so two replicas asking about one day at
    the very same moment may both read it once. Without it they are this
    process's: another replica's booking reaches it through its Cal.com webhook, and an
    offered start is only ever booked by Cal.com's answer.
    """

    def __init__(
        self,
        calcom: CalcomClient,
        *,
        clock: Clock = system_clock,
        reuse_seconds: float = 5.0,
        search_days: int = 7,
        shared: SharedSlots | None = None,
    ) -> None:
        self._calcom = calcom
        self._clock = clock
        self._reuse = timedelta(seconds=reuse_seconds)
        self._search = timedelta(days=search_days)
        self._reads: dict[_Key, _Read] = {}
        self._shared = shared

    def window(
        self, day: date, zone: ZoneInfo, last_day: date | None = None
    ) -> tuple[datetime, datetime]:
        """The instants one read covers for ``day`` (to ``last_day``): whole local days,
        ``search_days`` around."""
        start = _local_midnight(day, zone) - self._search
        end = _local_midnight((last_day or day) + timedelta(days=1), zone) + self._search
        return start, end - timedelta(milliseconds=1)

    async def around(
        self, event_type_id: int, day: date, zone: ZoneInfo, last_day: date | None = None
    ) -> tuple[datetime, ...]:
        """Free starts in :meth:`window` of ``day`` (to ``last_day``; those already past
        included: filter). A range of days is one read of its own, shared like a day's; a
        range of one day is that day's read."""
        key = _Key(event_type_id, day, max(last_day or day, day), zone.key)
        read = self._reads.get(key)
        if read is None or not self._usable(read):
            start, end = self.window(key.day, zone, key.last_day)
            task = asyncio.ensure_future(self._read(key, start, end, zone))
            read = self._reads[key] = _Read(task, start, end)
            task.add_done_callback(functools.partial(self._settled, key, read))
        return _without(await asyncio.shield(read.task), read.taken)

    async def booked(self, start: datetime, end: datetime, event_type_id: int) -> None:
        """``[start, end)`` was just booked here: reused answers no longer offer it."""
        for key, read in self._reads.items():
            if (
                key.event_type_id == event_type_id
                and read.start - (end - start) <= start <= read.end
            ):
                read.taken.append((start, end))
        if self._shared is not None:
            try:
                await self._shared.booked(start, end, event_type_id)
            except Exception:
                logger.exception("could not record a booking in the shared slot reads")

    async def touched(self, instant: datetime, event_type_id: int | None = None) -> None:
        """Something changed at ``instant``: forget every read whose window holds it."""
        self._forget(instant, event_type_id)
        if self._shared is not None:
            try:
                await self._shared.touched(instant, event_type_id)
            except Exception:
                logger.exception("could not drop shared slot reads")

    def _forget(self, instant: datetime, event_type_id: int | None) -> None:
        for key, read in list(self._reads.items()):
            if event_type_id is not None and key.event_type_id != event_type_id:
                continue
            # A booking that starts up to a day before the window may still reach into it.
            if read.start - timedelta(days=1) <= instant <= read.end:
                del self._reads[key]

    def _usable(self, read: _Read) -> bool:
        if not read.task.done():
            return True
        if self._shared is not None:
            return False  # the shared row decides, so other replicas' changes count
        return read.fetched_at is not None and self._clock() - read.fetched_at < self._reuse

    async def _read(
        self, key: _Key, start: datetime, end: datetime, zone: ZoneInfo
    ) -> tuple[datetime, ...]:
        event_type_id = key.event_type_id
        if self._shared is None:
            return await self._fetch(event_type_id, start, end, zone)
        name = key.name
        cached = await self._shared.get(name, fresh_after=self._clock() - self._reuse)
        if cached is not None:
            return _without(*cached)
        found = await self._fetch(event_type_id, start, end, zone)
        await self._shared.put(
            name,
            event_type_id=event_type_id,
            window=(start, end),
            slots=found,
            fetched_at=self._clock(),
        )
        return found

    def _settled(self, key: _Key, read: _Read, task: asyncio.Future[tuple[datetime, ...]]) -> None:
        if task.cancelled() or task.exception() is not None:
            if self._reads.get(key) is read:
                del self._reads[key]
            return
        read.fetched_at = self._clock()

    async def _fetch(
        self, event_type_id: int, start: datetime, end: datetime, zone: ZoneInfo
    ) -> tuple[datetime, ...]:
        found = await self._calcom.get_slots(
            event_type_id=event_type_id, start=start, end=end, time_zone=zone.key
        )
        return tuple(sorted({slot.astimezone(UTC) for slot in found}))


@attrs.frozen
class AvailabilityRequest:
    """A caller asking what is free on ``day`` (local), optionally at one ``start``, or
    from ``day`` to ``last_day`` and in one ``part_of_day``.

    With ``start`` the question is that start alone (``last_day`` and ``part_of_day`` are
    not used); without ``last_day`` and ``part_of_day`` it is the whole ``day``.
    """

    day: date
    zone: ZoneInfo
    event_type_id: int
    start: datetime | None = None
    last_day: date | None = None
    part_of_day: PartOfDay | None = None

    @property
    def is_range(self) -> bool:
        """Whether this asks about several days, or part of a day, rather than a day."""
        return self.start is None and (
            (self.last_day is not None and self.last_day > self.day) or self.part_of_day is not None
        )


@attrs.frozen
class Availability:
    """The answer. ``slots`` lists whole local days: the day asked for, or the nearest free
    days when it has none. ``alternatives`` are the starts nearest the request when it is
    ``unavailable``.

    For a range (:attr:`AvailabilityRequest.is_range`) ``slots`` holds every free start of
    its days in the part of day asked for (none when ``unavailable``), and ``other_parts``
    counts the free starts of those days outside that part.
    """

    status: ToolStatus
    slots: tuple[datetime, ...] = ()
    alternatives: tuple[datetime, ...] = ()
    error_kind: str | None = None
    busy: bool = False
    """The error is the request budget's or Cal.com's rate limit (:attr:`CalcomError.busy`)."""
    other_parts: int = 0


class AvailabilityService:
    """Asks Cal.com for free starts once per question: the day and the days around it."""

    def __init__(
        self,
        *,
        calcom: CalcomClient,
        clock: Clock = system_clock,
        max_alternatives: int = 3,
        search_days: int = 7,
        slots: SlotReads | None = None,
    ) -> None:
        self._clock = clock
        self._max_alternatives = max_alternatives
        self._slots = slots or SlotReads(
            calcom, clock=clock, reuse_seconds=0, search_days=search_days
        )

    async def check(self, request: AvailabilityRequest) -> Availability:
        """One (shared) slots read covering the day (or range) and ``search_days`` either
        side."""
        now = self._clock()
        last_day = request.last_day if request.is_range else None
        try:
            found = await self._slots.around(
                request.event_type_id, request.day, request.zone, last_day
            )
        except CalcomError as exc:
            logger.warning("could not fetch slots: %s", exc.kind)
            return Availability(ToolStatus.ERROR, error_kind=exc.kind, busy=exc.busy)
        free = sorted({slot.astimezone(UTC) for slot in found if slot > now})
        if request.is_range:
            return self._in_range(free, request)
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

    def _in_range(self, free: Sequence[datetime], request: AvailabilityRequest) -> Availability:
        """The free starts of the range's days in its part of day; when there are none, the
        nearest free starts outside it (in that part of day if any are)."""
        zone, part = request.zone, request.part_of_day
        first, last = request.day, max(request.last_day or request.day, request.day)
        in_days = [s for s in free if first <= s.astimezone(zone).date() <= last]
        matching = tuple(s for s in in_days if in_part_of_day(s, part, zone))
        other_parts = len(in_days) - len(matching)
        if matching:
            return Availability(ToolStatus.AVAILABLE, slots=matching, other_parts=other_parts)
        candidates = [s for s in free if in_part_of_day(s, part, zone)] or list(free)
        span = (_local_midnight(first, zone), _local_midnight(last + timedelta(days=1), zone))
        return Availability(
            ToolStatus.UNAVAILABLE,
            alternatives=_nearest_to(candidates, span, self._max_alternatives),
            other_parts=other_parts,
        )


def soonest_over_days(
    slots: Sequence[datetime], zone: ZoneInfo, limit: int
) -> tuple[datetime, ...]:
    """The ``limit`` soonest of ``slots``, spread over different local days when it can:
    at most two a day (more only when too few days have any), chronological."""
    by_day: dict[date, list[datetime]] = {}
    for slot in sorted(slots):
        by_day.setdefault(slot.astimezone(zone).date(), []).append(slot)
    if not by_day:
        return ()
    per_day = max(2, -(-limit // len(by_day)))
    while True:
        chosen = sorted(slot for day in by_day.values() for slot in day[:per_day])[:limit]
        if len(chosen) == min(limit, len(slots)):
            return tuple(chosen)
        per_day += 1


def _nearest_to(
    slots: Sequence[datetime], span: tuple[datetime, datetime], limit: int
) -> tuple[datetime, ...]:
    """The ``limit`` slots nearest to ``[start, end)`` (inside it first), chronological."""
    start, end = span

    def distance(slot: datetime) -> timedelta:
        if slot < start:
            return start - slot
        return max(slot - end, timedelta(0))

    return tuple(sorted(sorted(slots, key=lambda slot: (distance(slot), slot))[:limit]))


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _nearest_days(free: Sequence[datetime], request: AvailabilityRequest) -> tuple[datetime, ...]:
    """Every free start of the nearest free day before and the nearest after the one asked."""
    days = sorted({slot.astimezone(request.zone).date() for slot in free})
    before = [d for d in days if d < request.day][-1:]
    after = [d for d in days if d > request.day][:1]
    wanted = set(before + after)
    return tuple(s for s in free if s.astimezone(request.zone).date() in wanted)
