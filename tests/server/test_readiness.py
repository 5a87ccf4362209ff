"""``GET /readyz``: 200 only while the store answers at this version's schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from agent_backend import open_world

from retell_booking_tools.repository import open_repository, upgrade_database
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.postgres import PostgresRepository


class TestReadyz:
    """Load balancers and probes hear whether this process can serve."""

    async def test_current_store_is_ready(self, tmp_path: Path) -> None:
        """A migrated SQLite store answers 200 ``ready``."""
        url = f"sqlite:///{tmp_path}/ready.db"
        upgrade_database(url)
        async with open_world(await open_repository(url)) as world:
            response = await world.http.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ready"}

    async def test_schema_behind_is_503(self, tmp_path: Path) -> None:
        """A store whose migrations were never applied answers 503 ``schema``."""
        url = f"sqlite:///{tmp_path}/behind.db"
        repository = await open_repository(url, check_schema=False)
        async with open_world(repository) as world:
            response = await world.http.get("/readyz")
            healthz = await world.http.get("/healthz")

        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "schema"}
        assert healthz.status_code == 200

    async def test_a_version_table_with_two_revisions_is_503_schema(self, tmp_path: Path) -> None:
        """A store recording two revisions is reachable but not at this version's schema."""
        url = f"sqlite:///{tmp_path}/two.db"
        upgrade_database(url)
        repository = await open_repository(url)
        await repository.run_sync(
            "add a revision",
            lambda conn: conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')")),
        )
        async with open_world(repository) as world:
            response = await world.http.get("/readyz")

        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "schema"}

    async def test_unreachable_store_is_503(self, caplog: pytest.LogCaptureFixture) -> None:
        """A PostgreSQL nobody listens on answers 503 ``store``, the detail only in the log."""
        repository = PostgresRepository.pooled("postgresql://booking:s3cret@127.0.0.1:9/none")
        async with open_world(repository) as world:
            response = await world.http.get("/readyz")

        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "store"}
        assert "s3cret" not in response.text
        assert any("not ready" in r.getMessage() for r in caplog.records)

    async def test_memory_store_is_ready(self) -> None:
        """The in-memory store is always current."""
        async with open_world(InMemoryRepository()) as world:
            response = await world.http.get("/readyz")

        assert response.status_code == 200
