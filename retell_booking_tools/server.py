"""The ASGI edge: thin translation between HTTP and the tool runner.

Routes: ``POST /retell/functions/{tool_name}`` (Retell custom functions, signed),
``POST /retell/webhook`` (Retell call events, signed the same way), ``GET /healthz`` and
``GET /metrics`` (Prometheus; 404 when ``RETELL_BOOKING_METRICS=0``).
Status codes: 401 unsigned, forged or stale; 400 malformed (or nested deeper than any
Retell request); 404 unknown tool; 413 oversized; 415 not declared JSON; 200 with the tool
result for every tool outcome, ``error`` included; 204 for a stored call event.

``POST /calcom/webhook`` (Cal.com booking events, signed with ``CALCOM_WEBHOOK_SECRET``):
503 while no secret is configured (so Cal.com keeps the delivery and retries) or when the
booking cannot be read back from Cal.com; 401 unsigned or forged; 400 malformed; 413
oversized; 200 ``{"status": "applied" | "unchanged" | "ignored"}`` otherwise.

Building the app imports only Starlette, pydantic and the settings: the runtime's modules
(SQLAlchemy, httpx, the tools, metrics) are imported where they are first needed, when the
lifespan builds the runtime, so a process that starts often starts quickly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.calcom.webhooks import (
    SIGNATURE_HEADER as CALCOM_SIGNATURE_HEADER,
)
from retell_booking_tools.calcom.webhooks import (
    InvalidWebhook,
    parse_webhook,
    verify_webhook_signature,
)
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.errors import InvalidArguments, RetellBookingError
from retell_booking_tools.logs import configure_logging
from retell_booking_tools.retell.events import CallEvent, call_record
from retell_booking_tools.retell.models import FunctionCallRequest
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, verify_signature

if TYPE_CHECKING:
    import httpx

    from retell_booking_tools.repository.protocol import Repository
    from retell_booking_tools.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
"""Retell's call object (transcript with word timings) nests about six levels deep."""


def _problem(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status_code)


class NotStarted(RetellBookingError):
    """The endpoints were asked to serve before their lifespan was entered."""


