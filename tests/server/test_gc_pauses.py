"""A process served from its environment freezes its long-lived objects; a mounted app does not.

Freezing is process-wide, so each case runs in a fresh interpreter of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

SERVE_FROM_ENVIRONMENT = """
import gc, json
from starlette.testclient import TestClient
from retell_booking_tools.server import create_app
before = gc.get_freeze_count()
with TestClient(create_app()) as client:
    assert client.get("/healthz").status_code == 200
    print(json.dumps({"before": before, "serving": gc.get_freeze_count()}))
"""

MOUNTED = """
import gc, json
from starlette.testclient import TestClient
from retell_booking_tools.config import Settings
from retell_booking_tools.server import create_app
with TestClient(create_app(Settings.from_env())) as client:
    assert client.get("/healthz").status_code == 200
    print(json.dumps({"serving": gc.get_freeze_count()}))
"""

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


def test_an_app_served_from_its_environment_freezes_what_its_startup_built() -> None:
    seen = _run(SERVE_FROM_ENVIRONMENT)

    assert seen["before"] == 0
    assert seen["serving"] > 10_000


def test_an_app_built_from_given_settings_leaves_the_collector_alone() -> None:
    assert _run(MOUNTED) == {"serving": 0}


def test_what_was_built_while_warming_up_is_frozen_once_the_process_is_warm() -> None:
    started, first, second, warm, later = _run(WARMING)

    assert started > 0
    assert first == second == started
    assert warm >= started + 10_000
    assert later == warm
