"""The day and start a caller asked for, read from the model's arguments in business time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from retell_booking_tools.errors import InvalidArguments

MAX_DAYS_AHEAD = 366
"""Further ahead than this is a hallucinated date, most likely."""
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_day(day_text: str) -> date:
    """A ``YYYY-MM-DD`` day, or InvalidArguments ``date``."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise InvalidArguments("date", "not a date in YYYY-MM-DD form") from None
    if len(day_text) != 10:
        raise InvalidArguments("date", "not a date in YYYY-MM-DD form")
    return day


def requested_day(day_text: str, *, zone: ZoneInfo, now: datetime) -> date:
    """The local day asked about, or InvalidArguments: not a date, past, or over a year ahead."""
    day = parse_day(day_text)
    today = now.astimezone(zone).date()
    if day < today:
        raise InvalidArguments("date", "in the past")
    if day - today > timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidArguments("date", "more than a year ahead")
    return day


def requested_start(day_text: str, time_text: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    """The instant the caller asked for (UTC), or InvalidArguments naming the date or time.

    Rejects impossible dates, local times that do not exist (DST gaps), the past and
    anything more than a year ahead.
    """
    day = parse_day(day_text)
    match = _TIME.match(time_text)
    if match is None:
        raise InvalidArguments("time", "not a time in HH:MM form")
    local = datetime.combine(day, time(int(match[1]), int(match[2])), tzinfo=zone)
    start = local.astimezone(UTC)
    if start.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidArguments("time", "does not exist on that day (clock change)")
    if start <= now:
        field = "date" if day < now.astimezone(zone).date() else "time"
        raise InvalidArguments(field, "in the past")
    if start - now > timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidArguments("date", "more than a year ahead")
    return start
