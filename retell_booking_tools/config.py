"""Typed settings, read from the environment (or built directly for library use).

Environment variables are a public contract: ``CALCOM_API_KEY``, ``CALCOM_API_URL``,
``CALCOM_EVENT_TYPE_ID``, ``RETELL_API_KEY``, ``RETELL_BOOKING_DATABASE_URL``,
``RETELL_BOOKING_TIMEZONE``, ``RETELL_BOOKING_LANGUAGE``, ``CALCOM_WEBHOOK_SECRET`` and the
optional ones below. ``RETELL_BOOKING_BUSINESSES`` names a businesses file (see
:mod:`retell_booking_tools.businesses`); without it the settings above are the one business
``default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retell_booking_tools.errors import ConfigurationError

Language = Literal["en", "de"]
DEFAULT_DATABASE_URL = "sqlite:///retell_booking.db"
DEFAULT_CALCOM_API_URL = "https://api.cal.com/v2"
DEFAULT_TOOL_BUDGET_SECONDS = 8.0
"""Long enough for a slow Cal.com to book (a few round trips), short enough that a caller is
not left in silence, and far below Retell's default ``timeout_ms`` of 120 s."""
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
"""Room for an hour-long call object (transcript, per-word timings, tool calls and their
scrubbed copies: several MiB) with a wide margin."""
DEFAULT_BODY_TIMEOUT_SECONDS = 10.0
"""Retell sends a whole body at once; a body still incomplete after this is not Retell's."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything the service needs; secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    calcom_api_key: SecretStr | None = Field(default=None, validation_alias=_env("CALCOM_API_KEY"))
    calcom_api_url: str = Field(
        default=DEFAULT_CALCOM_API_URL, validation_alias=_env("CALCOM_API_URL")
    )
    calcom_event_type_id: int | None = Field(
        default=None, validation_alias=_env("CALCOM_EVENT_TYPE_ID")
    )
    retell_api_key: SecretStr | None = Field(default=None, validation_alias=_env("RETELL_API_KEY"))
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, validation_alias=_env("RETELL_BOOKING_DATABASE_URL")
    )
    timezone: str = Field(default="UTC", validation_alias=_env("RETELL_BOOKING_TIMEZONE"))
    language: Language = Field(default="en", validation_alias=_env("RETELL_BOOKING_LANGUAGE"))
    phone_region: str = Field(
        default="US",
        validation_alias=_env("RETELL_BOOKING_PHONE_REGION"),
        validate_default=False,
    )
    """Region for phone numbers written without a country code. Only a configured value is
    checked: the default is a known region, and the check imports phonenumbers."""
    attendee_email_domain: str = Field(
        default="sms.cal.com", validation_alias=_env("RETELL_BOOKING_ATTENDEE_EMAIL_DOMAIN")
    )
    calcom_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=_env("RETELL_BOOKING_CALCOM_TIMEOUT")
    )
    metrics_enabled: bool = Field(default=True, validation_alias=_env("RETELL_BOOKING_METRICS"))
    duplicate_alert_threshold: int = Field(
        default=10, ge=0, validation_alias=_env("RETELL_BOOKING_DUPLICATE_ALERT_THRESHOLD")
    )
    redis_url: SecretStr | None = Field(
        default=None, validation_alias=_env("RETELL_BOOKING_REDIS_URL")
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=_env("RETELL_BOOKING_LOG_FORMAT")
    )
    calcom_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("CALCOM_WEBHOOK_SECRET")
    )
    """Verifies Cal.com's webhook signatures; without it ``/calcom/webhook`` accepts nothing."""
    tool_budget_seconds: float = Field(
        default=DEFAULT_TOOL_BUDGET_SECONDS,
        gt=0,
        validation_alias=_env("RETELL_BOOKING_TOOL_BUDGET_SECONDS"),
    )
    """How long a function call may take before it answers ``pending``; keep it below the
    tool's ``timeout_ms`` in Retell, so Retell never times out and retries on its own."""
    tool_call_lease_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_env("RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS")
    )
    """How long a started tool call is its owner's before a retry may resume it anyway.

    Keep it above the longest a tool call can take. On PostgreSQL a claim whose owner's
    process died is resumed at once, whatever the lease.
    """
    database_pool_size: int = Field(
        default=5, ge=1, validation_alias=_env("RETELL_BOOKING_DATABASE_POOL_SIZE")
    )
    """PostgreSQL connections a server process keeps for queries; at most 4 times this plus
    one are ever open (queries, overflow, slot locks, claims: ``repository.postgres.
    pool_sizes``), so by default four processes fit ``max_connections=100``. Ignored by
    SQLite."""
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        validation_alias=_env("RETELL_BOOKING_MAX_BODY_BYTES"),
    )
    """The largest request body read from Retell; a larger one answers 413."""
    body_timeout_seconds: float = Field(
        default=DEFAULT_BODY_TIMEOUT_SECONDS,
        gt=0,
        validation_alias=_env("RETELL_BOOKING_BODY_TIMEOUT_SECONDS"),
    )
    """How long a request body may take to arrive once its headers have; then 408."""
    calcom_rate_limit: int = Field(
        default=120, ge=0, validation_alias=_env("RETELL_BOOKING_CALCOM_RATE_LIMIT")
    )
    """Cal.com requests per minute the API key may make, shared by every replica (PostgreSQL
    store or Redis); 0 turns the budget off."""
    calcom_budget_wait_seconds: float = Field(
        default=2.0, ge=0, validation_alias=_env("RETELL_BOOKING_CALCOM_BUDGET_WAIT_SECONDS")
    )
    """How long a request may wait for the budget before its tool answers ``error``."""
    slots_reuse_seconds: float = Field(
        default=5.0, ge=0, validation_alias=_env("RETELL_BOOKING_SLOTS_REUSE_SECONDS")
    )
    """How long a day's free slots are reused for the same event type; 0 reuses nothing.
    A booking, reschedule, cancellation or Cal.com webhook touching the day drops them."""
    console_password: SecretStr | None = Field(
        default=None, validation_alias=_env("RETELL_BOOKING_CONSOLE_PASSWORD")
    )
    """Signs in to the support console at ``/console``; without it the console is not served."""
    businesses: Path | None = Field(
        default=None, validation_alias=_env("RETELL_BOOKING_BUSINESSES")
    )
    """The businesses file (TOML): several businesses, each with its Cal.com key variable and
    services; read by :meth:`retell_booking_tools.businesses.Businesses.from_settings`."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("businesses", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value.upper()

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment; a malformed value raises ConfigurationError naming it."""
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_calcom(self) -> tuple[str, int]:
        """The Cal.com API key and event type id, or a message naming what is missing."""
        if self.calcom_api_key is None or not self.calcom_api_key.get_secret_value():
            raise ConfigurationError("CALCOM_API_KEY is not set: the Cal.com API key is required")
        if self.calcom_event_type_id is None:
            raise ConfigurationError(
                "CALCOM_EVENT_TYPE_ID is not set: the Cal.com event type to book is required"
            )
        return self.calcom_api_key.get_secret_value(), self.calcom_event_type_id

    def secrets(self) -> tuple[str, ...]:
        """The credentials set in these settings, for log masking (the businesses file's
        keys: :func:`retell_booking_tools.businesses.file.deployment_secrets`)."""
        keys = (self.calcom_api_key, self.retell_api_key, self.console_password)
        return tuple(key.get_secret_value() for key in keys if key is not None)

    def require_retell_api_key(self) -> str:
        """The key that signs Retell requests, or a message naming the variable."""
        if self.retell_api_key is None or not self.retell_api_key.get_secret_value():
            raise ConfigurationError(
                "RETELL_API_KEY is not set: it is needed to verify Retell's request signatures"
            )
        return self.retell_api_key.get_secret_value()


