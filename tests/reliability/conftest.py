"""Fixtures of the reliability tests: the whole backend, with a tool budget per test module.

Backoff between Cal.com read retries is switched off (``stamina`` testing mode), so a
rate-limited or failed read is retried at once and the suite stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stamina
from agent_backend import World, open_world

from retell_booking_tools.repository.protocol import Repository


@pytest.fixture(name="tool_budget_seconds")
def fixture_tool_budget_seconds() -> float:
    """The default budget; a module that tests the budget overrides this fixture."""
    return 8.0


@pytest.fixture(autouse=True)
def _no_retry_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture(name="world")
async def fixture_world(repository: Repository, tool_budget_seconds: float) -> AsyncIterator[World]:
    """The backend on each store backend, answering within ``tool_budget_seconds``."""
    async with open_world(repository, tool_budget_seconds=tool_budget_seconds) as world:
        yield world
