"""Re-record the Retell cassettes in ``tests/cassettes/retell``, then replay them once.

Against the Retell API emulator of this package, served by uvicorn on 127.0.0.1 (default)::

    .venv/bin/python tests/retell/record_cassettes.py

Against a real Retell account (use a scratch Retell LLM: its ``general_tools`` are replaced
for each scenario and restored afterwards)::

    RETELL_API_KEY=key_... RETELL_LLM_ID=llm_... .venv/bin/python tests/retell/record_cassettes.py

Cassettes are recorded into a temporary directory and only replace the committed ones when
every sync cassette test passed while recording; the committed set is then replayed
offline, the hygiene checks included. Extra arguments go to pytest (e.g. ``-k dry_run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE / "test_sync_cassettes.py"
COMMITTED = HERE.parent / "cassettes" / "retell"
HYGIENE_TESTS = "committed_retell_cassette or retell_cassettes_are_committed or recording_notes"


def _pytest(args: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", str(TESTS), "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, env=env, cwd=HERE.parents[1], check=False).returncode


def main(argv: list[str]) -> int:
    target = "a real Retell account" if os.environ.get("RETELL_API_KEY") else "the emulator"
    print(f"Recording Retell cassettes against {target} ...")
    with tempfile.TemporaryDirectory(prefix="retell-cassettes-") as scratch:
        env = {
            **os.environ,
            "RETELL_BOOKING_RECORD": "1",
            "RETELL_BOOKING_CASSETTE_DIR": scratch,
        }
        if _pytest(["-k", f"not ({HYGIENE_TESTS})", *argv], env) != 0:
            print("Recording failed; the committed cassettes are unchanged.", file=sys.stderr)
            return 1
        COMMITTED.mkdir(parents=True, exist_ok=True)
        for recorded in sorted(Path(scratch).iterdir()):
            shutil.copy2(recorded, COMMITTED / recorded.name)
            print(f"  wrote {COMMITTED / recorded.name}")

    replay_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"RETELL_BOOKING_RECORD", "RETELL_BOOKING_CASSETTE_DIR", "RETELL_API_KEY"}
    }
    print("Replaying the committed cassettes offline ...")
    return _pytest([], replay_env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
