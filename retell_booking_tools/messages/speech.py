"""Dates and times the way a caller says them, per language (Babel does the localising)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from retell_booking_tools.config import Language

_DATE_PATTERN: dict[Language, str] = {"en": "EEEE, MMMM d, yyyy", "de": "dd.MM.yyyy"}
_SHORT_DATE_PATTERN: dict[Language, str] = {"en": "EEEE, MMMM d", "de": "EEEE, d. MMMM"}
_TIME_PATTERN: dict[Language, str] = {"en": "h:mm a", "de": "HH:mm 'Uhr'"}
_AND: dict[Language, str] = {"en": "and", "de": "und"}
_OR: dict[Language, str] = {"en": "or", "de": "oder"}
_SHORT_TIME_PATTERN: dict[Language, tuple[str, str]] = {
    "en": ("h a", "h:mm a"),
    "de": ("H", "H:mm"),
}
_AT: dict[Language, str] = {"en": "at", "de": "um"}
_TODAY: dict[Language, tuple[str, str]] = {"en": ("today", "tomorrow"), "de": ("heute", "morgen")}
_PART_OF_DAY: dict[Language, dict[str, tuple[str, str]]] = {
    "en": {
        "morning": ("in the morning", "in the mornings"),
        "afternoon": ("in the afternoon", "in the afternoons"),
        "evening": ("in the evening", "in the evenings"),
    },
    "de": {
        "morning": ("vormittags", "vormittags"),
        "afternoon": ("nachmittags", "nachmittags"),
        "evening": ("abends", "abends"),
    },
}


def speak_date(instant: datetime, zone: ZoneInfo, language: Language) -> str:
    """``Friday, October 10, 2025`` / ``10.10.2025``."""
    return format_date(instant.astimezone(zone), _DATE_PATTERN[language], locale=language)


def speak_time(instant: datetime, zone: ZoneInfo, language: Language) -> str:
    """``11:00 AM`` / ``11:00 Uhr``."""
    return format_time(instant.astimezone(zone), _TIME_PATTERN[language], locale=language)


def speak_choices(instants: Sequence[datetime], zone: ZoneInfo, language: Language) -> str:
    """A short spoken list of starts, naming each day once: ``Friday, October 10 at 10:00 AM``."""
    parts: list[str] = []
    previous_day = None
    for instant in sorted(instants):
        local = instant.astimezone(zone)
        time_text = speak_time(local, zone, language)
        if local.date() != previous_day:
            day = format_date(local, _SHORT_DATE_PATTERN[language], locale=language)
            connector = "at" if language == "en" else "um"
            parts.append(f"{day} {connector} {time_text}")
            previous_day = local.date()
        else:
            parts.append(time_text)
    return join_words(parts, language)


def join_words(parts: Sequence[str], language: Language, *, alternatives: bool = False) -> str:
    """``a``, ``a and b``, ``a, b and c`` (``a, b or c`` for ``alternatives``)."""
    if len(parts) <= 1:
        return "".join(parts)
    conjunction = (_OR if alternatives else _AND)[language]
    return f"{', '.join(parts[:-1])} {conjunction} {parts[-1]}"


def speak_day(instant: datetime, zone: ZoneInfo, language: Language) -> str:
    """``Friday, October 10`` / ``Freitag, 10. Oktober``: a day near enough to omit the year."""
    return format_date(instant.astimezone(zone), _SHORT_DATE_PATTERN[language], locale=language)


def speak_times(instants: Sequence[datetime], zone: ZoneInfo, language: Language) -> str:
    """Starts within one day, short: ``10 AM, 11:30 AM and 2 PM`` / ``10, 11:30 und 14 Uhr``."""
    parts: list[str] = []
    for instant in sorted(instants):
        local = instant.astimezone(zone)
        on_the_hour, with_minutes = _SHORT_TIME_PATTERN[language]
        pattern = on_the_hour if local.minute == 0 else with_minutes
        parts.append(format_time(local, pattern, locale=language))
    spoken = join_words(parts, language)
    return f"{spoken} Uhr" if language == "de" and parts else spoken


def speak_starts(
    instants: Sequence[datetime], zone: ZoneInfo, language: Language, *, today: date
) -> str:
    """Starts on several days, each with its day, as alternatives: ``Tuesday at 9 AM,
    Tuesday at 10:30 AM or Wednesday at 9 AM`` / ``Dienstag um 9 Uhr, Dienstag um 10:30 Uhr
    oder Mittwoch um 9 Uhr``. A day is ``today``, ``tomorrow``, its weekday within the
    week ahead, else as :func:`speak_day` says it."""
    parts = [
        f"{_day_word(instant, zone, language, today)} {_AT[language]} "
        f"{_short_time(instant, zone, language)}"
        for instant in sorted(instants)
    ]
    return join_words(parts, language, alternatives=True)


def speak_part_of_day(part: str, language: Language, *, several_days: bool) -> str:
    """``in the morning`` (``in the mornings`` over several days) / ``vormittags``."""
    single, several = _PART_OF_DAY[language][part]
    return several if several_days else single


def _day_word(instant: datetime, zone: ZoneInfo, language: Language, today: date) -> str:
    day = instant.astimezone(zone).date()
    ahead = (day - today).days
    if ahead in (0, 1):
        return _TODAY[language][ahead]
    if 1 < ahead < 7:
        return format_date(day, "EEEE", locale=language)
    return speak_day(instant, zone, language)


def _short_time(instant: datetime, zone: ZoneInfo, language: Language) -> str:
    """``9 AM``, ``10:30 AM`` / ``9 Uhr``, ``10:30 Uhr``."""
    local = instant.astimezone(zone)
    on_the_hour, with_minutes = _SHORT_TIME_PATTERN[language]
    spoken = format_time(local, on_the_hour if local.minute == 0 else with_minutes, locale=language)
    return f"{spoken} Uhr" if language == "de" else spoken
