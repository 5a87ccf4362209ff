"""Businesses and their services, and which business a call belongs to."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import attrs

from retell_booking_tools.config import DEFAULT_CALCOM_API_URL, Language, Settings
from retell_booking_tools.domain import DEFAULT_BUSINESS_ID
from retell_booking_tools.errors import ConfigurationError

if TYPE_CHECKING:
    from retell_booking_tools.businesses.services import ServiceChoice
    from retell_booking_tools.retell.models import RetellCall

DEFAULT_KEY_VARIABLE: Final = "CALCOM_API_KEY"


@attrs.frozen
class Service:
    """What a caller can book: a name (and aliases) the caller may say, and its event type."""

    name: str
    event_type_id: int
    aliases: tuple[str, ...] = ()


@attrs.frozen(repr=False)
class Business:
    """One business: its Cal.com account (through the name of its key variable), the calls
    that are its own, its time zone, language and services.

    ``implicit`` marks the business made from the environment when there is no businesses
    file: its one service is whatever the caller names, as before businesses existed.
    """

    id: str
    name: str
    services: tuple[Service, ...]
    calcom_api_key_env: str
    calcom_api_url: str = DEFAULT_CALCOM_API_URL
    timezone: str = "UTC"
    language: Language = "en"
    agent_ids: tuple[str, ...] = ()
    phone_numbers: tuple[str, ...] = ()
    """E.164, as the file gives them once validated."""
    implicit: bool = False

    def __repr__(self) -> str:
        return f"Business(id={self.id!r}, services={len(self.services)})"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def event_type_ids(self) -> tuple[int, ...]:
        """The event types of its services, each once, in file order."""
        return tuple(dict.fromkeys(service.event_type_id for service in self.services))

    def service(self, spoken: str | None) -> ServiceChoice:
        """The service the caller names (see :mod:`~retell_booking_tools.businesses.services`)."""
        from retell_booking_tools.businesses.services import match_service

        return match_service(self, spoken)

    def service_for_event_type(self, event_type_id: int) -> Service | None:
        """The first service booking this event type; None when it is not this business's."""
        return next((s for s in self.services if s.event_type_id == event_type_id), None)

    def calcom_api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The Cal.com API key from its variable, or None when the variable is unset or blank."""
        value = (os.environ if environ is None else environ).get(self.calcom_api_key_env, "")
        return value.strip() or None


@attrs.frozen
class Businesses:
    """Every business of a deployment, in file order; ``source`` is the file (None: the
    environment's one business ``default``)."""

    businesses: tuple[Business, ...]
    source: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Businesses:
        """The businesses file of ``RETELL_BOOKING_BUSINESSES``, or the environment's one
        business. A file with mistakes raises BusinessesFileError naming each one."""
        if settings.businesses is not None:
            from retell_booking_tools.businesses.file import load_businesses

            return load_businesses(settings.businesses)
        return cls.single(settings)

    @classmethod
    def single(cls, settings: Settings) -> Businesses:
        """The business ``default`` of the single-business settings: ``CALCOM_API_KEY``,
        ``CALCOM_API_URL``, ``CALCOM_EVENT_TYPE_ID`` as its one service (none while unset),
        ``RETELL_BOOKING_TIMEZONE`` and ``RETELL_BOOKING_LANGUAGE``."""
        event_type = settings.calcom_event_type_id
        services = () if event_type is None else (Service(DEFAULT_BUSINESS_ID, event_type),)
        default = Business(
            id=DEFAULT_BUSINESS_ID,
            name=DEFAULT_BUSINESS_ID,
            services=services,
            calcom_api_key_env=DEFAULT_KEY_VARIABLE,
            calcom_api_url=settings.calcom_api_url,
            timezone=settings.timezone,
            language=settings.language,
            implicit=True,
        )
        return cls((default,))

    def __iter__(self) -> Iterator[Business]:
        return iter(self.businesses)

    def __len__(self) -> int:
        return len(self.businesses)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(business.id for business in self.businesses)

    def get(self, business_id: str) -> Business | None:
        return next((b for b in self.businesses if b.id == business_id), None)

    def __getitem__(self, business_id: str) -> Business:
        found = self.get(business_id)
        if found is None:
            raise KeyError(business_id)
        return found

    def for_call(self, agent_id: str | None, business_number: str | None) -> Business | None:
        """The business a call belongs to: the first whose ``agent_ids`` hold ``agent_id``,
        else the first whose ``phone_numbers`` hold ``business_number`` (the number called on
        an inbound call, the number calling on an outbound one); None for neither.

        Without a businesses file every call is the business ``default``'s.
        """
        if self.source is None and len(self.businesses) == 1 and self.businesses[0].implicit:
            return self.businesses[0]
        if agent_id:
            for business in self.businesses:
                if agent_id in business.agent_ids:
                    return business
        number = e164(business_number) if business_number else None
        if number is not None:
            for business in self.businesses:
                if number in business.phone_numbers:
                    return business
        return None

    def for_retell_call(self, call: RetellCall) -> Business | None:
        """:meth:`for_call` with the agent id and business-side number of Retell's call object."""
        return self.for_call(call.agent_id, call.business_number)


def e164(number: str) -> str | None:
    """``number`` in E.164 when it is a valid international number, else None."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def require_businesses(settings: Settings) -> tuple[Businesses, dict[str, str]]:
    """The businesses to serve and each one's Cal.com key by business id, or an error naming
    what is missing: without a businesses file ``CALCOM_API_KEY`` or
    ``CALCOM_EVENT_TYPE_ID``; with one, the first business whose key variable is unset
    (the variable and the business, never a value), or a file with mistakes."""
    if settings.businesses is None:
        api_key, _ = settings.require_calcom()
        businesses = Businesses.single(settings)
        return businesses, {business.id: api_key for business in businesses}
    businesses = Businesses.from_settings(settings)
    keys: dict[str, str] = {}
    for business in businesses:
        key = business.calcom_api_key(None)
        if key is None:
            raise ConfigurationError(
                f"{business.calcom_api_key_env} is not set: the Cal.com API key of business "
                f"{business.id!r} is required"
            )
        if not business.services:
            raise ConfigurationError(f"business {business.id!r} has no services to book")
        keys[business.id] = key
    return businesses, keys
