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

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cassette_recording import record_then_replay  # noqa: E402


def main(argv: list[str]) -> int:
    return record_then_replay(
        service="Retell",
        tests=HERE / "test_sync_cassettes.py",
        committed=HERE.parent / "cassettes" / "retell",
        hygiene_tests=(
            "committed_retell_cassette or retell_cassettes_are_committed or recording_notes"
        ),
        account_variable="RETELL_API_KEY",
        argv=argv,
        unset_on_replay=("RETELL_API_KEY",),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
