"""Logs of real tool calls name the call, tool and status, and never a key or a person."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from agent_backend import CALCOM_KEY, CALLER, RETELL_KEY, World

from retell_booking_tools.ops.logs import configure_logging, mask
from retell_booking_tools.retell.signature import sign
from retell_booking_tools.testing import Fault, FaultKind

EMAIL = "max.mustermann@example.org"
BAD_EMAIL = "max.mustermann@@example"


@pytest.fixture(name="log_lines")
def fixture_log_lines() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and up, as the server writes it with JSON logs."""
    stream = io.StringIO()
    handler = configure_logging(
        "json", level=logging.DEBUG, secrets=(CALCOM_KEY, RETELL_KEY), stream=stream
    )
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


async def test_tool_call_logs_carry_call_tool_and_status_and_no_secret_or_person(
    world: World, log_lines: io.StringIO
) -> None:
    """booked, existing, invalid (bad email) and a Cal.com error, all logged safely."""
    assert (await world.book("call_booked", email=EMAIL))["status"] == "booked"
    world.clock.advance(timedelta(hours=20))
    assert (await world.book("call_existing", email=EMAIL))["status"] == "existing"
    assert (await world.book("call_invalid", email=BAD_EMAIL))["status"] == "invalid"
    world.calcom.inject(Fault(FaultKind.CONNECT_ERROR, method="POST", path="/v2/bookings"))
    failed = await world.book("call_failed", at="14:00", email=EMAIL)
    assert failed["status"] == "error"
    signature = sign(b"{}", RETELL_KEY)
    logging.getLogger("retell_booking_tools").warning(
        "leak attempt %s %s %s %s", EMAIL, CALLER, CALCOM_KEY, signature
    )

    text = log_lines.getvalue()
    entries = [json.loads(line) for line in text.splitlines()]
    digits = CALLER.lstrip("+")
    digest = signature.partition("d=")[2]
    for forbidden in (CALCOM_KEY, RETELL_KEY, EMAIL, BAD_EMAIL, CALLER, digits, digest):
        assert forbidden not in text, forbidden
    answered = {
        (entry["call_id"], entry["tool"], entry["status"])
        for entry in entries
        if entry["message"] == "tool answered"
    }
    assert answered == {
        ("call_booked", "collect_appointment_data", "booked"),
        ("call_existing", "collect_appointment_data", "existing"),
        ("call_invalid", "collect_appointment_data", "invalid"),
        ("call_failed", "collect_appointment_data", "error"),
    }
    of_tool_calls = [entry for entry in entries if "call_id" in entry]
    assert len(of_tool_calls) > len(answered)
    for entry in of_tool_calls:
        assert {"call_id", "tool", "status"} <= set(entry)
    assert any("<email>" in entry["message"] for entry in entries)


def test_mask_hides_keys_signatures_emails_and_phones_even_url_encoded() -> None:
    """Whatever shape they arrive in, credentials and contact details do not survive."""
    text = (
        "key cal_live_abcdef123456 retell key_0123456789abcdef sig v=1700000000000,d=abc123ef "
        "mail Max.M@Example.org query attendeeEmail=tel-4915112345678%40phone.invalid "
        "phone +49 151 1234 5678 and %2B4915112345678"
    )

    masked = mask(text)

    for gone in (
        "abcdef123456",
        "0123456789abcdef",
        "abc123ef",
        "Max.M@Example.org",
        "4915112345678",
        "151 1234 5678",
    ):
        assert gone not in masked
    assert "<phone …78>" in masked
    assert "<email>" in masked
