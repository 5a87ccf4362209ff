"""Record a cassette suite into a scratch directory, adopt it only if it passed, replay it.

Shared by ``tests/calcom/record_cassettes.py`` and ``tests/retell/record_cassettes.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

_RECORDING_SWITCHES = ("RETELL_BOOKING_RECORD", "RETELL_BOOKING_CASSETTE_DIR")


def record_then_replay(
    *,
    service: str,
    tests: Path,
    committed: Path,
    hygiene_tests: str,
    account_variable: str,
    argv: Iterable[str],
    unset_on_replay: Iterable[str] = (),
) -> int:
    """Record ``tests`` (all but ``hygiene_tests``) against a real account when
    ``account_variable`` is set, else against the emulator; 0 when the replay passes."""
    target = f"a real {service} account" if os.environ.get(account_variable) else "the emulator"
    print(f"Recording {service} cassettes against {target} ...")
    with tempfile.TemporaryDirectory(prefix="cassettes-") as scratch:
        env = {**os.environ, "RETELL_BOOKING_RECORD": "1", "RETELL_BOOKING_CASSETTE_DIR": scratch}
        if _pytest(tests, ["-k", f"not ({hygiene_tests})", *argv], env) != 0:
            print("Recording failed; the committed cassettes are unchanged.", file=sys.stderr)
            return 1
        committed.mkdir(parents=True, exist_ok=True)
        for recorded in sorted(Path(scratch).iterdir()):
            shutil.copy2(recorded, committed / recorded.name)
            print(f"  wrote {committed / recorded.name}")

    dropped = {*_RECORDING_SWITCHES, *unset_on_replay}
    replay_env = {key: value for key, value in os.environ.items() if key not in dropped}
    print("Replaying the committed cassettes offline ...")
    return _pytest(tests, [], replay_env)


def _pytest(tests: Path, args: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider", *args]
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(command, env=env, cwd=root, check=False).returncode
