"""Building the app imports no module it only needs once it serves (cold start stays short).

The time itself is measured by ``benchmarks/cold_start.py``; this checks the cause.
"""

from __future__ import annotations

from app_processes import run_snippet

RUNTIME_ONLY_MODULES = (
    "alembic",
    "babel",
    "httpx",
    "phonenumbers",
    "prometheus_client",
    "retell",
    "rich",
    "sqlalchemy",
    "typer",
)
"""Needed from the lifespan on (store, Cal.com client, wording, metrics) or by the CLI."""

PROBE = """
import json, sys
from retell_booking_tools.server import create_app
app = create_app()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _top_level_modules_after(code: str) -> set[str]:
    return set(run_snippet(code))


def test_building_the_app_from_the_environment_imports_no_runtime_only_module() -> None:
    """``create_app()`` as ``uvicorn --factory`` calls it leaves the store and client unloaded."""
    loaded = _top_level_modules_after(PROBE)

    assert "starlette" in loaded
    assert loaded.isdisjoint(RUNTIME_ONLY_MODULES), sorted(loaded & set(RUNTIME_ONLY_MODULES))


def test_importing_the_package_imports_none_of_its_heavy_dependencies() -> None:
    """``import retell_booking_tools`` binds its public names on first use only."""
    loaded = _top_level_modules_after(
        "import json, sys, retell_booking_tools\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )

    assert loaded.isdisjoint({*RUNTIME_ONLY_MODULES, "starlette", "pydantic"})
