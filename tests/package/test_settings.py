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
        "RETELL_BOOKING_TOOL_BUDGET_SECONDS",
        "RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS",
        "RETELL_BOOKING_DATABASE_POOL_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()

    assert settings.database_url == "sqlite:///retell_booking.db"
    assert settings.calcom_api_url == "https://api.cal.com/v2"
    assert settings.timezone == "UTC"
    assert settings.language == "en"
    assert settings.tool_budget_seconds == 8.0
    assert settings.tool_call_lease_seconds == 60
    assert settings.database_pool_size == 5


def test_tool_budget_is_read_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETELL_BOOKING_TOOL_BUDGET_SECONDS", "2.5")
    assert Settings.from_env().tool_budget_seconds == 2.5

    monkeypatch.setenv("RETELL_BOOKING_TOOL_BUDGET_SECONDS", "0")
    with pytest.raises(ConfigurationError, match="RETELL_BOOKING_TOOL_BUDGET_SECONDS"):
        Settings.from_env()


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


def test_operations_settings_default_to_metrics_on_threshold_ten_and_text_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metrics are served, the alert fires above 10 duplicates a day, logs are text."""
    for name in (
        "RETELL_BOOKING_METRICS",
        "RETELL_BOOKING_DUPLICATE_ALERT_THRESHOLD",
        "RETELL_BOOKING_LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()

    assert settings.metrics_enabled is True
    assert settings.duplicate_alert_threshold == 10
    assert settings.log_format == "text"


def test_operations_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RETELL_BOOKING_METRICS=0 turns metrics off; the threshold and JSON logs are read."""
    monkeypatch.setenv("RETELL_BOOKING_METRICS", "0")
    monkeypatch.setenv("RETELL_BOOKING_DUPLICATE_ALERT_THRESHOLD", "25")
    monkeypatch.setenv("RETELL_BOOKING_LOG_FORMAT", "json")

    settings = Settings.from_env()

    assert settings.metrics_enabled is False
    assert settings.duplicate_alert_threshold == 25
    assert settings.log_format == "json"


def test_a_bad_log_format_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only text and json are formats."""
    monkeypatch.setenv("RETELL_BOOKING_LOG_FORMAT", "xml")

    with pytest.raises(ConfigurationError, match="RETELL_BOOKING_LOG_FORMAT"):
        Settings.from_env()


def test_a_redis_url_is_read_and_its_password_never_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RETELL_BOOKING_REDIS_URL may carry a password; the settings' repr hides it."""
    monkeypatch.setenv("RETELL_BOOKING_REDIS_URL", "redis://:hunter2secret@127.0.0.1:6379/0")

    settings = Settings.from_env()

    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value().endswith("@127.0.0.1:6379/0")
    assert "hunter2secret" not in repr(settings)
