"""The whole backend of ``tests/booking`` (its ``World``), with a tool budget per test module.

Backoff between Cal.com read retries is switched off (``stamina`` testing mode), so a
rate-limited or failed read is retried at once and the suite stays fast.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import stamina

from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.runtime import build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import FakeClock, RetellSimulator


def _booking_world() -> ModuleType:
    """``tests/booking/conftest.py`` under a name of its own, so both conftests coexist."""
    path = Path(__file__).parent.parent / "booking" / "conftest.py"
    spec = importlib.util.spec_from_file_location("booking_world", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["booking_world"] = module
    spec.loader.exec_module(module)
    return module


_world = sys.modules.get("booking_world") or _booking_world()
World = _world.World
make_emulator = _world.make_emulator
make_settings = _world.make_settings
CALLER: str = _world.CALLER
OTHER_CALLER: str = _world.OTHER_CALLER
RETELL_KEY: str = _world.RETELL_KEY
DAY_ONE = _world.DAY_ONE

SHORT_BUDGET_SECONDS = 0.2
"""Short, so a delayed Cal.com answer crosses it within a fraction of a second."""


@pytest.fixture(name="tool_budget_seconds")
def fixture_tool_budget_seconds() -> float:
    """The default budget; a module that tests the budget overrides this fixture."""
    return 8.0


LOCAL_STORES = pytest.mark.parametrize("repository", ["memory", "sqlite"], indirect=True)
"""For tests of logic above the store: the embedded default and the reference, not PostgreSQL
again (its SQL is SQLite's, and ``tests/repository`` checks it)."""


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
