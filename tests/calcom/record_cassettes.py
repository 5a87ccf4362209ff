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

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cassette_recording import record_then_replay  # noqa: E402


def main(argv: list[str]) -> int:
    return record_then_replay(
        service="Cal.com",
        tests=HERE / "test_client_cassettes.py",
        committed=HERE.parent / "cassettes" / "calcom",
        hygiene_tests="committed_cassette or cassettes_are_committed or recording_notes",
        account_variable="CALCOM_API_KEY",
        argv=argv,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
