"""The server refuses to start when it could not serve honestly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from retell_booking_tools.config import Settings
from retell_booking_tools.errors import ConfigurationError, SchemaOutOfDate
from retell_booking_tools.server import create_app


def _settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "calcom_api_key": SecretStr("cal_x"),
        "calcom_event_type_id": 1,
        "retell_api_key": SecretStr("retell_x"),
        "database_url": database_url,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def test_server_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    app = create_app(_settings(f"sqlite:///{tmp_path / 'new.db'}"))

    with pytest.raises(SchemaOutOfDate, match="retell-booking-tools db upgrade"):
        async with app.router.lifespan_context(app):
            pass


def test_server_without_retell_key_does_not_start() -> None:
    with pytest.raises(ConfigurationError, match="RETELL_API_KEY"):
        create_app(_settings("memory://", retell_api_key=None))
