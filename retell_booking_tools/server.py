"""The ASGI edge: thin translation between HTTP and the tool runner.

Routes: ``POST /retell/functions/{tool_name}`` (Retell custom functions, signed),
``POST /retell/webhook`` (Retell call events, signed the same way) and ``GET /healthz``.
Status codes: 401 unsigned, forged or stale; 400 malformed; 404 unknown tool; 413
oversized; 200 with the tool result for every tool outcome, ``error`` included; 204 for a
stored call event.
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

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.errors import InvalidArguments
from retell_booking_tools.retell.events import CallEvent, call_record
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

    async def signed_body(request: Request) -> bytes | Response:
        """The raw body if Retell signed exactly these bytes just now, else the refusal."""
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        if not verify_signature(
            body, request.headers.get(SIGNATURE_HEADER), retell_api_key, now=clock()
        ):
            return _problem(401, "missing, invalid or expired signature")
        return body

    async def function_call(request: Request) -> Response:
        tool_name = request.path_params["tool_name"]
        body = await signed_body(request)
        if isinstance(body, Response):
            return body
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

    async def call_event(request: Request) -> Response:
        body = await signed_body(request)
        if isinstance(body, Response):
            return body
        try:
            event = CallEvent.model_validate(json.loads(body))
            record = call_record(event.call)
        except (ValueError, ValidationError, InvalidArguments):
            return _problem(400, "body is not a Retell call event")
        await current().repository.upsert_call(record)
        logger.info("call event stored", extra={"call_id": record.call_id, "event": event.event})
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/retell/functions/{tool_name}", function_call, methods=["POST"]),
            Route("/retell/webhook", call_event, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
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
