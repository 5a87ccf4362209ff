"""The console's routes: thin handlers that check the session, read a page, render it.

Every response of the console carries the security headers (:class:`SecurityHeaders`);
every page but the sign-in form and the stylesheet needs a session, else 303 to the form.
No handler writes to the store.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.console import pages
from retell_booking_tools.console.auth import (
    IDLE_TIMEOUT,
    Credential,
    LoginThrottle,
    Session,
    SessionCodec,
    match_password,
)
from retell_booking_tools.console.chart import daily_chart
from retell_booking_tools.console.checkup import Checkup
from retell_booking_tools.ops.stats import DayStats, day_start

if TYPE_CHECKING:
    from retell_booking_tools.ops.doctor import Problem
    from retell_booking_tools.runtime import Runtime

__all__ = ["COOKIE_NAME", "SECURITY_HEADERS", "Console", "SecurityHeaders"]

COOKIE_NAME = "retell_console"
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
STATS_DAYS = 30
STATS_FRESH_FOR = timedelta(seconds=60)
"""The stats page counts thirty days in the store at most once a minute per process."""
MAX_SHOWN_PROBLEMS = 500
"""The doctor page lists this many problems and counts the rest (``doctor --json`` has all)."""
_MAX_FORM_BYTES = 4096

Handler = Callable[[Request, Session, "Runtime"], Awaitable[Response]]


class SecurityHeaders:
    """Wraps an ASGI app so every response it sends carries :data:`SECURITY_HEADERS`."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    @property
    def routes(self) -> list[BaseRoute]:
        """The wrapped app's routes (so a ``Mount`` can build URLs into it)."""
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _base(request: Request) -> str:
    """Where the console is mounted (``/console``, or under the app's own prefix)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@functools.cache
def _pages() -> Environment:
    """The console's templates, one environment per process: each template is compiled once
    and serves every console, whose time zone reaches ``when`` with the page's context."""
    pages = Environment(
        loader=PackageLoader("retell_booking_tools.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    pages.filters["path"] = lambda value: quote(str(value), safe="")
    pages.filters["when"] = pass_context(lambda context, value: _when(value, context["zone"]))
    return pages


class Console:
    """The support console as an ASGI app; mount it at ``/console``.

    ``runtime`` returns the serving runtime (None until the app's lifespan built it).
    ``credentials`` are the passwords that sign in, the first being the global one; its
    password also keys the session cookies.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        runtime: Callable[[], Runtime | None],
        credentials: Sequence[Credential],
        clock: Clock = system_clock,
    ) -> None:
        if not credentials:
            raise ValueError("the console needs at least one password")
        self._settings = settings
        self._runtime = runtime
        self._credentials = tuple(credentials)
        self._clock = clock
        self._sessions = SessionCodec(credentials[0].password, clock=clock)
        self._throttle = LoginThrottle(clock=clock)
        self._checkup = Checkup(clock=clock)
        self._counted: tuple[datetime, list[DayStats]] | None = None
        self._stylesheet_text = (
            resources.files("retell_booking_tools.console")
            .joinpath("static/console.css")
            .read_text(encoding="utf-8")
        )
        routes = [
            Route("/", self._page(self._home), methods=["GET"]),
            Route("/login", self._login_form, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self._logout, methods=["POST"]),
            Route("/calls", self._page(self._calls), methods=["GET"]),
            Route("/calls/{call_id}", self._page(self._call), methods=["GET"]),
            Route("/appointments/{reference}", self._page(self._appointment), methods=["GET"]),
            Route("/stats", self._page(self._stats), methods=["GET"]),
            Route("/doctor", self._page(self._doctor), methods=["GET"]),
            Route("/static/console.css", self._stylesheet, methods=["GET"]),
        ]
        self.app = SecurityHeaders(Starlette(routes=routes))

    # -- rendering and sessions ----------------------------------------------------------

    def _render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        session: Session | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = (
            _pages()
            .get_template(template)
            .render(
                base=_base(request),
                signed_in=session is not None,
                timezone=self._settings.timezone,
                zone=self._settings.zone,
                **context,
            )
        )
        response = HTMLResponse(html, status_code=status_code)
        if session is not None:
            self._set_cookie(request, response, self._sessions.dumps(session))
        return response

    def _set_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=int(IDLE_TIMEOUT.total_seconds()),
            path=_base(request) or "/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def _session(self, request: Request) -> Session | None:
        return self._sessions.loads(request.cookies.get(COOKIE_NAME))

    def _to_login(self, request: Request) -> Response:
        return RedirectResponse(f"{_base(request)}/login", status_code=303)

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A page that needs a session and the runtime's store."""

        async def endpoint(request: Request) -> Response:
            session = self._session(request)
            if session is None:
                return self._to_login(request)
            runtime = self._runtime()
            if runtime is None:
                return self._message(request, 503, "Starting", "The service is starting.")
            if not isinstance(runtime.repository, pages.ConsoleStore):
                return self._message(
                    request, 503, "Not available", "This store does not offer the console's reads."
                )
            return await handler(request, session, runtime)

        return endpoint

    def _message(
        self,
        request: Request,
        status_code: int,
        title: str,
        text: str,
        session: Session | None = None,
    ) -> HTMLResponse:
        return self._render(
            request,
            "message.html",
            status_code=status_code,
            session=session,
            title=title,
            text=text,
        )

    def _store(self, runtime: Runtime) -> pages.ConsoleStore:
        store = runtime.repository
        assert isinstance(store, pages.ConsoleStore)
        return store

    # -- sign-in -------------------------------------------------------------------------

    async def _login_form(self, request: Request) -> Response:
        if self._session(request) is not None:
            return RedirectResponse(f"{_base(request)}/calls", status_code=303)
        return self._render(request, "login.html")

    async def _login(self, request: Request) -> Response:
        address = _client(request)
        if self._throttle.blocked(address):
            return self._too_many(request, address)
        password = await _posted_password(request)
        access = match_password(password, self._credentials)
        if access is None:
            if self._throttle.fail(address):
                return self._too_many(request, address)
            return self._render(
                request, "login.html", status_code=401, error="That password is not right."
            )
        response = RedirectResponse(f"{_base(request)}/calls", status_code=303)
        self._set_cookie(request, response, self._sessions.dumps(self._sessions.new(access)))
        return response

    def _too_many(self, request: Request, address: str) -> Response:
        wait = self._throttle.retry_after(address)
        response = self._render(
            request,
            "login.html",
            status_code=429,
            error=f"Too many wrong passwords. Try again in {max(1, wait // 60 + 1)} minutes.",
        )
        response.headers["Retry-After"] = str(wait)
        return response

    async def _logout(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None:
            self._sessions.end(session)
        response = self._to_login(request)
        response.delete_cookie(
            COOKIE_NAME,
            path=_base(request) or "/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def _stylesheet(self, request: Request) -> Response:
        return Response(self._stylesheet_text, media_type="text/css")

    # -- pages ---------------------------------------------------------------------------

    async def _home(self, request: Request, session: Session, runtime: Runtime) -> Response:
        return RedirectResponse(f"{_base(request)}/calls", status_code=303)

    async def _calls(self, request: Request, session: Session, runtime: Runtime) -> Response:
        query = request.query_params.get("q")
        day = request.query_params.get("date")
        search = pages.CallSearch.parse(query, day, request.query_params.get("after"))
        rows, more = await pages.recent_call_rows(self._store(runtime), search, self._settings.zone)
        kept = {"q": query or "", "date": day or ""}
        next_page = None
        if more is not None:
            next_page = urlencode({**kept, "after": pages.cursor_text(more)})
        return self._render(
            request,
            "calls.html",
            session=session,
            rows=rows,
            query=query or "",
            day=day or "",
            search=search,
            next_page=next_page,
            first_page=urlencode(kept) if search.after is not None else None,
        )

    async def _call(self, request: Request, session: Session, runtime: Runtime) -> Response:
        call_id = request.path_params["call_id"]
        page = await pages.call_page(self._store(runtime), call_id, self._settings.zone)
        if page is None:
            return self._message(
                request, 404, "No such call", f"No call {call_id} is stored.", session
            )
        return self._render(request, "call.html", session=session, page=page)

    async def _appointment(self, request: Request, session: Session, runtime: Runtime) -> Response:
        reference = request.path_params["reference"]
        page = await pages.appointment_page(self._store(runtime), reference, self._settings.zone)
        if page is None:
            return self._message(
                request,
                404,
                "No such appointment",
                f"No appointment {reference} is stored.",
                session,
            )
        return self._render(request, "appointment.html", session=session, page=page)

    async def _stats(self, request: Request, session: Session, runtime: Runtime) -> Response:
        now = self._clock()
        zone = self._settings.zone
        counted = self._counted
        fresh = (
            counted is not None
            and now - counted[0] < STATS_FRESH_FOR
            and counted[0].astimezone(zone).date() == now.astimezone(zone).date()
        )
        if counted is None or not fresh:
            days = await pages.last_days(self._store(runtime), days=STATS_DAYS, zone=zone, now=now)
            counted = self._counted = (now, days)
        counted_at, days = counted
        bookings = sum(day.bookings for day in days)
        duplicates = sum(day.duplicates for day in days)
        rate = duplicates / (bookings + duplicates) if bookings + duplicates else 0.0
        return self._render(
            request,
            "stats.html",
            session=session,
            days=list(reversed(days)),
            chart=daily_chart(days),
            duplicate_rate=rate,
            total_bookings=bookings,
            total_duplicates=duplicates,
            counted_at=counted_at,
        )

    async def _doctor(self, request: Request, session: Session, runtime: Runtime) -> Response:
        state = self._checkup.state(lambda: self._scan(runtime))
        return self._render(
            request, "doctor.html", session=session, state=state, shown=MAX_SHOWN_PROBLEMS
        )

    async def _scan(self, runtime: Runtime) -> tuple[Problem, ...]:
        """Each business checked with its own Cal.com client and view of the store."""
        from retell_booking_tools.ops.doctor import Doctor

        problems: list[Problem] = []
        for served in runtime.served:
            business = served.business
            doctor = Doctor.of_business(
                business,
                self._settings,
                repository=runtime.repository,
                calcom=served.core.calcom,
                clock=self._clock,
            )
            today = self._clock().astimezone(business.zone).date()
            since = day_start(today - timedelta(days=STATS_DAYS), business.zone)
            problems.extend(await doctor.scan(since=since))
        return tuple(problems)


async def _posted_password(request: Request) -> str:
    """The form's ``password`` (URL-encoded, as a browser posts it); empty if absent or huge."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return ""
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    return (fields.get("password") or [""])[0]


def _when(value: Any, zone: ZoneInfo) -> str:
    """An instant as support reads it, in the business zone: ``2025-10-10 11:00:05 +02:00``."""
    if value is None:
        return ""
    text = value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z")
    return f"{text[:-2]}:{text[-2:]}" if text[-5:].lstrip("+-").isdigit() else text