class RetellEndpoints:
    """The Retell routes as an ASGI app to serve alone or mount in your own app.

    Starlette and FastAPI do not run a mounted app's lifespan, so enter ``lifespan()`` in
    your app's own lifespan: it builds the runtime from ``settings`` (or uses the ``runtime``
    you pass, which stays yours to close) and closes what it built, ``repository``
    included. Until then the routes answer 503. Settings are checked at construction, so a
    misconfigured app fails early.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        repository: Repository | None = None,
        calcom_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings or (runtime.settings if runtime else Settings.from_env())
        self._retell_api_key = self.settings.require_retell_api_key()
        self.settings.require_calcom()
        self._given = runtime
        self._runtime = runtime
        self._clock = clock
        self._repository = repository
        self._calcom_transport = calcom_transport
        self.routes: list[BaseRoute] = [
            Route("/retell/functions/{tool_name}", self._function_call, methods=["POST"]),
            Route("/retell/webhook", self._call_event, methods=["POST"]),
            Route("/calcom/webhook", self._calcom_webhook, methods=["POST"]),
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
        ]
        if self.settings.console_password is not None:
            from retell_booking_tools.console import console_mount

            console = console_mount(self.settings, lambda: self._runtime, clock=clock)
            self.routes.extend([console] if console else [])
        self.app = Starlette(routes=self.routes, lifespan=self._app_lifespan)
        """Serve it, or ``app.mount("/prefix", endpoints.app)`` in yours."""

    @property
    def runtime(self) -> Runtime:
        """The runtime serving the routes (also for calling tools directly)."""
        if self._runtime is None:
            raise NotStarted(
                "the Retell endpoints are not started: enter RetellEndpoints.lifespan() "
                "in your app's lifespan"
            )
        return self._runtime

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[Runtime]:
        """Build (or take) the runtime for as long as the block runs; yields it."""
        if self._given is not None:
            yield self._given
            return
        from retell_booking_tools.runtime import build_runtime

        runtime = await build_runtime(
            self.settings,
            repository=self._repository,
            calcom_transport=self._calcom_transport,
            clock=self._clock,
        )
        self._runtime = runtime
        try:
            yield runtime
        finally:
            self._runtime = None
            await runtime.aclose()

    @asynccontextmanager
    async def _app_lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with self.lifespan():
            yield

    async def _signed_body(self, request: Request) -> bytes | Response:
        """The raw body if Retell signed exactly these bytes just now, else the refusal."""
        if self._runtime is None:
            return _problem(503, "not started")
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        if not _declares_json(request.headers.get("content-type")):
            return _problem(415, "the body must be application/json")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not verify_signature(body, signature, self._retell_api_key, now=self._clock()):
            return _problem(401, "missing, invalid or expired signature")
        return body

    async def _function_call(self, request: Request) -> Response:
        tool_name = request.path_params["tool_name"]
        body = await self._signed_body(request)
        if isinstance(body, Response):
            return body
        try:
            call_request = FunctionCallRequest.model_validate(_decode_json(body))
        except (ValueError, ValidationError):
            return _problem(400, "body is not a Retell function call")
        if call_request.name is not None and call_request.name != tool_name:
            return _problem(400, "tool name in the body does not match the URL")
        from retell_booking_tools.tools.runner import UnknownTool

        try:
            result = await self.runtime.runner.run(tool_name, call_request.call, call_request.args)
        except UnknownTool:
            return _problem(404, f"no tool named {tool_name!r}")
        return JSONResponse(result.to_json())

    async def _call_event(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, Response):
            return body
        try:
            event = CallEvent.model_validate(_decode_json(body))
            record = call_record(event.call)
        except (ValueError, ValidationError, InvalidArguments):
            return _problem(400, "body is not a Retell call event")
        await self.runtime.repository.upsert_call(record)
        logger.info("call event stored", extra={"call_id": record.call_id, "event": event.event})
        return Response(status_code=204)

    async def _calcom_webhook(self, request: Request) -> Response:
        secret = self.settings.calcom_webhook_secret
        if secret is None or not secret.get_secret_value():
            return _problem(503, "CALCOM_WEBHOOK_SECRET is not set: webhooks are not accepted")
        if self._runtime is None:
            return _problem(503, "not started")
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        signature = request.headers.get(CALCOM_SIGNATURE_HEADER)
        if not verify_webhook_signature(body, signature, secret.get_secret_value()):
            return _problem(401, "missing or invalid signature")
        try:
            event = parse_webhook(body)
        except InvalidWebhook as exc:
            return _problem(400, str(exc))
        if event is None:
            return JSONResponse({"status": "ignored"})
        from retell_booking_tools.calcom_sync import CalcomSync

        try:
            outcome = await CalcomSync(self.runtime.service).apply(event)
        except CalcomError as exc:
            logger.warning("Cal.com webhook not applied: %s", exc.kind)
            return _problem(503, "the booking could not be read back from Cal.com; retry later")
        return JSONResponse({"status": outcome.value})

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _metrics(self, request: Request) -> Response:
        if self._runtime is None:
            return _problem(503, "not started")
        telemetry = self._runtime.telemetry
        if not self.settings.metrics_enabled or telemetry is None:
            return _problem(404, "metrics are turned off")
        from retell_booking_tools.metrics import CONTENT_TYPE

        return Response(await telemetry.render(), media_type=CONTENT_TYPE)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    clock: Clock = system_clock,
) -> Starlette:
    """The ASGI app. Without ``runtime`` it builds one from ``settings`` (or the environment)
    at startup and refuses to start on missing settings or an outdated schema."""
    if settings is None and runtime is None:
        # Served from the environment (``serve``, uvicorn --factory): own the log output.
        settings = Settings.from_env()
        configure_logging(settings.log_format, secrets=settings.secrets())
    return RetellEndpoints(settings, runtime=runtime, clock=clock).app


async def _read_limited(request: Request) -> bytes | None:
    """The raw body, or None once it exceeds MAX_BODY_BYTES (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _declares_json(content_type: str | None) -> bool:
    """No content type (lenient) or a JSON media type, parameters such as charset aside."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _decode_json(body: bytes) -> Any:
    """The decoded body; ValueError for anything but JSON nested at most MAX_JSON_DEPTH deep."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _depth(payload) > MAX_JSON_DEPTH:
        raise ValueError("nested too deeply")
    return payload


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in decoded JSON (iteratively: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest
