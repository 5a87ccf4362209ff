"""Who is calling: normalised phone and email. The attendee address Cal.com sees is
built and read by :mod:`retell_booking_tools.attendees` alone.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from retell_booking_tools.attendees import attendee_emails as _attendee_emails
from retell_booking_tools.domain import Customer
from retell_booking_tools.errors import InvalidArguments


def normalize_phone(raw: str, *, region: str, field: str = "phone") -> str:
    """E.164 form of a phone number, or InvalidArguments naming ``field``."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidArguments(field, "not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArguments(field, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Lower-case, syntax-checked email (no DNS look-up), or InvalidArguments."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidArguments(field, "not a valid email address") from None
    return checked.normalized.lower()


def attendee_emails(customer: Customer, *, given: str | None, domain: str) -> tuple[str, ...]:
    """Every address this customer may have booked under; see :mod:`attendees`."""
    return _attendee_emails(customer, given=given, domain=domain)
