"""The ASGI edge: thin translation between HTTP and the tool runner.

Routes: ``POST /retell/functions/{tool_name}`` (Retell custom functions, signed),
``POST /retell/webhook`` (Retell call events, signed the same way), ``GET /healthz``,
``GET /readyz`` (503 while the store is unreachable or its schema is not at head) and
``GET /metrics`` (Prometheus; 404 when ``RETELL_BOOKING_METRICS=0``).
Status codes: 401 unsigned, forged or stale; 400 malformed (or nested deeper than any
Retell request), an args-only body (Retell's ``args_at_root``) or a body whose ``name`` is
missing or another tool's; 404 unknown tool; 408 a body that did not arrive within
``RETELL_BOOKING_BODY_TIMEOUT_SECONDS``; 413 larger than ``RETELL_BOOKING_MAX_BODY_BYTES``;
415 not declared JSON; 200 with the tool result for every tool outcome, ``error``
included (a failing store too); 204 for a stored call event or an acknowledged chat event;
503 for a call event the store could not take (Retell delivers it again).
A client that disconnects before its body has arrived is answered nothing.

``POST /calcom/webhook`` (Cal.com booking events, signed with ``CALCOM_WEBHOOK_SECRET``):
503 while no secret is configured (so Cal.com keeps the delivery and retries) or when the
booking cannot be read back from Cal.com; 401 unsigned or forged; 400 malformed; 408 as
above; 413 over 256 KiB; 200 ``{"status": "applied" | "unchanged" | "ignored"}`` otherwise.

Building the app imports only Starlette, pydantic and the settings: the runtime's modules
(SQLAlchemy, httpx, the tools, metrics) are imported where they are first needed, when the
lifespan builds the runtime, so a process that starts often starts quickly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from retell_booking_tools.calcom.errors import CalcomError
from retell_booking_tools.calcom.webhooks import (
    SIGNATURE_HEADER as CALCOM_SIGNATURE_HEADER,
)
from retell_booking_tools.calcom.webhooks import (
    BookingEvent,
    InvalidWebhook,
    parse_webhook,
    verify_webhook_signature,
)
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.errors import (
    InvalidArguments,
    NotStarted,
    RepositoryError,
)
from retell_booking_tools.ops.gc_pauses import PauseShortener
from retell_booking_tools.ops.logs import configure_logging, deployment_secrets
from retell_booking_tools.retell.events import CallEvent, call_record, is_chat_event
from retell_booking_tools.retell.models import FunctionCallRequest
from retell_booking_tools.retell.signature import SIGNATURE_HEADER
from retell_booking_tools.retell.signature_watch import SignatureWatch

if TYPE_CHECKING:
    import httpx

    from retell_booking_tools.businesses.served import ServedBusiness
    from retell_booking_tools.repository.protocol import Repository
    from retell_booking_tools.runtime import Runtime

logger = logging.getLogger(__name__)

CALCOM_MAX_BODY_BYTES = 256 * 1024
"""Cal.com's booking webhooks carry one booking: a few KiB."""
MAX_JSON_DEPTH = 32
"""Retell's call object (transcript with word timings) nests about six levels deep."""


_TRANSCRIPT_FIELDS = frozenset(
    {
        "transcript",
        "transcript_object",
        "scrubbed_transcript",
        "scrubbed_transcript_object",
        "scrubbed_transcript_with_tool_calls",
    }
)
"""Parts of Retell's call object no tool or record reads: dropped as soon as a body is
decoded, so a long call costs its bytes while it is read and little after."""

_DECODE_INLINE_BYTES = 256 * 1024
"""Bodies up to this size decode on the event loop; larger ones (long calls) on a thread."""

ARGS_ONLY_ERROR = (
    'the body holds only the tool\'s arguments: the tool has "Payload: args only" '
    "(args_at_root) turned on in Retell; turn it off, so that Retell sends the call, the "
    "tool's name and its args"
)


