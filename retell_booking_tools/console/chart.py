"""The stats chart, drawn on the server as SVG coordinates: no script, no external file.

The template turns a :class:`Chart` into ``<svg>`` elements; colours come from the
console's stylesheet through each series' CSS class, so the strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from retell_booking_tools.ops.stats import DayStats

__all__ = ["SERIES", "Chart", "Series", "daily_chart"]

SERIES = (
    ("bookings", "Bookings"),
    ("duplicates", "Duplicates"),
    ("conflicts", "Conflicts"),
    ("errors", "Errors"),
    ("orphaned_calls", "Orphaned calls"),
)
"""Which daily numbers are drawn, in legend order: (``DayStats`` field, label)."""

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36


@attrs.frozen
class Series:
    """One line: its name (also its CSS class), label, polyline points and last value."""

    name: str
    label: str
    points: str
    total: int


@attrs.frozen
class Tick:
    """A labelled position on an axis."""

    position: float
    label: str


@attrs.frozen
class Chart:
    """Everything the template needs to draw the lines, the axes and the legend."""

    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def daily_chart(days: Sequence[DayStats]) -> Chart:
    """Lines of the daily numbers over ``days`` (oldest first), scaled to the largest."""
    right = WIDTH - RIGHT
    bottom = HEIGHT - BOTTOM
    peak = max((getattr(day, name) for day in days for name, _ in SERIES), default=0)
    top_value = _nice_top(max(peak, 1))
    span = max(len(days) - 1, 1)

    def x(index: int) -> float:
        return round(LEFT + (right - LEFT) * index / span, 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - TOP) * value / top_value, 1)

    series = tuple(
        Series(
            name=name,
            label=label,
            points=" ".join(f"{x(i)},{y(getattr(day, name))}" for i, day in enumerate(days)),
            total=sum(getattr(day, name) for day in days),
        )
        for name, label in SERIES
    )
    y_ticks = tuple(Tick(y(value), str(value)) for value in (0, top_value // 2, top_value))
    every = max(1, len(days) // 6)
    x_ticks = tuple(
        Tick(x(i), day.date.strftime("%b %d")) for i, day in enumerate(days) if i % every == 0
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        top=TOP,
        bottom=bottom,
        series=series,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )
