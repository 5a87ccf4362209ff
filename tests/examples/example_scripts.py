"""Load the scripts in ``examples/`` as modules, the way a reader would run them."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def next_business_day(zone: str = "Europe/Berlin") -> date:
    """A weekday at least two days from now, when the emulator's default hours are open."""
    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
