"""Which starts an event type offers: business hours on a fixed grid, minus what is taken."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from .models import EmulatedBooking, EventTypeSpec


def grid_starts(event_type: EventTypeSpec, day: date, length: timedelta) -> Iterator[datetime]:
    """Starts on the local ``day``, every interval from opening, each ending by closing."""
    hours = event_type.business_hours
    if day.weekday() not in hours.weekdays:
        return
    zone = event_type.zone
    opens = datetime.combine(day, hours.opens)
    closes = datetime.combine(day, hours.closes)
    local = opens
    while local + length <= closes:
        yield local.replace(tzinfo=zone).astimezone(UTC)
        local += event_type.interval


def is_grid_start(event_type: EventTypeSpec, start: datetime, length: timedelta) -> bool:
    """Whether ``start`` lies on the grid within business hours (free or not)."""
    day = start.astimezone(event_type.zone).date()
    return any(candidate == start for candidate in grid_starts(event_type, day, length))


def earliest_bookable(event_type: EventTypeSpec, now: datetime) -> datetime:
    """Starts must lie strictly after this: the minimum booking notice."""
    return now + timedelta(minutes=event_type.minimum_booking_notice_minutes)


def latest_bookable(event_type: EventTypeSpec, now: datetime) -> datetime | None:
    """Starts must not lie after this (the rolling booking window), or None without one."""
    if event_type.booking_window_days is None:
        return None
    return now + timedelta(days=event_type.booking_window_days)


def within_bounds(event_type: EventTypeSpec, start: datetime, now: datetime) -> bool:
    """Neither inside the minimum notice nor past the booking window."""
    latest = latest_bookable(event_type, now)
    return start > earliest_bookable(event_type, now) and (latest is None or start <= latest)


def is_free(
    bookings: Iterable[EmulatedBooking],
    event_type_id: int,
    start: datetime,
    end: datetime,
    *,
    ignore_uid: str | None = None,
) -> bool:
    """No active booking of the event type overlaps ``[start, end)``."""
    return not any(
        booking.is_active
        and booking.event_type_id == event_type_id
        and booking.uid != ignore_uid
        and booking.overlaps(start, end)
        for booking in bookings
    )


def free_starts(
    event_type: EventTypeSpec,
    bookings: Iterable[EmulatedBooking],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[datetime]:
    """Bookable starts within ``[window_start, window_end]``, strictly after the notice period."""
    length = event_type.length
    # Only bookings reaching into the window can overlap a start in it; sorted by start,
    # with the latest end so far, one bisection tells whether a start is taken.
    taken = sorted(
        (b.start, b.end)
        for b in bookings
        if b.is_active
        and b.event_type_id == event_type.id
        and b.overlaps(window_start, window_end + length)
    )
    taken_starts = [start for start, _ in taken]
    latest_ends = list(accumulate((end for _, end in taken), max))

    def is_open(start: datetime) -> bool:
        # Bookings starting before this slot ends; free unless one of them ends after it starts.
        before = bisect_left(taken_starts, start + length)
        return before == 0 or latest_ends[before - 1] <= start

    zone = event_type.zone
    day = window_start.astimezone(zone).date() - timedelta(days=1)
    last_day = window_end.astimezone(zone).date() + timedelta(days=1)
    starts: list[datetime] = []
    while day <= last_day:
        for start in grid_starts(event_type, day, length):
            if not (window_start <= start <= window_end) or not within_bounds(
                event_type, start, now
            ):
                continue
            if is_open(start):
                starts.append(start)
        day += timedelta(days=1)
    return starts
