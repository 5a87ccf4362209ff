"""A process served from its environment freezes its long-lived objects; a mounted app does not.

Freezing is process-wide, so the cases run in fresh interpreters, never in the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

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


def _run(code: str) -> Any:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CALCOM_", "RETELL_"))
    }
    env |= {
        "CALCOM_API_KEY": "cal_x",
        "CALCOM_EVENT_TYPE_ID": "1",
        "RETELL_API_KEY": "re_x",
        "RETELL_BOOKING_DATABASE_URL": "memory://",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(name="frozen_by_apps", scope="module")
def fixture_frozen_by_apps() -> dict[str, int]:
    seen: dict[str, int] = _run(APPS)
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
    started, first, second, warm, later = _run(WARMING)

    assert started > 0
    assert first == second == started
    assert warm >= started + 10_000
    assert later == warm
