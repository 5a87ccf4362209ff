"""Who is calling: the identity Retell vouches for, normalised phone and email, clean text,
booking references, and the attendee email Cal.com sees.

A caller is identified only by what Retell vouches for, never by what they say:

- the network number of the call (``from_number`` inbound, ``to_number`` outbound), or
- identity fields the backend that created the call put into its ``metadata`` or
  ``retell_llm_dynamic_variables``: ``booking_customer_id``, ``booking_customer_phone``,
  ``booking_customer_email`` (a signed-in website knows its user; a caller cannot set them).

A phone or email the caller says is contact data of the booking it was given for.

The attendee address Cal.com sees is built and read by :mod:`retell_booking_tools.booking.attendees`
alone.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs
import phonenumbers
import regex
from email_validator import EmailNotValidError, validate_email

from retell_booking_tools.booking.attendees import attendee_emails as _attendee_emails
from retell_booking_tools.domain import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    Customer,
    call_key,
    email_key,
    new_booking_reference,
    phone_key,
)
from retell_booking_tools.errors import InvalidArguments

logger = logging.getLogger(__name__)

IDENTITY_FIELDS = ("booking_customer_id", "booking_customer_phone", "booking_customer_email")
"""Keys of the call's ``metadata`` / ``retell_llm_dynamic_variables`` that identify a caller."""

WITHHELD_NUMBERS = frozenset({"anonymous", "restricted", "unknown", "private", "unavailable"})
"""What carriers and Retell put in place of a number that is withheld."""

CONTACT_NEEDED = "a phone number or an email is needed to book"
"""The reason of the ``invalid`` that asks a caller without a number for a contact."""


__all__ = [
    "CONTACT_NEEDED",
    "IDENTITY_FIELDS",
    "REFERENCE_ALPHABET",
    "TrustedIdentity",
    "attendee_emails",
    "call_key",
    "clean_text",
    "email_key",
    "has_invisible",
    "names_match",
    "network_phone",
    "new_booking_reference",
    "normalize_email",
    "normalize_phone",
    "parse_booking_reference",
    "phone_key",
    "spoken_reference",
    "trusted_identity",
]
_REFERENCE_SEPARATORS = re.compile(r"[\s\-_.,/]+")


def normalize_phone(raw: str, *, region: str, field: str = "phone") -> str:
    """E.164 form of a phone number the caller said, checked strictly, or InvalidArguments."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidArguments(field, "not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArguments(field, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def network_phone(raw: str | None, *, region: str) -> str | None:
    """E.164 form of a number Retell delivered, or None when there is no usable number.

    The network's number is a fact: it is accepted when it is a *possible* number, never
    refused because phonenumbers' validity tables do not know its range yet. Withheld
    numbers ("anonymous", empty) are None.
    """
    text = (raw or "").strip()
    if not text or text.lower() in WITHHELD_NUMBERS:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Lower-case, syntax-checked email (no DNS look-up), or InvalidArguments."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidArguments(field, "not a valid email address") from None
    return checked.normalized.lower()


@attrs.frozen
class TrustedIdentity:
    """Who the call is from, as Retell (or the backend that created the call) vouches.

    ``key`` is the one identity the store matches on: the backend's customer id, else the
    phone, else the email. ``phone`` and ``email`` are trusted contact details.
    """

    key: str
    phone: str | None = attrs.field(default=None, repr=False)
    email: str | None = attrs.field(default=None, repr=False)
    source: str = "network"
    """``network`` (the call's number) or ``metadata`` (the backend's identity fields)."""


def trusted_identity(
    *,
    number: str | None,
    metadata: Mapping[str, Any] | None,
    dynamic_variables: Mapping[str, Any] | None,
    region: str,
) -> TrustedIdentity | None:
    """The caller's identity from what Retell delivered, or None for a caller without one.

    The backend's identity fields win over the network number, dynamic variables over
    metadata. A malformed field counts as absent, with a warning (it never falls back to
    something the caller said).
    """
    fields: dict[str, str] = {}
    for source in (metadata or {}, dynamic_variables or {}):
        for name in IDENTITY_FIELDS:
            value = source.get(name)
            if isinstance(value, str) and value.strip() and not has_invisible(value):
                fields[name] = value.strip()
    customer_id = fields.get("booking_customer_id")
    phone = network_phone(fields.get("booking_customer_phone"), region=region)
    if phone is None and "booking_customer_phone" in fields:
        logger.warning("ignoring a booking_customer_phone that is not a possible number")
    email = None
    if "booking_customer_email" in fields:
        try:
            email = normalize_email(fields["booking_customer_email"])
        except InvalidArguments:
            logger.warning("ignoring a booking_customer_email that is not an email address")
    if customer_id is not None and len(customer_id) > 200:
        logger.warning("ignoring a booking_customer_id longer than 200 characters")
        customer_id = None
    if customer_id is not None:
        return TrustedIdentity(key=f"id:{customer_id}", phone=phone, email=email, source="metadata")
    if phone is not None:
        return TrustedIdentity(key=phone_key(phone), phone=phone, email=email, source="metadata")
    if email is not None:
        return TrustedIdentity(key=email_key(email), email=email, source="metadata")
    network = network_phone(number, region=region)
    if network is not None:
        return TrustedIdentity(key=phone_key(network), phone=network)
    return None


def attendee_emails(customer: Customer, *, given: str | None, domain: str) -> tuple[str, ...]:
    """Every address this customer may have booked under; see :mod:`attendees`."""
    return _attendee_emails(customer, given=given, domain=domain)


# -- clean text ----------------------------------------------------------------------------

_BIDI_CONTROLS = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
)
_SEPARATORS = frozenset({"\u2028", "\u2029", "\x00"})
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
"""Characters Unicode says a renderer shows as nothing when it cannot handle them: Hangul
fillers, the combining grapheme joiner, variation selectors, tags, zero-width ones..."""
_BLANK_SYMBOLS = frozenset({"\u2800"})
"""Symbols drawn as nothing that are not default-ignorable: the Braille blank."""
_JOINERS = frozenset({"\u200c", "\u200d"})
"""ZWNJ and ZWJ: required inside Indic, Arabic and Persian words, nowhere else."""
_JOINING_SCRIPTS = (
    "ARABIC",
    "DEVANAGARI",
    "BENGALI",
    "GURMUKHI",
    "GUJARATI",
    "ORIYA",
    "TAMIL",
    "TELUGU",
    "KANNADA",
    "MALAYALAM",
    "SINHALA",
    "SYRIAC",
)


def _joining_letter(char: str) -> bool:
    name = unicodedata.name(char, "")
    return any(name.startswith(script) for script in _JOINING_SCRIPTS)


_IGNORABLE_PLANES = ((0x0000, 0xD800), (0xE000, 0x20000), (0xE0000, 0xF0000))
"""Where Unicode puts default-ignorable code points (planes 0, 1 and 14; no surrogates)."""


def _blank_class() -> str:
    """The class body of every character :func:`_blank` refuses, for JSON-schema patterns,
    which cannot name a Unicode property: ``\\u`` escapes (four hex digits) in the basic plane, the
    characters themselves above it (ECMA-262 with the ``u`` flag and Python read both)."""
    runs = regex.compile(r"\p{Default_Ignorable_Code_Point}+")
    parts = []
    for low, high in _IGNORABLE_PLANES:
        for run in runs.finditer("".join(map(chr, range(low, high)))):
            first, last = run[0][0], run[0][-1]
            if ord(last) > 0xFFFF:
                parts.append(f"{first}-{last}")
            else:
                parts.append(f"\\u{ord(first):04x}-\\u{ord(last):04x}")
    return "".join(parts) + "".join(f"\\u{ord(char):04x}" for char in sorted(_BLANK_SYMBOLS))


INVISIBLE_CLASS = _blank_class()
"""Default-ignorable characters and blank symbols, as a character-class body."""


def _invisible(char: str) -> bool:
    """Format characters, zero-width ones and separators a reader cannot see."""
    return (
        unicodedata.category(char) in ("Cf", "Zl", "Zp", "Cc", "Cs")
        or char in _SEPARATORS
        or _blank(char)
    )


def _blank(char: str) -> bool:
    """Default-ignorable characters and blank symbols: shown as nothing, or not at all."""
    return char in _BLANK_SYMBOLS or _IGNORABLE.match(char) is not None


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character that would make it differ from what is read back."""
    for index, char in enumerate(text):
        if char in _JOINERS:
            before = text[index - 1] if index else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if before and after and _joining_letter(before) and _joining_letter(after):
                continue
            return True
        if char in _BIDI_CONTROLS or char in _SEPARATORS or _blank(char):
            return True
        if unicodedata.category(char) in ("Cf", "Cs") or (
            unicodedata.category(char) == "Cc" and char not in "\t\n\r"
        ):
            return True
    return False


