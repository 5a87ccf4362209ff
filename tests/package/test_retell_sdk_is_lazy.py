"""Importing the package or the server never imports the whole retell-sdk (it takes seconds)."""

from __future__ import annotations

import subprocess
import sys


def test_package_server_export_and_sync_modules_do_not_import_retell_sdk() -> None:
    code = (
        "import sys; import retell_booking_tools, retell_booking_tools.server, "
        "retell_booking_tools.retell, retell_booking_tools.cli; "
        "print(sorted(m for m in sys.modules if m == 'retell' or m.startswith('retell.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
