"""Fixtures for tests across server processes; they need PostgreSQL (``postgres_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from replicas import Cluster, Replica, replica_environment, retell_for

from retell_booking_tools.repository import Repository
from retell_booking_tools.testing import BusinessHours, CalcomEmulator, EventTypeSpec, serve_asgi

if TYPE_CHECKING:
    from conftest import Database, Databases

EVENT_TYPE_ID = 2563193
CALCOM_KEY = "cal_test_emulator_key"
RETELL_KEY = "retell_test_key"


@pytest.fixture(name="topology")
def fixture_topology() -> list[int | None]:
    """Per server process: ``None`` for one uvicorn process, N for ``serve --workers N``."""
    return [None, None]


@pytest.fixture(name="database")
def fixture_database(databases: Databases) -> Database:
    """A fresh PostgreSQL schema, migrated to head."""
    return databases.create("postgres")


@pytest.fixture(name="cluster")
async def fixture_cluster(
    database: Database, topology: list[int | None], tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Server processes (two by default) on ``database``, one Cal.com emulated over HTTP."""
    emulator = CalcomEmulator(api_key=CALCOM_KEY, rate_limit_per_minute=100_000)
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
            ),
        )
    )
    database_url = f"{database.url}?options=-csearch_path%3D{database.schema}"
    async with serve_asgi(emulator.asgi_app) as calcom_url:
        env = replica_environment(
            database_url=database_url,
            calcom_url=calcom_url,
            calcom_key=CALCOM_KEY,
            retell_key=RETELL_KEY,
            event_type_id=EVENT_TYPE_ID,
        )
        replicas: list[Replica] = []
        try:
            for number, workers in enumerate(topology):
                replicas.append(Replica.start(f"replica-{number}", env, tmp_path, workers=workers))
            for replica in replicas:
                await replica.wait_healthy()
            retells = [retell_for(replica, RETELL_KEY) for replica in replicas]
            try:
                yield Cluster(emulator, replicas, retells)
            finally:
                for retell in retells:
                    await retell.aclose()
        finally:
            for replica in replicas:
                replica.kill()
            emulator.close()


@pytest.fixture(name="repository")
async def fixture_repository(databases: Databases, database: Database) -> Repository:
    """The replicas' store, opened from the test process to check what they wrote."""
    return await databases.open(database)
