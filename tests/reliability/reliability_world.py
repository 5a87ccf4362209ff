"""What the reliability tests share: the ``World`` of ``tests/booking`` and its constants.

A module of its own (not ``conftest``), so test modules import it by a unique name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


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
EVENT_TYPE_ID: int = _world.EVENT_TYPE_ID
CALLER: str = _world.CALLER
OTHER_CALLER: str = _world.OTHER_CALLER
RETELL_KEY: str = _world.RETELL_KEY
DAY_ONE = _world.DAY_ONE

SHORT_BUDGET_SECONDS = 0.2
"""Short, so a delayed Cal.com answer crosses it within a fraction of a second."""

LOCAL_STORES = pytest.mark.parametrize("repository", ["memory", "sqlite"], indirect=True)
"""For tests of logic above the store: the embedded default and the reference, not PostgreSQL
again (its SQL is SQLite's, and ``tests/repository`` checks it)."""

MEMORY_STORE = pytest.mark.parametrize("repository", ["memory"], indirect=True)
"""For requests refused before the store is touched: one backend is enough."""
