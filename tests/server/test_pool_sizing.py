"""Default pools that fit four replicas in PostgreSQL's defaults, and a warning when not."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from agent_backend import open_world

from retell_booking_tools.config import Settings
from retell_booking_tools.repository.factory import check_pool_fits, pool_sizes
from retell_booking_tools.repository.postgres import PostgresRepository

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_SUPERUSER_RESERVED = 3


class TestDefaults:
    """What a process opens with the documented defaults."""

    def test_four_default_processes_fit_default_max_connections(self) -> None:
        """4 x (4 x 5 + 1) = 84 of the 97 connections ordinary roles may open."""
        per_process = pool_sizes(Settings().database_pool_size).total

        assert per_process == 21
        assert 4 * per_process <= DEFAULT_MAX_CONNECTIONS - DEFAULT_SUPERUSER_RESERVED

    def test_pooled_repository_opens_what_the_formula_counts(self) -> None:
        """The engines' pool limits are the formula's numbers (nothing connects yet)."""
        repository = PostgresRepository.pooled("postgresql://x@127.0.0.1:9/x", pool_size=3)

        assert repository.pool == pool_sizes(3)
        assert repository.pool.total == 13


@pytest.mark.postgres
class TestStartupCheck:
    """Each process compares its pools with ``max_connections`` at startup."""

    async def test_pool_that_cannot_fit_logs_a_warning_naming_the_numbers(
        self, databases: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Too many local processes for ``max_connections``: one WARNING says what to change."""
        database = databases.create("postgres")
        repository = PostgresRepository.pooled(database.url, schema=database.schema)
        try:
            capacity = await repository.connection_capacity()
            fitting = capacity // repository.pool.total
            caplog.set_level(logging.WARNING)

            fits = await check_pool_fits(repository, processes=fitting)
            quiet = [r for r in caplog.records if r.levelno >= logging.WARNING]
            too_many = await check_pool_fits(repository, processes=fitting + 1)
        finally:
            await repository.close()

        assert fits is True
        assert quiet == []
        assert too_many is False
        warning = caplog.records[-1].getMessage()
        assert "RETELL_BOOKING_DATABASE_POOL_SIZE" in warning
        assert str(capacity) in warning

    async def test_waiting_for_a_connection_is_bounded_and_answers_error(
        self, databases: Any
    ) -> None:
        """Every connection held elsewhere: the call answers ``error`` after the pool timeout."""
        database = databases.create("postgres")
        repository = PostgresRepository.pooled(
            database.url, schema=database.schema, pool_size=1, pool_timeout=0.3
        )
        held = [await repository.engine.connect() for _ in range(2)]
        try:
            async with open_world(repository) as world:
                started = time.monotonic()
                result = await world.tool(
                    "find_appointments", {}, call_id="call_pool", from_number="+4915112345678"
                )
                elapsed = time.monotonic() - started
        finally:
            for conn in held:
                await conn.close()
            await repository.close()

        assert result["status"] == "error"
        assert elapsed < 3
