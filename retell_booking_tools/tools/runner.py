"""Runs a tool for one delivery of a Retell function call, exactly once per invocation.

One invocation is one time the agent decided to call the tool; Retell may deliver it
several times (``max_retry``, and concurrent deliveries). The first delivery claims the
invocation in the store; later ones replay its final result, wait while it runs, or resume
it when it never finished (an ``error`` or a crash). A started booking is shielded from
cancellation so it always finishes and links.

Which invocation a delivery belongs to (``Repository.claim_invocation``):

- Deliveries with the same call id, tool and arguments (by digest) while one of them is
  unfinished are that one invocation, on any replica: they wait for it, take it over
  (resumed) after an ``error``, a crash or the lease, and share its answer. So retries and
  concurrent deliveries never act twice, and a repeat after ``pending`` learns its outcome.
- Once it has finished, a delivery with the same arguments either repeats it (its answer is
  replayed, Cal.com is not asked) or is a new invocation (run afresh on the current state):
  - when the call object's ``transcript_with_tool_calls`` lists the delivery (the latest
    ``tool_call_invocation`` of this tool with these arguments that has no
    ``tool_call_result``), it repeats the finished one exactly when that was claimed by
    this very ``tool_call_id`` or by an earlier invocation with these arguments that never
    got a result, with no tool call result in between (a retry that reuses the id, or one
    that got a new id);
  - otherwise (no transcript: a custom LLM websocket server, older calls, scrubbed
    arguments) nothing tells a retry from a new question, and changes made outside the
    call (other calls, Cal.com webhooks, staff) leave no trace in it. A finished read-only
    tool (``READ_ONLY_TOOLS``: ``check_availability``, ``find_appointments``) is never
    replayed: every such delivery is asked afresh, and only deliveries that arrive while
    it still runs share its answer. Any other tool repeats the finished one only while no
    other tool call of the same call has finished since that one was first claimed, and
    within the lease after it finished; such a replay may be older than a change made
    outside the call, and a delivery past that is run again, which the booking rules
    answer from the store and Cal.com (``booked`` again for the booking this call made,
    never a second booking).

Each delivery is served by the business its call belongs to (``businesses``): that
business's booking core, Cal.com key, time zone, language and view of the store (so its
tool-call records are its own). A call that belongs to no business is answered ``error``
("this line cannot take bookings") before anything is stored, with one WARNING naming the
agent id and the masked number.

Every delivery answers within ``budget_seconds``: past it, the caller hears ``pending``
while the started work finishes in the background; a later delivery replays its result.
Every result is kept under :data:`MAX_RESULT_CHARS` (:func:`within_result_limit`) before
it is stored or answered. A final one is stored with what later calls need of it
(:meth:`ToolResult.facts`: the starts it offered, the booking it touched) as typed data,
in the same transaction; the JSON answered is exactly the JSON stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import attrs
from pydantic import ValidationError

from retell_booking_tools.booking.core import BookingCore
from retell_booking_tools.businesses.model import Business
from retell_booking_tools.businesses.served import ServedBusiness, ServedBusinesses
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import DEFAULT_TOOL_BUDGET_SECONDS, Language
from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    READ_ONLY_TOOLS,
    Call,
    Invocation,
    ToolCallBusy,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
    ToolStatus,
    args_digest,
)
from retell_booking_tools.errors import (
    InvalidArguments,
    RepositoryError,
    UnknownTool,
)
from retell_booking_tools.ops.history import masked_number
from retell_booking_tools.ops.logs import set_tool_status, tool_call_context
from retell_booking_tools.repository.protocol import ToolCallLedger
from retell_booking_tools.retell.models import RetellCall
from retell_booking_tools.retell.overrides import EVENT_TYPE_VARIABLE, overrides_for
from retell_booking_tools.tools.base import (
    MAX_RESULT_CHARS,
    Tool,
    ToolContext,
    ToolResult,
    invalid_result,
    status_result,
)

logger = logging.getLogger(__name__)


class ToolObserver(Protocol):
    """Told about every function call this process answered (metrics, alerts)."""

    async def tool_finished(
        self,
        key: ToolCallKey,
        status: ToolStatus,
        elapsed_seconds: float,
        *,
        business_id: str = DEFAULT_BUSINESS_ID,
    ) -> None:
        """``business_id``: the business the call belongs to."""
        ...


__all__ = ["ToolObserver", "ToolRunner", "UnknownTool", "args_digest", "within_result_limit"]


class ToolRunner:
    """Validates arguments, deduplicates deliveries and runs tools; knows nothing of HTTP."""

    def __init__(
        self,
        *,
        tools: Iterable[Tool[Any]],
        businesses: ServedBusinesses,
        language: Language,
        timezone: str,
        phone_region: str = "US",
        clock: Clock = system_clock,
        lease: timedelta = timedelta(seconds=60),
        busy_wait_seconds: float = 20.0,
        observer: ToolObserver | None = None,
        budget_seconds: float = DEFAULT_TOOL_BUDGET_SECONDS,
    ) -> None:
        """``language`` and ``timezone`` are the deployment's, for a call of no business."""
        self._tools = {tool.name: tool for tool in tools}
        self._businesses = businesses
        self._language = language
        self._timezone = timezone
        self._phone_region = phone_region
        self._clock = clock
        self._lease = lease
        self._busy_wait_seconds = busy_wait_seconds
        self._budget_seconds = budget_seconds
        self._running: set[asyncio.Task[ToolResult]] = set()
        self._observer = observer

    @property
    def tools(self) -> Mapping[str, Tool[Any]]:
        return self._tools

    async def run(self, name: str, call: RetellCall, args: Mapping[str, Any]) -> ToolResult:
        """The result for this invocation; identical for every delivery of it."""
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(f"no tool named {name!r}")
        budget_ends = asyncio.get_running_loop().time() + self._budget_seconds
        digest = args_digest(args)
        key = ToolCallKey(call_id=call.call_id, tool=name, args_digest=digest)
        with tool_call_context(call.call_id, name):
            served = self._served(call)
            if served is None:
                set_tool_status(ToolStatus.ERROR.value)
                logger.warning(
                    "call of no business (agent %s, number %s): nothing booked",
                    call.agent_id,
                    masked_number(call.business_number),
                )
                return status_result(
                    ToolStatus.ERROR, self._no_business_context(call), variant="no_business"
                )
            try:
                invocation = call.invocation_of(name, digest)
                if name in READ_ONLY_TOOLS:
                    invocation = attrs.evolve(invocation, read_only=True)
                return await self._run_tool(tool, key, invocation, call, args, budget_ends, served)
            except RepositoryError as exc:
                # The store failed outside the tool (claiming, recording): nothing is
                # confirmed to the caller, and a retry resumes whatever was started.
                set_tool_status(ToolStatus.ERROR.value)
                logger.warning("the store failed; answering error: %s", exc)
                return self._status_result(ToolStatus.ERROR, call, served)

    def _served(self, call: RetellCall) -> _Served | None:
        """The business serving ``call``: its core, store view, and policy; None for none."""
        served = self._businesses.for_call(call)
        if served is None:
            return None
        return _Served(served, served.core, served.store)

    async def _run_tool(
        self,
        tool: Tool[Any],
        key: ToolCallKey,
        invocation: Invocation,
        call: RetellCall,
        args: Mapping[str, Any],
        budget_ends: float,
        served: _Served,
    ) -> ToolResult:
        ledger = served.ledger
        loop = asyncio.get_running_loop()
        record: Call | None = Call(
            call_id=call.call_id,
            agent_id=call.agent_id,
            from_number=call.from_number,
            to_number=call.to_number,
        )
        deadline = min(loop.time() + self._busy_wait_seconds, budget_ends)
        while True:
            key, claim = await ledger.claim_invocation(
                key, invocation, now=self._clock(), lease=self._lease, call=record
            )
            record = None  # stored with the first claim; polling again need not repeat it
            if isinstance(claim, ToolCallFinished):
                replayed = ToolResult.model_validate(claim.result)
                set_tool_status(replayed.status.value)
                logger.info(
                    "tool answered again with the stored result",
                    extra=_fields(key, replayed.status),
                )
                return replayed
            if isinstance(claim, ToolCallClaimed):
                break
            assert isinstance(claim, ToolCallBusy)
            if loop.time() >= deadline:
                # Another delivery is still at work on it: nothing is confirmed yet.
                set_tool_status(ToolStatus.PENDING.value)
                logger.warning("another delivery of this call is still running")
                return self._status_result(ToolStatus.PENDING, call, served)
            # Whatever the running invocation answers is this delivery's answer too.
            invocation = attrs.evolve(invocation, joined=key.seq)
            await asyncio.sleep(0.05)
        task = asyncio.create_task(self._run_claimed(tool, key, call, args, claim.resumed, served))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            return await asyncio.wait_for(
                asyncio.shield(task), timeout=max(budget_ends - loop.time(), 0)
            )
        except TimeoutError:
            if task.done():
                return task.result()
            set_tool_status(ToolStatus.PENDING.value)
            logger.warning(
                "tool is over its budget; it finishes in the background",
                extra=_fields(key, ToolStatus.PENDING),
            )
            return self._status_result(ToolStatus.PENDING, call, served)

    async def wait_idle(self) -> None:
        """Wait for started tool calls to finish (e.g. before shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run_claimed(
        self,
        tool: Tool[Any],
        key: ToolCallKey,
        call: RetellCall,
        args: Mapping[str, Any],
        resumed: bool,
        served: _Served,
    ) -> ToolResult:
        context = self._context(call, resumed, served)
        ledger = served.ledger
        started = time.perf_counter()
        try:
            result = within_result_limit(await self._invoke(tool, args, context))
        except Exception:
            set_tool_status(ToolStatus.ERROR.value)
            logger.exception("tool failed", extra=_fields(key, ToolStatus.ERROR))
            await ledger.abandon_tool_call(key)
            await self._observe(key, ToolStatus.ERROR, started, served)
            return self._status_result(ToolStatus.ERROR, call, served)
        set_tool_status(result.status.value)
        if result.status.is_final:
            try:
                await ledger.finish_tool_call(
                    key, result.to_json(), now=self._clock(), facts=result.facts(key.tool)
                )
            except RepositoryError as exc:
                # The tool's change happened: say so. A retry resumes and looks it up.
                logger.warning("could not record the result; a retry looks it up: %s", exc)
        else:
            await ledger.abandon_tool_call(key)
        logger.info("tool answered", extra=_fields(key, result.status))
        await self._observe(key, result.status, started, served)
        return result

    async def _observe(
        self, key: ToolCallKey, status: ToolStatus, started: float, served: _Served
    ) -> None:
        if self._observer is None:
            return
        business = served.business
        try:
            await self._observer.tool_finished(
                key,
                status,
                time.perf_counter() - started,
                business_id=DEFAULT_BUSINESS_ID if business is None else business.id,
            )
        except Exception:
            # Measuring must never change what the caller hears.
            logger.exception("tool observer failed")

    async def _invoke(
        self, tool: Tool[Any], args: Mapping[str, Any], context: ToolContext
    ) -> ToolResult:
        try:
            parsed = tool.args_model.model_validate(dict(args))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "args"
            return invalid_result(InvalidArguments(field, first["msg"]), context)
        return await tool.invoke(parsed, context)

    def _context(self, call: RetellCall, resumed: bool, served: _Served) -> ToolContext:
        overrides = overrides_for(call)
        business = served.business
        event_type_id = overrides.event_type_id
        if (
            event_type_id is not None
            and business is not None
            and not business.implicit
            and business.service_for_event_type(event_type_id) is None
        ):
            # Never another business's event type: the call books its own business's.
            logger.warning(
                "ignoring %s: not an event type of business %s", EVENT_TYPE_VARIABLE, business.id
            )
            event_type_id = None
        language = overrides.language or (business.language if business else self._language)
        timezone = overrides.timezone or (business.timezone if business else self._timezone)
        return ToolContext(
            call=call,
            core=served.core,
            ledger=served.ledger,
            language=language,
            zone=ZoneInfo(timezone),
            event_type_id=event_type_id,
            phone_region=self._phone_region,
            now=self._clock(),
            resumed=resumed,
            business=business,
        )

    def _no_business_context(self, call: RetellCall) -> ToolContext:
        """The context a call of no business is answered in: its own language, else the
        configured one."""
        first = self._businesses.first
        return self._context(call, False, _Served(None, first.core, first.store))

    def _status_result(self, status: ToolStatus, call: RetellCall, served: _Served) -> ToolResult:
        return status_result(status, self._context(call, resumed=False, served=served))


@attrs.frozen
class _Served:
    """What serves one delivery: the business (None for a call of no business, answered
    in the deployment's words), its core and its view of the store."""

    served: ServedBusiness | None
    core: BookingCore
    ledger: ToolCallLedger

    @property
    def business(self) -> Business | None:
        return None if self.served is None else self.served.business


def _fields(key: ToolCallKey, status: ToolStatus) -> dict[str, str]:
    """The log fields of a tool call, for handlers that do not add them from the context."""
    return {"call_id": key.call_id, "tool": key.tool, "status": status.value}


_LISTS = ("slots", "appointments", "alternatives")
"""The result lists :func:`within_result_limit` may shorten; the message is never cut."""

_COUNTED = {"slots": "more_slots", "appointments": "more_appointments"}
"""Where the number of left-out items of a list is added up."""


def _chars(value: object) -> int:
    """An upper bound of the characters ``value`` takes in any JSON the server writes."""
    return len(json.dumps(value))


def within_result_limit(result: ToolResult, limit: int = MAX_RESULT_CHARS) -> ToolResult:
    """``result`` with its longest lists shortened from the end until its JSON has fewer
    than ``limit`` characters (Retell hands the model no more).

    Tools keep their own lists short; this is the last guard. Left-out slots are added to
    ``more_slots`` (so the call knows their days were not listed whole), left-out
    appointments to ``more_appointments``. The status and message are never changed.
    """
    while (excess := _chars(result.to_json()) - limit + 1) > 0:
        dumped = result.model_dump(mode="json", include=set(_LISTS), exclude_none=True)
        name = max(
            (n for n in _LISTS if dumped.get(n)), key=lambda n: _chars(dumped[n]), default=None
        )
        if name is None:
            return result
        items = getattr(result, name)
        per_item = max(_chars(dumped[name]) // len(items), 1)
        dropped = min(len(items), -(-excess // per_item))
        update: dict[str, object] = {name: items[: len(items) - dropped]}
        if name in _COUNTED:
            update[_COUNTED[name]] = (getattr(result, _COUNTED[name]) or 0) + dropped
        logger.warning("result over %d characters: %d of %s left out", limit, dropped, name)
        result = result.model_copy(update=update)
    return result
