"""Configuration from the environment: defaults, and messages that name the variable."""

from __future__ import annotations

import pytest

from retell_booking_tools.config import Settings
from retell_booking_tools.errors import ConfigurationError


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RETELL_BOOKING_DATABASE_URL",
        "RETELL_BOOKING_TIMEZONE",
        "CALCOM_API_URL",
        "RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS",
        "RETELL_BOOKING_DATABASE_POOL_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()

    assert settings.database_url == "sqlite:///retell_booking.db"
    assert settings.calcom_api_url == "https://api.cal.com/v2"
    assert settings.timezone == "UTC"
    assert settings.language == "en"
    assert settings.tool_call_lease_seconds == 60
    assert settings.database_pool_size == 10


def test_environment_overrides_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALCOM_API_KEY", "cal_live_secret")
    monkeypatch.setenv("CALCOM_EVENT_TYPE_ID", "2563193")
    monkeypatch.setenv("RETELL_BOOKING_LANGUAGE", "de")
    monkeypatch.setenv("RETELL_BOOKING_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS", "90")
    monkeypatch.setenv("RETELL_BOOKING_DATABASE_POOL_SIZE", "4")

    settings = Settings.from_env()

    assert settings.require_calcom() == ("cal_live_secret", 2563193)
    assert settings.language == "de"
    assert settings.tool_call_lease_seconds == 90
    assert settings.database_pool_size == 4
    assert "cal_live_secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETELL_BOOKING_LANGUAGE", "fr"),
        ("RETELL_BOOKING_TIMEZONE", "Europe/Atlantis"),
        ("CALCOM_EVENT_TYPE_ID", "beratung"),
        ("RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS", "0"),
        ("RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS", "soon"),
        ("RETELL_BOOKING_DATABASE_POOL_SIZE", "0"),
    ],
)
def test_malformed_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env()


@pytest.mark.parametrize("missing", ["CALCOM_API_KEY", "CALCOM_EVENT_TYPE_ID"])
def test_missing_calcom_setting_is_named(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setenv("CALCOM_API_KEY", "cal_x")
    monkeypatch.setenv("CALCOM_EVENT_TYPE_ID", "1")
    monkeypatch.delenv(missing)

    with pytest.raises(ConfigurationError, match=missing):
        Settings.from_env().require_calcom()


def test_missing_retell_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETELL_API_KEY", raising=False)

    with pytest.raises(ConfigurationError, match="RETELL_API_KEY"):
        Settings.from_env().require_retell_api_key()
