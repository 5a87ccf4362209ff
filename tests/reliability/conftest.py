"""Fixtures of the reliability tests: the whole backend, with a tool budget per test module.

Backoff between Cal.com read retries is switched off (``stamina`` testing mode), so a
rate-limited or failed read is retried at once and the suite stays fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stamina
from reliability_world import (
    CALLER,
    DAY_ONE,
    OTHER_CALLER,
    RETELL_KEY,
    World,
    make_emulator,
    make_settings,
)

from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import FakeClock, RetellSimulator

# Test modules of tests/booking import these from "conftest"; when pytest is given both
# folders, that name may resolve to this file, so it offers the same names.
__all__ = ["CALLER", "OTHER_CALLER", "World"]


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
    clock = FakeClock(DAY_ONE)
    emulator = make_emulator(clock)
    runtime = await build_runtime(
        make_settings(tool_budget_seconds=tool_budget_seconds),
        repository=repository,
        calcom_transport=emulator.transport,
        clock=clock,
    )
    app = create_app(runtime=runtime, clock=clock)
    retell = RetellSimulator.for_app(app, api_key=RETELL_KEY, clock=clock)
    try:
        yield World(clock, emulator, repository, runtime, retell)
    finally:
        await retell.aclose()
        await runtime.runner.wait_idle()
        await runtime.calcom.aclose()
