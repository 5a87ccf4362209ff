"""Dates and times the way a caller says them, per language (Babel does the localising)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from retell_booking_tools.config import Language

_DATE_PATTERN: dict[Language, str] = {"en": "EEEE, MMMM d, yyyy", "de": "dd.MM.yyyy"}
_SHORT_DATE_PATTERN: dict[Language, str] = {"en": "EEEE, MMMM d", "de": "EEEE, d. MMMM"}
_TIME_PATTERN: dict[Language, str] = {"en": "h:mm a", "de": "HH:mm 'Uhr'"}
_AND: dict[Language, str] = {"en": "and", "de": "und"}


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


def join_words(parts: Sequence[str], language: Language) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {_AND[language]} {parts[-1]}"
