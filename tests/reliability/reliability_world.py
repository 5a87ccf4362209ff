"""What the reliability tests share: the backend of ``agent_backend`` and test markers."""

from __future__ import annotations

import pytest
from agent_backend import (
    CALLER,
    DAY_ONE,
    EVENT_TYPE_ID,
    OTHER_CALLER,
    RETELL_KEY,
    World,
    make_emulator,
    make_settings,
)

__all__ = [
    "CALLER",
    "DAY_ONE",
    "EVENT_TYPE_ID",
    "LOCAL_STORES",
    "MEMORY_STORE",
    "OTHER_CALLER",
    "RETELL_KEY",
    "SHORT_BUDGET_SECONDS",
    "World",
    "make_emulator",
    "make_settings",
]

SHORT_BUDGET_SECONDS = 0.15
"""Short, so a delayed Cal.com answer crosses it within a fraction of a second."""

LOCAL_STORES = pytest.mark.parametrize("repository", ["memory", "sqlite"], indirect=True)
"""For tests of logic above the store: the embedded default and the reference, not PostgreSQL
again (its SQL is SQLite's, and ``tests/repository`` checks it)."""

MEMORY_STORE = pytest.mark.parametrize("repository", ["memory"], indirect=True)
"""For requests refused before the store is touched: one backend is enough."""
