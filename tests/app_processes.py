"""Python processes of the app for tests: an environment of the test's settings only, and a
snippet run in a fresh interpreter that prints its findings as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

MINIMAL_SETTINGS = {
    "CALCOM_API_KEY": "cal_x",
    "CALCOM_EVENT_TYPE_ID": "1",
    "RETELL_API_KEY": "re_x",
}
"""The least the app starts from the environment with."""


def app_environment(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without its own Cal.com and Retell settings, plus ``settings``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CALCOM_", "RETELL_"))
    }
    return inherited | settings


def run_snippet(code: str, settings: dict[str, str] = MINIMAL_SETTINGS) -> Any:
    """Run ``code`` in a fresh interpreter with ``settings``; the JSON of its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=app_environment(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
