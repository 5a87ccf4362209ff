"""Fixtures of the edge tests: the whole backend on the in-memory store.

The edge answers before the store is touched, or through the runner that the booking
tests cover on every backend, so one store is enough here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agent_backend import World, open_world

from retell_booking_tools.repository.memory import InMemoryRepository


@pytest.fixture(name="edge_world")
async def fixture_world() -> AsyncIterator[World]:
    async with open_world(InMemoryRepository()) as world:
        yield world
