"""Fixtures of the booking tests: the whole backend (``agent_backend.World``) per store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agent_backend import World, open_world

from retell_booking_tools.repository.protocol import Repository


@pytest.fixture(name="requires_confirmation")
def fixture_requires_confirmation() -> bool:
    """Instant-confirm event type unless a test overrides this fixture."""
    return False


@pytest.fixture(name="language")
def fixture_language() -> str:
    return "en"


@pytest.fixture(name="world")
async def fixture_world(
    repository: Repository, requires_confirmation: bool, language: str
) -> AsyncIterator[World]:
    async with open_world(
        repository, requires_confirmation=requires_confirmation, language=language
    ) as world:
        yield world
