"""``serve`` as an operator runs it: every line it writes is JSON, masked, uvicorn's included."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CALCOM_KEY = "cal_live_servesecret123"
RETELL_KEY = "key_serveretellsecret456"
PHONE_DIGITS = ("4915112345678", "015112345678")
EMAIL = "max.mustermann@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _abort_mid_body(port: int, path: str) -> None:
    """Headers, a few bytes of a longer body, then the connection is gone."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: 5000\r\n\r\n".encode()
            + b'{"call": {"call_id": "c", "from_number": "+4915112345678"'
        )
        time.sleep(0.2)


@pytest.fixture(name="served")
def fixture_served(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, int]:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "CALCOM_API_KEY": CALCOM_KEY,
        "CALCOM_API_URL": "http://127.0.0.1:9/v2",
        "CALCOM_EVENT_TYPE_ID": "1",
        "RETELL_API_KEY": RETELL_KEY,
        "RETELL_BOOKING_DATABASE_URL": "memory://",
        "RETELL_BOOKING_LOG_FORMAT": "json",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "retell_booking_tools", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, log, port


def test_every_line_of_serve_is_masked_json(
    served: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    """Hostile paths and aborted bodies leave only JSON lines without numbers, emails or keys."""
    process, log, port = served
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.02)
            client.get(f"/healthz?phone=%2B{PHONE_DIGITS[0]}&email={EMAIL.replace('@', '%40')}")
            client.get(f"/retell/functions/+{PHONE_DIGITS[0]}/{EMAIL}")
            client.get(f"/lookup/{PHONE_DIGITS[1]}?key={CALCOM_KEY}&retell={RETELL_KEY}")
            client.get("/healthz?phone=415-555-0134&e=max.mustermann%40example%2Ecom")
            client.get("/healthz?p=%2B1%20(415)%20555-0134&q=+49+151+2345+6789")
            client.get("/healthz?e=max%2540example.com&p=%2B49%20151%2012345678")
            client.post(
                "/retell/functions/collect_appointment_data",
                content=json.dumps({"call": {"call_id": "c"}, "args": {"email": EMAIL}}),
            )
        _abort_mid_body(port, f"/retell/functions/collect_appointment_data?email={EMAIL}")
        deadline = time.monotonic() + 10
        while "disconnected" not in log.read_text():  # the server noticed the abort
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    text = "\n".join(lines)
    assert all(digits not in text for digits in PHONE_DIGITS)
    for spelt in ("555-0134", "(415)", "555 0134", "2345 6789", "151 12345678"):
        assert spelt not in text
    assert "mustermann" not in text
    assert EMAIL not in text
    assert "example.com" not in text
    assert CALCOM_KEY not in text
    assert RETELL_KEY not in text
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers
    assert sum(1 for e in entries if e["logger"] == "uvicorn.access") >= 7
    assert any("disconnected" in e["message"] for e in entries)
    assert not any(e["level"] in ("error", "critical") for e in entries)
    assert not any("Traceback" in e.get("exception", "") for e in entries)
