"""What the console shows of personal data: phone numbers to their last four digits, emails
to their domain. Names and notes are shown as they are (the templates escape them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from retell_booking_tools.ops.history import masked_number

__all__ = ["masked_email", "masked_number", "masked_text", "masked_value"]

_EMAIL = re.compile(r"[^\s@<>\"',;:()]+@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"\+?\d[\d \-().]{5,}\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def masked_email(email: str | None) -> str | None:
    """``***@example.com``: the domain tells which provider, the mailbox stays private."""
    if not email:
        return None
    _, at, domain = email.rpartition("@")
    return f"***@{domain}" if at and domain else "***"


def masked_text(text: str) -> str:
    """Free text with every email and phone number in it masked."""
    text = _EMAIL.sub(lambda match: f"***@{match.group(1)}", text)
    return _PHONE.sub(_masked_phone, text)


def _is_instant(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _masked_phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    after_a_colon = match.start() > 0 and match.string[match.start() - 1] == ":"
    if digits < 7 or _DATE.match(found) or after_a_colon:
        return found  # a date, a time's seconds and fraction, or too short for a number
    return masked_number(found) or "***"


def masked_value(value: Any) -> Any:
    """A JSON value (tool arguments, link metadata) with every string in it masked."""
    if isinstance(value, str):
        return value if _is_instant(value) else masked_text(value)
    if isinstance(value, dict):
        return {str(key): masked_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked_value(item) for item in value]
    return value
