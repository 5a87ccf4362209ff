"""The ASGI edge: thin translation between HTTP and the tool runner.

Routes: ``POST /retell/functions/{tool_name}`` (Retell custom functions, signed),
``GET /healthz`` and ``GET /metrics`` (Prometheus; 404 when ``RETELL_BOOKING_METRICS=0``).
Status codes: 401 unsigned, forged or stale; 400 malformed; 404 unknown
tool; 413 oversized; 200 with the tool result for every tool outcome, ``error`` included.

``POST /calcom/webhook`` (Cal.com booking events, signed with ``CALCOM_WEBHOOK_SECRET``):
503 while no secret is configured (so Cal.com keeps the delivery and retries) or when the
booking cannot be read back from Cal.com; 401 unsigned or forged; 400 malformed; 413
oversized; 200 ``{"status": "applied" | "unchanged" | "ignored"}`` otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.calcom.webhooks import (
    SIGNATURE_HEADER as CALCOM_SIGNATURE_HEADER,
)
from retell_booking_tools.calcom.webhooks import (
    InvalidWebhook,
    parse_webhook,
    verify_webhook_signature,
)
from retell_booking_tools.calcom_sync import CalcomSync
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.logs import configure_logging
from retell_booking_tools.metrics import CONTENT_TYPE
from retell_booking_tools.retell.models import FunctionCallRequest
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, verify_signature
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.tools.runner import UnknownTool

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def _problem(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status_code)


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
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    retell_api_key = settings.require_retell_api_key()
    settings.require_calcom()
    holder: dict[str, Runtime] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = runtime is None
        holder["runtime"] = runtime or await build_runtime(settings, clock=clock)
        try:
            yield
        finally:
            if own:
                await holder["runtime"].aclose()

    def current() -> Runtime:
        return runtime or holder["runtime"]

    async def function_call(request: Request) -> Response:
        tool_name = request.path_params["tool_name"]
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        if not verify_signature(
            body, request.headers.get(SIGNATURE_HEADER), retell_api_key, now=clock()
        ):
            return _problem(401, "missing, invalid or expired signature")
        try:
            payload: Any = json.loads(body)
            call_request = FunctionCallRequest.model_validate(payload)
        except (ValueError, ValidationError):
            return _problem(400, "body is not a Retell function call")
        if call_request.name is not None and call_request.name != tool_name:
            return _problem(400, "tool name in the body does not match the URL")
        try:
            result = await current().runner.run(tool_name, call_request.call, call_request.args)
        except UnknownTool:
            return _problem(404, f"no tool named {tool_name!r}")
        return JSONResponse(result.to_json())

    webhook_secret = (
        settings.calcom_webhook_secret.get_secret_value()
        if settings.calcom_webhook_secret is not None
        else ""
    )

    async def calcom_webhook(request: Request) -> Response:
        if not webhook_secret:
            return _problem(503, "CALCOM_WEBHOOK_SECRET is not set: webhooks are not accepted")
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        signature = request.headers.get(CALCOM_SIGNATURE_HEADER)
        if not verify_webhook_signature(body, signature, webhook_secret):
            return _problem(401, "missing or invalid signature")
        try:
            event = parse_webhook(body)
        except InvalidWebhook as exc:
            return _problem(400, str(exc))
        if event is None:
            return JSONResponse({"status": "ignored"})
        try:
            outcome = await CalcomSync(current().service).apply(event)
        except CalcomError as exc:
            logger.warning("Cal.com webhook not applied: %s", exc.kind)
            return _problem(503, "the booking could not be read back from Cal.com; retry later")
        return JSONResponse({"status": outcome.value})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        telemetry = current().telemetry
        if not settings.metrics_enabled or telemetry is None:
            return _problem(404, "metrics are turned off")
        return Response(await telemetry.render(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/retell/functions/{tool_name}", function_call, methods=["POST"]),
            Route("/calcom/webhook", calcom_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


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
