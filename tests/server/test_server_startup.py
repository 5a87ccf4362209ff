"""The server refuses to start when it could not serve honestly."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import SecretStr

from retell_booking_tools.config import Settings
from retell_booking_tools.errors import ConfigurationError, SchemaOutOfDate
from retell_booking_tools.repository import database_revision
from retell_booking_tools.repository.factory import alembic_config, head_revision
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
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()
    app = create_app(_settings(url))

    with pytest.raises(SchemaOutOfDate, match="retell-booking-tools db upgrade"):
        async with app.router.lifespan_context(app):
            pass


async def test_server_on_a_new_sqlite_file_starts_and_creates_the_schema(tmp_path: Path) -> None:
    """The embedded default needs no ``db upgrade``: the app's lifespan creates the file."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    app = create_app(_settings(url))

    async with app.router.lifespan_context(app):
        pass

    assert database_revision(url) == (head_revision(), head_revision())


def test_server_without_retell_key_does_not_start() -> None:
    with pytest.raises(ConfigurationError, match="RETELL_API_KEY"):
        create_app(_settings("memory://", retell_api_key=None))