def _problem(status_code: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status_code, headers=headers or None)


class _Unanswered(Response):
    """No response at all: the client is gone, and anything sent would be dropped."""

    def __init__(self) -> None:
        super().__init__(status_code=400)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


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
        gc_pauses: PauseShortener | None = None,
    ) -> None:
        self.settings = settings or (runtime.settings if runtime else Settings.from_env())
        self._signatures = SignatureWatch(self.settings.require_retell_api_key())
        if self.settings.businesses is None:
            self.settings.require_calcom()
        elif runtime is None:
            from retell_booking_tools.businesses.model import require_businesses

            require_businesses(self.settings)
        self._given = runtime
        self._runtime = runtime
        self._clock = clock
        self._repository = repository
        self._calcom_transport = calcom_transport
        self._gc_pauses = gc_pauses
        self._args_only_warned: set[str] = set()
        self._decoder: ThreadPoolExecutor | None = None
        self._unready: str | None = None
        self.routes: list[BaseRoute] = [
            Route("/retell/functions/{tool_name}", self._function_call, methods=["POST"]),
            Route("/retell/webhook", self._call_event, methods=["POST"]),
            Route("/calcom/webhook", self._calcom_webhook, methods=["POST"]),
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
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
            try:
                yield self._given
            finally:
                self._stop_decoder()
            return
        from retell_booking_tools.runtime import build_runtime

        runtime = await build_runtime(
            self.settings,
            repository=self._repository,
            calcom_transport=self._calcom_transport,
            clock=self._clock,
        )
        if self._repository is None:
            from retell_booking_tools.repository.factory import check_pool_fits

            await check_pool_fits(runtime.repository, processes=_local_processes())
        self._runtime = runtime
        if self._gc_pauses is not None:
            self._gc_pauses.started()
        try:
            yield runtime
        finally:
            self._runtime = None
            await runtime.aclose()
            self._stop_decoder()

    def _stop_decoder(self) -> None:
        if self._decoder is not None:
            self._decoder.shutdown(wait=False)
            self._decoder = None

    @asynccontextmanager
    async def _app_lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with self.lifespan():
            yield

    async def _signed_body(self, request: Request) -> bytes | Response:
        """The raw body if Retell signed exactly these bytes just now, else the refusal."""
        if self._runtime is None:
            return _problem(503, "not started")
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        if not _declares_json(request.headers.get("content-type")):
            return _problem(415, "the body must be application/json")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not self._signatures.verify(body, signature, now=self._clock()):
            return _problem(401, "missing, invalid or expired signature")
        return body

    async def _function_call(self, request: Request) -> Response:
        tool_name = request.path_params["tool_name"]
        body = await self._signed_body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = await self._decode(body)
        except ValueError:
            return _problem(400, "body is not a Retell function call")
        del body
        if isinstance(payload, dict) and "call" not in payload:
            self._warn_args_only(tool_name)
            return _problem(400, ARGS_ONLY_ERROR)
        try:
            call_request = FunctionCallRequest.model_validate(payload)
        except ValidationError:
            return _problem(400, "body is not a Retell function call")
        del payload
        if call_request.name != tool_name:
            return _problem(400, _name_mismatch(call_request.name, tool_name))
        from retell_booking_tools.tools.runner import UnknownTool

        try:
            result = await self.runtime.runner.run(tool_name, call_request.call, call_request.args)
        except UnknownTool:
            return _problem(404, f"no tool named {tool_name!r}")
        if self._gc_pauses is not None:
            self._gc_pauses.served()
        return JSONResponse(result.to_json())

    async def _call_event(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = await self._decode(body)
            del body
            if is_chat_event(payload):
                logger.info("chat event acknowledged; nothing stored")
                return Response(status_code=204)
            event = CallEvent.model_validate(payload)
            del payload
            record = call_record(event.call)
        except (ValueError, ValidationError, InvalidArguments):
            return _problem(400, "body is not a Retell call event")
        served = self.runtime.businesses.for_call(event.call)
        if served is None:
            logger.info("call event of no business; nothing stored")
            return Response(status_code=204)
        try:
            await served.store.upsert_call(record)
        except RepositoryError as exc:
            logger.warning("call event not stored (Retell delivers it again): %s", exc)
            return _problem(503, "the store is unavailable; deliver the event again later")
        logger.info("call event stored", extra={"call_id": record.call_id, "event": event.event})
        return Response(status_code=204)

    async def _calcom_webhook(self, request: Request) -> Response:
        secret = self.settings.calcom_webhook_secret
        if secret is None or not secret.get_secret_value():
            return _problem(503, "CALCOM_WEBHOOK_SECRET is not set: webhooks are not accepted")
        if self._runtime is None:
            return _problem(503, "not started")
        body = await self._read_body(request, CALCOM_MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        signature = request.headers.get(CALCOM_SIGNATURE_HEADER)
        if not verify_webhook_signature(body, signature, secret.get_secret_value()):
            return _problem(401, "missing or invalid signature")
        try:
            event = parse_webhook(body)
        except InvalidWebhook as exc:
            return _problem(400, str(exc))
        if event is None:
            return JSONResponse({"status": "ignored"})

        try:
            served = await self._business_of(event)
            if served is None:
                logger.warning("Cal.com webhook of no business's event type or booking; ignored")
                return JSONResponse({"status": "ignored"})
            outcome = await served.core.sync.apply(event)
        except CalcomError as exc:
            logger.warning("Cal.com webhook not applied: %s", exc.kind)
            return _problem(503, "the booking could not be read back from Cal.com; retry later")
        except RepositoryError as exc:
            logger.warning("Cal.com webhook not applied (Cal.com delivers it again): %s", exc)
            return _problem(503, "the store is unavailable; deliver the event again later")
        return JSONResponse({"status": outcome.value})

    async def _business_of(self, event: BookingEvent) -> ServedBusiness | None:
        """The business whose Cal.com account sent ``event``: the one whose services book
        its event type, else the one whose store holds the booking (or the one it replaced)."""
        return await self.runtime.businesses.for_booking(
            event.event_type_id, (event.uid, event.previous_uid)
        )

    async def _decode(self, body: bytes) -> Any:
        """:func:`_decode_json`; a large body on a worker thread, so small calls keep flowing."""
        if len(body) < _DECODE_INLINE_BYTES:
            return _decode_json(body)
        if self._decoder is None:
            self._decoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retell-body")
        return await asyncio.get_running_loop().run_in_executor(self._decoder, _decode_json, body)

    def _warn_args_only(self, tool_name: str) -> None:
        """One WARNING per tool and process, however often Retell sends such bodies."""
        if tool_name in self._args_only_warned or len(self._args_only_warned) > 100:
            return
        self._args_only_warned.add(tool_name)
        logger.warning(
            'tool %r sends args-only bodies: turn off "Payload: args only" (args_at_root) '
            "for it in Retell; every call to it answers 400 until then",
            tool_name[:64],
        )

    async def _read_body(self, request: Request, limit: int | None = None) -> bytes | Response:
        """The raw body, or the answer when it is too large, too slow or abandoned.

        At most ``limit`` (default ``max_body_bytes``) are read; the whole body must arrive within
        ``body_timeout_seconds`` (408, and the connection is closed). A client that goes
        away mid-body is logged in one line and answered nothing.
        """
        limit = self.settings.max_body_bytes if limit is None else limit
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _problem(413, "request body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.settings.body_timeout_seconds):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return _problem(413, "request body too large")
                    chunks.append(chunk)
        except TimeoutError:
            logger.info(
                "request body incomplete after %g s (%d bytes); answered 408",
                self.settings.body_timeout_seconds,
                size,
            )
            return _problem(408, "the request body did not arrive in time", connection="close")
        except ClientDisconnect:
            logger.info("client disconnected before its request body arrived (%d bytes)", size)
            return _Unanswered()
        return b"".join(chunks)

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _readyz(self, request: Request) -> Response:
        """200 while the store answers at the current schema; 503 (for load balancers) not."""
        if self._runtime is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        from retell_booking_tools.repository.factory import readiness

        unready = await readiness(self._runtime.repository)
        detail = None if unready is None else unready[1]
        if detail != self._unready:
            if detail is None:
                logger.info("ready again: the store answers at the current schema")
            else:
                logger.warning("not ready: %s", detail)
            self._unready = detail
        if unready is not None:
            return JSONResponse({"status": "unavailable", "reason": unready[0]}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def _metrics(self, request: Request) -> Response:
        if self._runtime is None:
            return _problem(503, "not started")
        telemetry = self._runtime.telemetry
        if not self.settings.metrics_enabled or telemetry is None:
            return _problem(404, "metrics are turned off")
        from retell_booking_tools.ops.metrics import CONTENT_TYPE

        try:
            text = await telemetry.render()
        except RepositoryError as exc:
            logger.warning("metrics not served: %s", exc)
            return _problem(503, "the store is unavailable")
        return Response(text, media_type=CONTENT_TYPE)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    clock: Clock = system_clock,
) -> Starlette:
    """The ASGI app. Without ``runtime`` it builds one from ``settings`` (or the environment)
    at startup and refuses to start on missing settings or an outdated schema.

    Served from the environment (``serve``, ``uvicorn --factory``), the app owns the process:
    it owns the log output, and it keeps the garbage collector's pauses short
    (:mod:`~retell_booking_tools.ops.gc_pauses`)."""
    gc_pauses = None
    if settings is None and runtime is None:
        settings = Settings.from_env()
        configure_logging(settings.log_format, secrets=deployment_secrets(settings))
        gc_pauses = PauseShortener()
    return RetellEndpoints(settings, runtime=runtime, clock=clock, gc_pauses=gc_pauses).app


def _local_processes() -> int:
    """Server processes on this host: ``WEB_CONCURRENCY`` (``serve --workers`` sets it)."""
    value = os.environ.get("WEB_CONCURRENCY", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _declares_json(content_type: str | None) -> bool:
    """No content type (lenient) or a JSON media type, parameters such as charset aside."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _name_mismatch(name: str | None, tool_name: str) -> str:
    """Why a body whose ``name`` is not the URL's tool is refused, and how to repair it."""
    named = "names no tool" if name is None else f"is for the tool {name[:64]!r}"
    return (
        f"the body {named} but was posted to the URL of {tool_name[:64]!r}; Retell signs the "
        "body, not the URL, so it is not run: run `retell-booking-tools tools sync` to give "
        "every tool in Retell its own URL again"
    )


def _slim(payload: Any) -> Any:
    """``payload`` without the call object's transcripts (see ``_TRANSCRIPT_FIELDS``).

    ``transcript_with_tool_calls`` stays, without its per-word timings: its tool-call
    entries tell one invocation from another.
    """
    call = payload.get("call") if isinstance(payload, dict) else None
    if not isinstance(call, dict):
        return payload
    for field in _TRANSCRIPT_FIELDS.intersection(call):
        del call[field]
    entries = call.get("transcript_with_tool_calls")
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict):
                entry.pop("words", None)
    return payload


def _decode_json(body: bytes) -> Any:
    """The decoded body, transcripts dropped (:func:`_slim`); ValueError for anything but
    JSON whose kept part nests at most MAX_JSON_DEPTH deep.

    pydantic-core's parser is the fast path; what it refuses (lone surrogates in escapes,
    say) gets the standard library's verdict.
    """
    try:
        payload = pydantic_core.from_json(body)
    except ValueError:
        try:
            payload = json.loads(body)
        except RecursionError:
            raise ValueError("nested too deeply") from None
    payload = _slim(payload)
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
