"""What the console shows of personal data, and the chart it draws."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from retell_booking_tools.console.chart import SERIES, daily_chart
from retell_booking_tools.console.masking import masked_email, masked_text, masked_value
from retell_booking_tools.ops.stats import DayStats


class TestMasking:
    """Numbers to their last four digits, emails to their domain, instants untouched."""

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("call me on +49 151 12345678", "call me on ***5678"),
            ("or 030.123.4567 please", "or ***4567 please"),
            ("write to max.mustermann@example.com", "write to ***@example.com"),
            ("2025-10-10T11:00:00+02:00", "2025-10-10T11:00:00+02:00"),
            ("at 08:01:47.838303 sharp", "at 08:01:47.838303 sharp"),
            ("room 12345", "room 12345"),
        ],
    )
    def test_free_text_is_masked(self, text: str, shown: str) -> None:
        """Each phone number and email in free text is masked; dates and short numbers stay."""
        assert masked_text(text) == shown

    def test_json_values_are_masked_all_the_way_down(self) -> None:
        """Strings inside lists and objects are masked; ISO instants and numbers are kept."""
        value = {"a": ["+4915112345678", {"b": "x@y.org"}], "at": "2026-12-01T08:01:47.83+00:00"}
        assert masked_value(value) == {
            "a": ["***5678", {"b": "***@y.org"}],
            "at": "2026-12-01T08:01:47.83+00:00",
        }

    def test_an_email_keeps_only_its_domain(self) -> None:
        """``***@example.com``; nothing for no email."""
        assert masked_email("Max@example.com") == "***@example.com"
        assert masked_email(None) is None


class TestChart:
    """Five lines over the days, scaled to the largest number."""

    def test_every_series_has_a_point_per_day_within_the_plot(self) -> None:
        """30 days give 30 points per line, none outside the drawing area."""
        first = date(2025, 10, 1)
        days = [
            DayStats(date=first + timedelta(days=n), bookings=n, duplicates=n % 3, errors=1)
            for n in range(30)
        ]
        chart = daily_chart(days)
        assert [series.name for series in chart.series] == [name for name, _ in SERIES]
        for series in chart.series:
            points = [tuple(map(float, p.split(","))) for p in series.points.split()]
            assert len(points) == 30
            assert all(chart.left <= x <= chart.right for x, _ in points)
            assert all(chart.top <= y <= chart.bottom for _, y in points)
        bookings = chart.series[0]
        assert bookings.total == sum(range(30))
        assert float(bookings.points.split()[-1].split(",")[1]) == pytest.approx(
            chart.bottom - (chart.bottom - chart.top) * 29 / 50, abs=0.1
        )

    def test_days_without_anything_draw_flat_lines(self) -> None:
        """No calls at all still draws, on the zero line."""
        chart = daily_chart([DayStats(date=date(2025, 10, 1))])
        assert {s.points for s in chart.series} == {f"{float(chart.left)},{float(chart.bottom)}"}
        assert {tick.label for tick in chart.y_ticks} >= {"0", "1"}