_ENV_NAMES = {
    "calcom_api_key": "CALCOM_API_KEY",
    "calcom_api_url": "CALCOM_API_URL",
    "calcom_event_type_id": "CALCOM_EVENT_TYPE_ID",
    "retell_api_key": "RETELL_API_KEY",
    "database_url": "RETELL_BOOKING_DATABASE_URL",
    "timezone": "RETELL_BOOKING_TIMEZONE",
    "language": "RETELL_BOOKING_LANGUAGE",
    "phone_region": "RETELL_BOOKING_PHONE_REGION",
    "attendee_email_domain": "RETELL_BOOKING_ATTENDEE_EMAIL_DOMAIN",
    "calcom_timeout_seconds": "RETELL_BOOKING_CALCOM_TIMEOUT",
    "metrics_enabled": "RETELL_BOOKING_METRICS",
    "duplicate_alert_threshold": "RETELL_BOOKING_DUPLICATE_ALERT_THRESHOLD",
    "log_format": "RETELL_BOOKING_LOG_FORMAT",
    "redis_url": "RETELL_BOOKING_REDIS_URL",
    "calcom_webhook_secret": "CALCOM_WEBHOOK_SECRET",
    "tool_budget_seconds": "RETELL_BOOKING_TOOL_BUDGET_SECONDS",
    "tool_call_lease_seconds": "RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS",
    "database_pool_size": "RETELL_BOOKING_DATABASE_POOL_SIZE",
    "max_body_bytes": "RETELL_BOOKING_MAX_BODY_BYTES",
    "body_timeout_seconds": "RETELL_BOOKING_BODY_TIMEOUT_SECONDS",
    "calcom_rate_limit": "RETELL_BOOKING_CALCOM_RATE_LIMIT",
    "calcom_budget_wait_seconds": "RETELL_BOOKING_CALCOM_BUDGET_WAIT_SECONDS",
    "slots_reuse_seconds": "RETELL_BOOKING_SLOTS_REUSE_SECONDS",
    "console_password": "RETELL_BOOKING_CONSOLE_PASSWORD",
    "businesses": "RETELL_BOOKING_BUSINESSES",
}


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else "settings"
        problems.append(f"{_ENV_NAMES.get(where, where)}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)
