"""The ASGI edge: thin translation between HTTP and the tool runner.

Routes: ``POST /retell/functions/{tool_name}`` (Retell custom functions, signed) and
``GET /healthz``. Status codes: 401 unsigned, forged or stale; 400 malformed (or nested
deeper than any Retell request); 404 unknown tool; 413 oversized; 415 not declared JSON;
200 with the tool result for every tool outcome, ``error`` included.
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
from retell_booking_tools.retell.models import FunctionCallRequest
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, verify_signature
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.tools.runner import UnknownTool

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
"""Retell's call object (transcript with word timings) nests about six levels deep."""


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

    async def function_call(request: Request) -> Response:
        tool_name = request.path_params["tool_name"]
        body = await _read_limited(request)
        if body is None:
            return _problem(413, "request body too large")
        if not _declares_json(request.headers.get("content-type")):
            return _problem(415, "the body must be application/json")
        if not verify_signature(
            body, request.headers.get(SIGNATURE_HEADER), retell_api_key, now=clock()
        ):
            return _problem(401, "missing, invalid or expired signature")
        try:
            payload: Any = json.loads(body)
            if _depth(payload) > MAX_JSON_DEPTH:
                raise ValueError("nested too deeply")
            call_request = FunctionCallRequest.model_validate(payload)
        except (ValueError, RecursionError, ValidationError):
            return _problem(400, "body is not a Retell function call")
        if call_request.name is not None and call_request.name != tool_name:
            return _problem(400, "tool name in the body does not match the URL")
        try:
            result = await current().runner.run(tool_name, call_request.call, call_request.args)
        except UnknownTool:
            return _problem(404, f"no tool named {tool_name!r}")
        return JSONResponse(result.to_json())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/retell/functions/{tool_name}", function_call, methods=["POST"]),
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


def _declares_json(content_type: str | None) -> bool:
    """No content type (lenient) or a JSON media type, parameters such as charset aside."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


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
