"""Signing in to the console, staying signed in, signing out, and the headers of every page."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from agent_backend import World, open_world
from console_client import PASSWORD, sign_in

from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.protocol import Repository

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
PAGES = [
    "/console/calls",
    "/console/calls/call_1",
    "/console/appointments/1",
    "/console/stats",
    "/console/doctor",
]


@pytest.fixture(name="repository")
def fixture_repository() -> Repository:
    """Sign-in does not depend on the store: the in-memory one suffices."""
    return InMemoryRepository()


class TestWithoutPassword:
    """No console password: no console."""

    @pytest.mark.parametrize("path", ["/console", "/console/", "/console/login", *PAGES])
    async def test_every_console_path_is_not_found(self, path: str) -> None:
        """Without ``RETELL_BOOKING_CONSOLE_PASSWORD`` every /console path answers 404."""
        async with open_world(InMemoryRepository()) as world:
            response = await world.http.get(path)
            posted = await world.http.post("/console/login", data={"password": "x"})
        assert response.status_code == 404
        assert posted.status_code == 404


class TestSignIn:
    """The form, the cookie, wrong passwords and the throttle."""

    async def test_the_sign_in_form_is_shown(self, browser: httpx.AsyncClient) -> None:
        """GET /console/login shows a form posting a field named password."""
        response = await browser.get("/console/login")
        assert response.status_code == 200
        assert 'name="password"' in response.text
        assert 'method="post"' in response.text

    async def test_the_right_password_redirects_to_the_calls_with_a_safe_cookie(
        self, browser: httpx.AsyncClient
    ) -> None:
        """303 to /console/calls; the cookie is HttpOnly, SameSite=Lax and not Secure on http."""
        response = await sign_in(browser)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/calls"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
        assert "Secure" not in cookie
        assert "Max-Age=28800" in cookie
        assert PASSWORD not in cookie
        page = await browser.get("/console/calls")
        assert page.status_code == 200
        assert "<h1>Calls</h1>" in page.text

    async def test_over_https_the_cookie_is_secure(self, world: World) -> None:
        """A sign-in that came over HTTPS gets a Secure cookie."""
        transport = httpx.ASGITransport(app=world.http._transport.app)  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url="https://agent") as client:
            response = await sign_in(client)
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]

    async def test_a_wrong_password_answers_401_with_the_form(
        self, browser: httpx.AsyncClient
    ) -> None:
        """401, the form again, and no session."""
        response = await sign_in(browser, "wrong")
        assert response.status_code == 401
        assert 'name="password"' in response.text
        assert "set-cookie" not in response.headers
        assert (await browser.get("/console/calls")).status_code == 303

    async def test_more_than_five_failures_answer_429_for_the_rest_of_the_five_minutes(
        self, browser: httpx.AsyncClient, world: World
    ) -> None:
        """Five wrong passwords are 401; the sixth and even the right one are 429 until the
        window has passed, then the right one signs in."""
        codes = [(await sign_in(browser, f"wrong {n}")).status_code for n in range(6)]
        assert codes == [401] * 5 + [429]
        world.clock.advance(timedelta(minutes=4))
        blocked = await sign_in(browser)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        world.clock.advance(timedelta(minutes=1, seconds=1))
        assert (await sign_in(browser)).status_code == 303

    @pytest.mark.parametrize("path", PAGES)
    async def test_a_signed_out_visit_is_sent_to_the_login(
        self, browser: httpx.AsyncClient, path: str
    ) -> None:
        """Every page without a session answers 303 to /console/login."""
        response = await browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"

    async def test_a_forged_cookie_is_no_session(self, browser: httpx.AsyncClient) -> None:
        """A cookie not signed with the console's key is ignored."""
        browser.cookies.set("retell_console", "eyJzaWQiOiJ4In0.forged.signature", path="/console")
        assert (await browser.get("/console/calls")).status_code == 303

    async def test_a_session_idle_for_eight_hours_has_ended(
        self, browser: httpx.AsyncClient, world: World
    ) -> None:
        """Used within eight hours it lives on; left idle for eight hours it is refused."""
        await sign_in(browser)
        world.clock.advance(timedelta(hours=7, minutes=59))
        assert (await browser.get("/console/calls")).status_code == 200
        world.clock.advance(timedelta(hours=7, minutes=59))
        assert (await browser.get("/console/stats")).status_code == 200
        world.clock.advance(timedelta(hours=8, seconds=1))
        assert (await browser.get("/console/calls")).status_code == 303

    async def test_signing_out_ends_the_session_even_for_a_copied_cookie(
        self, browser: httpx.AsyncClient
    ) -> None:
        """POST /console/logout clears the cookie, and the old cookie value is refused."""
        await sign_in(browser)
        copied = browser.cookies.get("retell_console")
        response = await browser.post("/console/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"
        assert (await browser.get("/console/calls")).status_code == 303
        browser.cookies.set("retell_console", copied or "", path="/console")
        assert (await browser.get("/console/calls")).status_code == 303


class TestHeaders:
    """Every console response carries the security headers."""

    @pytest.mark.parametrize(
        "path", ["/console/login", "/console/static/console.css", "/console/nowhere", *PAGES]
    )
    async def test_every_console_response_sends_the_security_headers(
        self, browser: httpx.AsyncClient, path: str
    ) -> None:
        """CSP default-src 'self', no framing, same-origin referrer, no caching."""
        await sign_in(browser)
        response = await browser.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)

    async def test_pages_load_nothing_from_elsewhere_and_run_no_script(
        self, browser: httpx.AsyncClient
    ) -> None:
        """No script, no inline style, no external URL in any page."""
        await sign_in(browser)
        for path in PAGES:
            text = (await browser.get(path)).text
            assert "<script" not in text
            assert "style=" not in text
            assert "<style" not in text
            assert "http://" not in text, path
            assert "https://" not in text, path


async def test_mounted_under_a_prefix_the_console_links_stay_under_it(world: World) -> None:
    """``app.mount("/support", endpoints.app)``: redirects, links and the cookie use /support."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from retell_booking_tools.server import RetellEndpoints

    endpoints = RetellEndpoints(runtime=world.runtime, clock=world.clock)
    outer = Starlette(routes=[Mount("/support", app=endpoints.app)])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        signed_out = await client.get("/support/console/calls")
        assert signed_out.headers["location"] == "/support/console/login"
        response = await client.post("/support/console/login", data={"password": PASSWORD})
        assert response.headers["location"] == "/support/console/calls"
        assert "Path=/support/console" in response.headers["set-cookie"]
        page = await client.get("/support/console/calls")
        assert page.status_code == 200
        assert 'href="/support/console/static/console.css"' in page.text
