"""The console in headless Chromium (Debian's ``chromium``, driven by Playwright).

The backend runs as a real server (``console_server.py``) holding the replayed incident.
Set ``RETELL_BOOKING_CONSOLE_SCREENSHOT`` to a path to keep the timeline's screenshot
(the README's ``docs/console-timeline.png`` is made so).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER = Path(__file__).with_name("console_server.py")
PASSWORD = "correct horse battery staple"

# One server and one browser for the module: its tests run on one xdist worker.
pytestmark = pytest.mark.xdist_group("console-browser")


@attrs.frozen
class Served:
    """Where the console listens and the incident's booking uid."""

    base_url: str
    booking_uid: str


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(name="served", scope="module")
def fixture_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The console server with the incident replayed, for the module's tests."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if _on_ci():
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("console")
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(directory)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=SERVER.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("READY "), f"the console server did not start: {line!r}"
        _, port, uid = line.split()
        yield Served(base_url=f"http://127.0.0.1:{port}", booking_uid=uid)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(name="browser", scope="module")
def fixture_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_support_finds_the_incidents_two_calls_and_their_one_appointment(
    served: Served, browser: object, tmp_path: Path
) -> None:
    """Sign in, search the call, open its timeline, follow it to the appointment: both calls."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "console",
        lambda message: (
            failed.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    page.goto(f"{served.base_url}/console/calls")
    expect(page).to_have_url(f"{served.base_url}/console/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{served.base_url}/console/calls")

    page.fill("input[name=q]", "call_766")
    page.click("form.search button[type=submit]")
    row = page.locator("table.calls tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("duplicate attempt")
    expect(row).to_contain_text("***5678")

    page.click("text=call_766")
    expect(page.locator("h1")).to_contain_text("call_766")
    expect(page.locator(".timeline")).to_contain_text("You already have an appointment")
    expect(page.locator(".timeline")).to_contain_text("Linked as duplicate_attempt")
    expect(page.locator(".timeline")).to_contain_text("Call ended: user_hangup")
    screenshot = tmp_path / "console-timeline.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    keep = os.environ.get("RETELL_BOOKING_CONSOLE_SCREENSHOT")
    if keep:
        shutil.copyfile(screenshot, keep)

    page.click("a.appointment-link")
    expect(page.locator("h1")).to_contain_text(served.booking_uid)
    cards = page.locator("article.linked-call")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("call_682")
    expect(cards.nth(0)).to_contain_text("original")
    expect(cards.nth(1)).to_contain_text("call_766")
    expect(cards.nth(1)).to_contain_text("duplicate_attempt")
    assert failed == []


def test_a_customer_named_like_a_script_appears_as_text(served: Served, browser: object) -> None:
    """The markup is shown as the name's text, and no dialog ever opens."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served.base_url}/console/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{served.base_url}/console/appointments/uid-markup-attendee")
    expect(page.locator(".customer")).to_have_text("<script>alert(1)</script>")
    page.goto(f"{served.base_url}/console/calls/call_900")
    expect(page.locator(".customer")).to_have_text("<script>alert(1)</script>")
    assert dialogs == []


def test_a_signed_out_visit_is_sent_to_the_login_and_the_csp_is_sent(
    served: Served, browser: object
) -> None:
    """A fresh browser lands on the form; every response carries the CSP header."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{served.base_url}/console/appointments/{served.booking_uid}")
    assert response is not None
    assert page.url == f"{served.base_url}/console/login"
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["x-frame-options"] == "DENY"
    assert page.locator("input[name=password]").is_visible()
    context.close()
