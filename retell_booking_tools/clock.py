"""Time as a dependency: the booking decision needs "now", and tests need to choose it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Returns the current instant as an aware UTC datetime."""

    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)
