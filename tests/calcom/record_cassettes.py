"""Re-record the Cal.com cassettes in ``tests/cassettes/calcom``, then replay them once.

Against the emulator of this package, served by uvicorn on 127.0.0.1 (the default)::

    .venv/bin/python tests/calcom/record_cassettes.py

Against a real Cal.com account (use an instant-confirm event type with free slots in the
next seven days; bookings made while recording are cancelled again afterwards)::

    CALCOM_API_KEY=cal_live_... CALCOM_EVENT_TYPE_ID=123456 \\
    [CALCOM_API_URL=https://api.cal.com/v2] [CALCOM_TIME_ZONE=Europe/Berlin] \\
    [CALCOM_ATTENDEE_EMAIL=you+cassettes@yourdomain] \\
    .venv/bin/python tests/calcom/record_cassettes.py

Cassettes are recorded into a temporary directory and only replace the committed ones when
every cassette test passed while recording; the committed set is then replayed offline, the
hygiene checks included. Extra arguments go to pytest (e.g. ``-k slots``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE / "test_client_cassettes.py"
COMMITTED = HERE.parent / "cassettes" / "calcom"
HYGIENE_TESTS = "committed_cassette or cassettes_are_committed or recording_notes"


def _pytest(args: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "pytest", str(TESTS), "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, env=env, cwd=HERE.parents[1], check=False).returncode


def main(argv: list[str]) -> int:
    target = "a real Cal.com account" if os.environ.get("CALCOM_API_KEY") else "the emulator"
    print(f"Recording Cal.com cassettes against {target} ...")
    with tempfile.TemporaryDirectory(prefix="calcom-cassettes-") as scratch:
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
        if key not in {"RETELL_BOOKING_RECORD", "RETELL_BOOKING_CASSETTE_DIR"}
    }
    print("Replaying the committed cassettes offline ...")
    return _pytest([], replay_env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
