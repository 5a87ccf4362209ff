"""Wiring: settings in, a ready Cal.com client, store, booking service and tool runner out.

Every business (of the businesses file, or the environment's one business ``default``)
gets its own Cal.com client (its key, its URL, its key's rate budget) and its own booking
core (its time zone, its services' event types, its view of the store); one tool runner
serves them all and sends each call to its business."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from retell_booking_tools.booking.core import BookingCore
from retell_booking_tools.booking.records import BookingPolicy
from retell_booking_tools.businesses.model import require_businesses
from retell_booking_tools.businesses.served import ServedBusiness, ServedBusinesses
from retell_booking_tools.calcom.client import CalcomClient
from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.config import Settings
from retell_booking_tools.domain import DEFAULT_BUSINESS_ID
from retell_booking_tools.ops.metrics import RedisCounters, Telemetry
from retell_booking_tools.repository.factory import open_repository
from retell_booking_tools.repository.protocol import Repository, store_for_business
from retell_booking_tools.retell.models import RetellCall
from retell_booking_tools.tools import ALL_TOOLS, Tool, ToolResult, ToolRunner

if TYPE_CHECKING:
    from retell_booking_tools.booking.availability import SharedSlots
    from retell_booking_tools.calcom.budget import BudgetStore, RateBudget


@attrs.frozen
class Runtime:
    """Everything that serves tool calls; close it when done."""

    settings: Settings
    repository: Repository
    businesses: ServedBusinesses
    """Every business served, each with its own core (one, ``default``, without a file)."""
    runner: ToolRunner
    telemetry: Telemetry | None = None
    """Metrics and the duplicate alert; ``/metrics`` serves it unless metrics are off."""

    @property
    def core(self) -> BookingCore:
        """The first business's booking core (the only one without a businesses file)."""
        return self.businesses.first.core

    @property
    def calcom(self) -> CalcomClient:
        """The first business's Cal.com client."""
        return self.core.calcom

    async def call_tool(
        self, name: str, args: Mapping[str, Any], *, call: RetellCall | Mapping[str, Any]
    ) -> ToolResult:
        """Run a tool without HTTP, e.g. from a custom LLM websocket server.

        ``call`` is Retell's call object (at least ``call_id``; ``agent_id``,
        ``from_number``, ``to_number``, ``direction`` and ``retell_llm_dynamic_variables`` as
        Retell sends them: with a businesses file the agent id and the business-side number
        decide whose call it is). Same
        guarantees as an HTTP function call: a repeat of one invocation returns its first
        final result (the runner's docstring says how a repeat is told from a new one).
        Raises UnknownTool for a name not served and pydantic's ValidationError for a call
        object without ``call_id``.
        """
        retell_call = call if isinstance(call, RetellCall) else RetellCall.model_validate(call)
        return await self.runner.run(name, retell_call, args)

    @property
    def served(self) -> tuple[ServedBusiness, ...]:
        """Every business served, in file order."""
        return self.businesses.served

    async def aclose(self) -> None:
        await self.runner.wait_idle()
        for served in self.served:
            await served.core.calcom.aclose()
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
    plug in an in-memory store or the Cal.com emulator (one transport serves every business).

    Raises ConfigurationError naming what is missing: without a businesses file
    ``CALCOM_API_KEY`` or ``CALCOM_EVENT_TYPE_ID``; with one, any business's key variable
    (a deployment never starts with a business it could not book for).
    """
    businesses, keys = require_businesses(settings)
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
        businesses={business.id: business.timezone for business in businesses},
    )
    budgets = budget_store(settings, repository) if settings.calcom_rate_limit else None
    served = []
    for business in businesses:
        calcom = CalcomClient(
            api_key=keys[business.id],
            base_url=business.calcom_api_url,
            timeout=settings.calcom_timeout_seconds,
            transport=calcom_transport,
            on_request=telemetry.calcom_hook(business.id),
            budget=rate_budget(settings, keys[business.id], repository, clock, store=budgets),
        )
        store = store_for_business(repository, business.id)
        core = BookingCore(
            calcom=calcom,
            store=store,
            policy=BookingPolicy(
                event_type_id=business.services[0].event_type_id,
                timezone=business.timezone,
                attendee_email_domain=settings.attendee_email_domain,
                slots_reuse_seconds=settings.slots_reuse_seconds,
            ),
            clock=clock,
            shared_slots=shared_slots(repository, business.id),
        )
        served.append(ServedBusiness(business, core, store))
    cores = ServedBusinesses(businesses, tuple(served))
    runner = ToolRunner(
        tools=tools,
        businesses=cores,
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
        repository=repository,
        businesses=cores,
        runner=runner,
        telemetry=telemetry,
    )


def rate_budget(
    settings: Settings,
    api_key: str,
    repository: Repository,
    clock: Clock,
    *,
    store: BudgetStore | None = None,
) -> RateBudget | None:
    """The API key's budget, shared where the replicas share something: Redis when
    configured, else a PostgreSQL store, else this process alone. None when turned off.

    Budgets are kept per key: businesses on one key share one budget, on two keys have two.
    """
    from retell_booking_tools.calcom.budget import RateBudget

    if settings.calcom_rate_limit == 0:
        return None
    if store is None:
        store = budget_store(settings, repository)
    return RateBudget(
        api_key=api_key,
        store=store,
        limit=settings.calcom_rate_limit,
        max_wait=settings.calcom_budget_wait_seconds,
        clock=lambda: clock().timestamp(),
    )


def budget_store(settings: Settings, repository: Repository) -> BudgetStore:
    """Where the keys' budgets are counted: Redis when configured, else a PostgreSQL store,
    else this process."""
    from retell_booking_tools.calcom.budget import (
        InProcessBudgetStore,
        PostgresBudgetStore,
        RedisBudgetStore,
    )

    engine = getattr(repository, "engine", None)
    if settings.redis_url is not None:
        return RedisBudgetStore(settings.redis_url.get_secret_value())
    if engine is not None and engine.dialect.name == "postgresql":
        return PostgresBudgetStore(engine)
    return InProcessBudgetStore()


def shared_slots(
    repository: Repository, business_id: str = DEFAULT_BUSINESS_ID
) -> SharedSlots | None:
    """Business ``business_id``'s slot reads, shared by every replica on a PostgreSQL store
    (never with another business's); None elsewhere."""
    engine = getattr(repository, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        return None
    from retell_booking_tools.repository.slot_cache import PostgresSlotCache

    return PostgresSlotCache(engine, business_id=business_id)
