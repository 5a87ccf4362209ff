"""Who is calling: normalised phone and email, and the attendee email Cal.com sees.

Cal.com decides "same attendee" by email. A caller without an email therefore gets an
address derived from their phone number, unique per caller: one shared placeholder would
make Cal.com hand one caller another caller's booking.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

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
    """Every address this customer may have booked under; the first is the one to book with.

    Order: the email given in this call, the customer's stored email, one derived from the
    phone (``tel-<E.164 digits>@<domain>``). Never empty.
    """
    derived = f"tel-{customer.phone.lstrip('+')}@{domain}" if customer.phone else None
    found: list[str] = []
    for email in (given, customer.email, derived):
        if email and email not in found:
            found.append(email)
    return tuple(found) or (f"customer-{customer.id}@{domain}",)