def clean_text(raw: str, *, field: str, multiline: bool = False) -> str:
    """NFC form of a name, note or reason, or InvalidArguments naming ``field``.

    Refused: bidi controls, zero-width characters outside a script that needs them, other
    default-ignorable characters (Hangul fillers, the combining grapheme joiner, variation
    selectors, tags) and the Braille blank, line and paragraph separators, NUL and other
    control characters (line breaks only where ``multiline``), and text made only of
    invisible characters.
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if has_invisible(text) or (not multiline and any(c in "\t\n\r" for c in text)):
        raise InvalidArguments(field, "holds invisible or control characters")
    if raw and not any(not char.isspace() and not _invisible(char) for char in text):
        raise InvalidArguments(field, "holds no visible characters")
    return text


# -- booking references --------------------------------------------------------------------


def parse_booking_reference(raw: str) -> str | None:
    """The reference a caller said ("k7f 2qx", "K-7-F-2-Q-X"), or None if it cannot be one."""
    text = _REFERENCE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if len(text) != REFERENCE_LENGTH or any(c not in REFERENCE_ALPHABET for c in text):
        return None
    return text


def spoken_reference(reference: str) -> str:
    """A reference as it is read out: characters apart, in two groups ("K 7 F, 2 Q X")."""
    half = len(reference) // 2
    return f"{' '.join(reference[:half])}, {' '.join(reference[half:])}"


_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"), ("ss", "s"))


def name_key(name: str) -> tuple[str, ...]:
    """A name reduced to compare leniently: no case, accents, punctuation; words kept."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = re.findall(r"\w+", plain)
    reduced = []
    for word in words:
        for digraph, single in _DIGRAPHS:
            word = word.replace(digraph, single)
        reduced.append(word)
    return tuple(reduced)


def names_match(said: str, booked: str) -> bool:
    """Whether the name a caller gave is the name on the booking, leniently but strictly.

    Case, accents and spellings such as ä/ae, ß/ss aside, the caller said the booking's
    surname (its last word) alone, or the whole name, or the whole name less one given name
    (in any order). Every word said must be a word of the booked name: a list of surnames,
    or any extra word, is no match.
    """
    said_words, booked_words = name_key(said), name_key(booked)
    if not said_words or not booked_words:
        return False
    surname = booked_words[-1]
    if said_words == (surname,):
        return True
    if surname not in said_words or len(said_words) < len(booked_words) - 1:
        return False
    remaining = list(booked_words)
    for word in said_words:
        if word not in remaining:
            return False
        remaining.remove(word)
    return True
