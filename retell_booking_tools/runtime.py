"""Wiring: settings in, a ready Cal.com client, store, booking service and tool runner out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from retell_booking_tools.booking.core import BookingCore
from retell_booking_tools.booking.records import BookingPolicy
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.ops.metrics import RedisCounters, Telemetry
from retell_booking_tools.repository.factory import open_repository
from retell_booking_tools.repository.protocol import Repository
from retell_booking_tools.retell.models import RetellCall
from retell_booking_tools.tools import ALL_TOOLS, Tool, ToolResult, ToolRunner

if TYPE_CHECKING:
    from retell_booking_tools.booking.availability import SharedSlots
    from retell_booking_tools.calcom.budget import RateBudget


@attrs.frozen
class Runtime:
    """Everything that serves tool calls; close it when done."""

    settings: Settings
    calcom: CalcomClient
    repository: Repository
    core: BookingCore
    runner: ToolRunner
    telemetry: Telemetry | None = None
    """Metrics and the duplicate alert; ``/metrics`` serves it unless metrics are off."""

    async def call_tool(
        self, name: str, args: Mapping[str, Any], *, call: RetellCall | Mapping[str, Any]
    ) -> ToolResult:
        """Run a tool without HTTP, e.g. from a custom LLM websocket server.

        ``call`` is Retell's call object (at least ``call_id``; ``from_number``,
        ``direction`` and ``retell_llm_dynamic_variables`` as Retell sends them). Same
        guarantees as an HTTP function call: a repeat of one invocation returns its first
        final result (the runner's docstring says how a repeat is told from a new one).
        Raises UnknownTool for a name not served and pydantic's ValidationError for a call
        object without ``call_id``.
        """
        retell_call = call if isinstance(call, RetellCall) else RetellCall.model_validate(call)
        return await self.runner.run(name, retell_call, args)

    async def aclose(self) -> None:
        await self.runner.wait_idle()
        await self.calcom.aclose()
        if self.telemetry is not None:
            await self.telemetry.aclose()
        await self.repository.close()


async def build_runtime(
    settings: Settings,
    *,
    repository: Repository | None = None,
    calcom_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
    tools: tuple[Tool[Any], ...] = ALL_TOOLS,
) -> Runtime:
    """Build from settings. ``repository`` and ``calcom_transport`` let tests and the demo
    plug in an in-memory store or the Cal.com emulator."""
    api_key, event_type_id = settings.require_calcom()
    if repository is None:
        repository = await open_repository(
            settings.database_url,
            create_new_sqlite=True,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.tool_budget_seconds,
        )
    telemetry = Telemetry(
        repository,
        timezone=settings.timezone,
        duplicate_alert_threshold=settings.duplicate_alert_threshold,
        clock=clock,
        shared=RedisCounters(settings.redis_url.get_secret_value()) if settings.redis_url else None,
    )
    calcom = CalcomClient(
        api_key=api_key,
        base_url=settings.calcom_api_url,
        timeout=settings.calcom_timeout_seconds,
        transport=calcom_transport,
        on_request=telemetry.on_calcom_request,
        budget=rate_budget(settings, api_key, repository, clock),
    )
    core = BookingCore(
        calcom=calcom,
        store=repository,
        policy=BookingPolicy(
            event_type_id=event_type_id,
            timezone=settings.timezone,
            attendee_email_domain=settings.attendee_email_domain,
            slots_reuse_seconds=settings.slots_reuse_seconds,
        ),
        clock=clock,
        shared_slots=shared_slots(repository),
    )
    runner = ToolRunner(
        tools=tools,
        core=core,
        ledger=repository,
        language=settings.language,
        timezone=settings.timezone,
        phone_region=settings.phone_region,
        clock=clock,
        observer=telemetry,
        budget_seconds=settings.tool_budget_seconds,
        lease=timedelta(seconds=settings.tool_call_lease_seconds),
    )
    return Runtime(
        settings=settings,
        calcom=calcom,
        repository=repository,
        core=core,
        runner=runner,
        telemetry=telemetry,
    )


def rate_budget(
    settings: Settings, api_key: str, repository: Repository, clock: Clock
) -> RateBudget | None:
    """The API key's budget, shared where the replicas share something: Redis when
    configured, else a PostgreSQL store, else this process alone. None when turned off."""
    from retell_booking_tools.calcom.budget import (
        BudgetStore,
        InProcessBudgetStore,
        PostgresBudgetStore,
        RateBudget,
        RedisBudgetStore,
    )

    if settings.calcom_rate_limit == 0:
        return None
    store: BudgetStore
    engine = getattr(repository, "engine", None)
    if settings.redis_url is not None:
        store = RedisBudgetStore(settings.redis_url.get_secret_value())
    elif engine is not None and engine.dialect.name == "postgresql":
        store = PostgresBudgetStore(engine)
    else:
        store = InProcessBudgetStore()
    return RateBudget(
        api_key=api_key,
        store=store,
        limit=settings.calcom_rate_limit,
        max_wait=settings.calcom_budget_wait_seconds,
        clock=lambda: clock().timestamp(),
    )


def shared_slots(repository: Repository) -> SharedSlots | None:
    """Slot reads shared by every replica on a PostgreSQL store; None elsewhere."""
    engine = getattr(repository, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        return None
    from retell_booking_tools.repository.slot_cache import PostgresSlotCache

    return PostgresSlotCache(engine)
