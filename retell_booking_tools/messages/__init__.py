"""Speakable wording for every tool outcome, in the caller's language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from retell_booking_tools.config import Language
from retell_booking_tools.messages.catalog import CATALOG
from retell_booking_tools.messages.speech import (
    join_words,
    speak_choices,
    speak_date,
    speak_day,
    speak_part_of_day,
    speak_starts,
    speak_time,
    speak_times,
)

__all__ = [
    "CATALOG",
    "join_words",
    "render",
    "speak_choices",
    "speak_date",
    "speak_day",
    "speak_part_of_day",
    "speak_starts",
    "speak_time",
    "speak_times",
]


def render(
    key: str,
    language: Language,
    *,
    zone: ZoneInfo,
    at: datetime | None = None,
    choices: Sequence[datetime] = (),
    times: Sequence[datetime] = (),
    count: int | None = None,
    reference: str | None = None,
    services: Sequence[str] = (),
    starts: Sequence[datetime] = (),
    today: date | None = None,
    days: tuple[datetime, datetime] | None = None,
    part_of_day: str | None = None,
) -> str:
    """The sentence for ``key`` (falling back from ``status.variant`` to ``status``).

        ``at`` fills ``{date}``, ``{time}`` and ``{day}`` (without the year); ``choices`` picks
        the ``.with_alternatives`` variant and fills ``{choices}``; ``times`` (starts within one
        day) fills ``{times}`` short and ``{day}``; ``count`` fills ``{count}``; ``reference`` (a
    booking reference) fills ``{reference}`` as it is read out; ``services`` (names of
    services) fills ``{services}`` as alternatives ("A, B or C"); ``starts`` (on several
    days, ``today`` being the business's) fills ``{starts}`` as alternatives, each with its
    day; ``days`` (a range's first and last) fills ``{first_day}`` and ``{last_day}``;
    ``part_of_day`` fills ``{part}`` ("in the morning", over ``days`` "in the mornings").
    """
    templates = CATALOG[language]
    if choices and f"{key}.with_alternatives" in templates:
        key = f"{key}.with_alternatives"
    template = templates.get(key) or templates[key.split(".", 1)[0]]
    fields: dict[str, str] = {}
    if at is not None:
        fields["date"] = speak_date(at, zone, language)
        fields["time"] = speak_time(at, zone, language)
        fields["day"] = speak_day(at, zone, language)
    if times:
        fields["times"] = speak_times(times, zone, language)
        fields["day"] = speak_day(times[0], zone, language)
    if count is not None:
        fields["count"] = str(count)
    if reference is not None:
        fields["reference"] = reference
    if services:
        fields["services"] = join_words(services, language, alternatives=True)
    if choices:
        fields["choices"] = speak_choices(choices, zone, language)
    if starts:
        assert today is not None, "starts are spoken relative to today"
        fields["starts"] = speak_starts(starts, zone, language, today=today)
    if days is not None:
        fields["first_day"] = speak_day(days[0], zone, language)
        fields["last_day"] = speak_day(days[1], zone, language)
    if part_of_day is not None:
        several = days is not None and days[0].date() != days[1].date()
        fields["part"] = speak_part_of_day(part_of_day, language, several_days=several)
    return template.format(**fields)
