"""A process served from its environment freezes its long-lived objects; a mounted app does not.

Freezing is process-wide, so the cases run in fresh interpreters, never in the test process.
"""

from __future__ import annotations

import pytest
from app_processes import MINIMAL_SETTINGS, run_snippet

APPS = """
import gc, json
from starlette.testclient import TestClient
from retell_booking_tools.config import Settings
from retell_booking_tools.server import create_app
seen = {}
with TestClient(create_app(Settings.from_env())) as client:
    assert client.get("/healthz").status_code == 200
    seen["given_settings"] = gc.get_freeze_count()
with TestClient(create_app()) as client:
    assert client.get("/healthz").status_code == 200
    seen["from_environment"] = gc.get_freeze_count()
print(json.dumps(seen))
"""
"""An app built from given settings first (nothing may be frozen by it), then one served
from the environment, in one interpreter."""

SETTINGS = MINIMAL_SETTINGS | {"RETELL_BOOKING_DATABASE_URL": "memory://"}

WARMING = """
import gc, json
from retell_booking_tools.ops.gc_pauses import PauseShortener
pauses = PauseShortener(warm_calls=3)
pauses.started()
seen = [gc.get_freeze_count()]
kept = [[index] for index in range(10_000)]  # made while serving: not yet frozen
for _ in range(3):
    pauses.served()
    seen.append(gc.get_freeze_count())
pauses.served()
seen.append(gc.get_freeze_count())
print(json.dumps(seen))
"""


@pytest.fixture(name="frozen_by_apps", scope="module")
def fixture_frozen_by_apps() -> dict[str, int]:
    seen: dict[str, int] = run_snippet(APPS, SETTINGS)
    return seen


def test_an_app_served_from_its_environment_freezes_what_its_startup_built(
    frozen_by_apps: dict[str, int],
) -> None:
    assert frozen_by_apps["from_environment"] > 10_000


def test_an_app_built_from_given_settings_leaves_the_collector_alone(
    frozen_by_apps: dict[str, int],
) -> None:
    assert frozen_by_apps["given_settings"] == 0


def test_what_was_built_while_warming_up_is_frozen_once_the_process_is_warm() -> None:
    started, first, second, warm, later = run_snippet(WARMING)

    assert started > 0
    assert first == second == started
    assert warm >= started + 10_000
    assert later == warm
