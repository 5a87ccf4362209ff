"""Wording: dates and times the local way, and variants that match the outcome."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from retell_booking_tools.messages import CATALOG, render, speak_choices, speak_starts, speak_times

BERLIN = ZoneInfo("Europe/Berlin")
TEN_OCTOBER_11 = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


def test_english_speaks_weekday_month_and_twelve_hour_time() -> None:
    text = render("booked", "en", zone=BERLIN, at=TEN_OCTOBER_11)

    assert text == "Your appointment is booked for Friday, October 10, 2025 at 11:00 AM."


def test_german_speaks_numeric_date_and_uhr() -> None:
    text = render("booked", "de", zone=BERLIN, at=TEN_OCTOBER_11)

    assert text == "Ihr Termin ist gebucht: am 10.10.2025 um 11:00 Uhr."


def test_alternatives_name_each_day_once() -> None:
    slots = [
        datetime(2025, 10, 10, 8, 0, tzinfo=UTC),
        datetime(2025, 10, 10, 10, 0, tzinfo=UTC),
        datetime(2025, 10, 13, 7, 0, tzinfo=UTC),
    ]

    assert speak_choices(slots, BERLIN, "en") == (
        "Friday, October 10 at 10:00 AM, 12:00 PM and Monday, October 13 at 9:00 AM"
    )
    assert speak_choices(slots, BERLIN, "de") == (
        "Freitag, 10. Oktober um 10:00 Uhr, 12:00 Uhr und Montag, 13. Oktober um 09:00 Uhr"
    )


def test_unavailable_without_alternatives_does_not_offer_any() -> None:
    text = render("unavailable", "en", zone=BERLIN)

    assert "I could offer" not in text


@pytest.mark.parametrize("language", ["en", "de"])
def test_both_languages_word_the_same_outcomes(language: str) -> None:
    assert set(CATALOG[language]) == set(CATALOG["en"])  # type: ignore[index]


@pytest.mark.parametrize("language", ["en", "de"])
def test_only_booked_wording_claims_a_booking(language: str) -> None:
    """No message but `booked` may say something was booked."""
    claim = {"en": "is booked", "de": "ist gebucht"}[language]
    for key, template in CATALOG[language].items():  # type: ignore[index]
        assert (claim in template) == (key == "booked"), key


def test_times_of_one_day_are_spoken_short_the_local_way() -> None:
    """The hour alone on the hour; German says "Uhr" once, at the end."""
    starts = [
        datetime(2025, 10, 10, 8, 0, tzinfo=UTC),
        datetime(2025, 10, 10, 9, 30, tzinfo=UTC),
        datetime(2025, 10, 10, 12, 0, tzinfo=UTC),
    ]

    assert speak_times(starts, BERLIN, "en") == "10 AM, 11:30 AM and 2 PM"
    assert speak_times(starts, BERLIN, "de") == "10, 11:30 und 14 Uhr"


@pytest.mark.parametrize("language", ["en", "de"])
def test_lifecycle_wording_never_claims_a_booking_it_did_not_make(language: str) -> None:
    """Moving, cancelling and looking up speak of what happened, in the local form."""
    text = render("rescheduled", language, zone=BERLIN, at=TEN_OCTOBER_11)  # type: ignore[arg-type]
    expected = {
        "en": "Done: your appointment is now on Friday, October 10, 2025 at 11:00 AM.",
        "de": "Erledigt: Ihr Termin ist jetzt am 10.10.2025 um 11:00 Uhr.",
    }

    assert text == expected[language]


@pytest.mark.parametrize(
    ("language", "spoken"),
    [
        ("en", "Tuesday at 9 AM, Tuesday at 10:30 AM or Wednesday at 9 AM"),
        ("de", "Dienstag um 9 Uhr, Dienstag um 10:30 Uhr oder Mittwoch um 9 Uhr"),
    ],
)
def test_starts_over_several_days_are_each_said_with_their_day(language: str, spoken: str) -> None:
    """The way people offer a few times of the coming days, as alternatives."""
    starts = [
        datetime(2025, 10, 14, 7, 0, tzinfo=UTC),
        datetime(2025, 10, 14, 8, 30, tzinfo=UTC),
        datetime(2025, 10, 15, 7, 0, tzinfo=UTC),
    ]

    text = speak_starts(starts, BERLIN, language, today=date(2025, 10, 10))  # type: ignore[arg-type]

    assert text == spoken


def test_today_tomorrow_and_days_a_week_ahead_are_said_as_people_say_them() -> None:
    """Today and tomorrow by name, the week ahead by weekday, later days with their date."""
    starts = [
        datetime(2025, 10, 10, 13, 0, tzinfo=UTC),
        datetime(2025, 10, 11, 7, 0, tzinfo=UTC),
        datetime(2025, 10, 16, 7, 0, tzinfo=UTC),
        datetime(2025, 10, 17, 7, 0, tzinfo=UTC),
    ]

    assert speak_starts(starts, BERLIN, "en", today=date(2025, 10, 10)) == (
        "today at 3 PM, tomorrow at 9 AM, Thursday at 9 AM or Friday, October 17 at 9 AM"
    )
    assert speak_starts(starts, BERLIN, "de", today=date(2025, 10, 10)) == (
        "heute um 15 Uhr, morgen um 9 Uhr, Donnerstag um 9 Uhr oder Freitag, 17. Oktober um 9 Uhr"
    )
