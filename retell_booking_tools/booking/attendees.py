"""The attendee address Cal.com sees for a caller: built and read here, and nowhere else.

Cal.com decides "same attendee" by email, so every caller needs an address of their own.
A caller who gives an email is booked with it (and Cal.com's confirmations go there). A
caller without one is booked with ``attendee.phoneNumber`` (E.164) and
``<E.164 digits>@sms.cal.com``: Cal.com's own placeholder for phone-only attendees
(getCalEventResponses.ts), which it never e-mails (packages/lib/isSmsCalEmail.ts). Any
other invented address is accepted by Cal.com and e-mailed, so confirmations bounce.

Bookings made under the older form ``tel-<digits>@<domain>`` (``phone.invalid`` by default)
are still recognised by look-ups, webhooks, ``doctor`` and ``stats``. A deployment that sets
``RETELL_BOOKING_ATTENDEE_EMAIL_DOMAIN`` books ``<digits>@<that domain>`` instead (and
Cal.com will e-mail it).
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from retell_booking_tools.domain import Customer

__all__ = [
    "LEGACY_DOMAIN",
    "SMS_DOMAIN",
    "PhoneAddress",
    "attendee_email",
    "attendee_emails",
    "legacy_attendee_email",
    "parse_attendee_email",
]

SMS_DOMAIN: Final = "sms.cal.com"
"""Cal.com's phone placeholder domain; the default of ``RETELL_BOOKING_ATTENDEE_EMAIL_DOMAIN``."""
LEGACY_DOMAIN: Final = "phone.invalid"
"""The domain of the older ``tel-<digits>@...`` addresses, before the default moved."""

_DIGITS: Final = r"(\d{6,15})"
_ADDRESS: Final = re.compile(rf"^(tel-)?{_DIGITS}@([a-z0-9.-]+)$")


@attrs.frozen
class PhoneAddress:
    """What an attendee address derived from a phone says: the E.164 ``phone``, and whether
    it is the older ``tel-`` form (``legacy``)."""

    phone: str
    legacy: bool


def attendee_email(phone: str, domain: str = SMS_DOMAIN) -> str:
    """The address a caller without an email is booked under: ``<digits>@<domain>``."""
    return f"{_digits(phone)}@{domain.lower()}"


def legacy_attendee_email(phone: str, domain: str = LEGACY_DOMAIN) -> str:
    """The older form, ``tel-<digits>@<domain>``: only looked up, never booked any more."""
    return f"tel-{_digits(phone)}@{domain.lower()}"


def parse_attendee_email(email: str, *, domain: str = SMS_DOMAIN) -> PhoneAddress | None:
    """The phone behind an address this library (or Cal.com itself) derived, else None.

    ``<digits>@sms.cal.com`` and ``<digits>@<domain>``; legacy ``tel-<digits>@<domain>``
    and ``tel-<digits>@phone.invalid``. A real address that merely starts with digits at
    another domain is not a phone.
    """
    match = _ADDRESS.match(email.strip().lower())
    if match is None:
        return None
    legacy, digits, at = bool(match[1]), match[2], match[3]
    known = {domain.lower(), LEGACY_DOMAIN} if legacy else {domain.lower(), SMS_DOMAIN}
    if at not in known:
        return None
    return PhoneAddress(phone=f"+{digits}", legacy=legacy)


def attendee_emails(customer: Customer, *, given: str | None, domain: str) -> tuple[str, ...]:
    """Every address this customer may have booked under; the first is the one to book with.

    Order: the email given in this call, the customer's stored email, the one derived from
    the phone, then the legacy forms (configured domain, ``phone.invalid``). Never empty.
    """
    derived: tuple[str, ...] = ()
    if customer.phone:
        derived = (
            attendee_email(customer.phone, domain),
            legacy_attendee_email(
                customer.phone, domain if domain != SMS_DOMAIN else LEGACY_DOMAIN
            ),
            legacy_attendee_email(customer.phone),
        )
    found: list[str] = []
    for email in (given, customer.email, *derived):
        if email and email not in found:
            found.append(email)
    return tuple(found) or (f"customer-{customer.id}@{domain}",)


def _digits(phone: str) -> str:
    return phone.strip().lstrip("+")
