"""A clock that tests move by hand, shared by the service and the Cal.com emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A settable UTC clock; call it like :func:`retell_booking_tools.clock.system_clock`."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _as_utc(instant)

    def advance(self, delta: timedelta) -> datetime:
        self._now = self._now + delta
        return self._now


def _as_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("FakeClock needs an aware datetime")
    return instant.astimezone(UTC)
