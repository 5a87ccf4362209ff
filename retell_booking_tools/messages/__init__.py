"""Speakable wording for every tool outcome, in the caller's language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from retell_booking_tools.config import Language
from retell_booking_tools.messages.catalog import CATALOG
from retell_booking_tools.messages.speech import (
    join_words,
    speak_choices,
    speak_date,
    speak_day,
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
) -> str:
    """The sentence for ``key`` (falling back from ``status.variant`` to ``status``).

        ``at`` fills ``{date}``, ``{time}`` and ``{day}`` (without the year); ``choices`` picks
        the ``.with_alternatives`` variant and fills ``{choices}``; ``times`` (starts within one
        day) fills ``{times}`` short and ``{day}``; ``count`` fills ``{count}``; ``reference`` (a
    booking reference) fills ``{reference}`` as it is read out; ``services`` (names of
    services) fills ``{services}`` as alternatives ("A, B or C").
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
    return template.format(**fields)
