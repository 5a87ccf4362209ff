"""Honest appointment-booking tools for Retell AI voice agents, backed by Cal.com."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from retell_booking_tools.config import Language, Settings
from retell_booking_tools.errors import ConfigurationError, RetellBookingError
from retell_booking_tools.ops.history import appointment_history, call_history, find_history
from retell_booking_tools.ops.logs import configure_logging

if TYPE_CHECKING:
    from retell_booking_tools.businesses import Business, Businesses
    from retell_booking_tools.repository.protocol import Repository

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
calls_app = typer.Typer(no_args_is_help=True, help="Inspect calls and their appointments.")
appointments_app = typer.Typer(no_args_is_help=True, help="Inspect appointments and their calls.")
db_app = typer.Typer(no_args_is_help=True, help="Manage the database schema.")
tools_app = typer.Typer(no_args_is_help=True, help="Export the tools to Retell, or sync them.")
businesses_app = typer.Typer(
    no_args_is_help=True, help="The businesses file (RETELL_BOOKING_BUSINESSES)."
)
app.add_typer(calls_app, name="calls")
app.add_typer(appointments_app, name="appointments")
app.add_typer(db_app, name="db")
app.add_typer(tools_app, name="tools")
app.add_typer(businesses_app, name="businesses")

T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
BusinessOption = Annotated[
    str | None,
    typer.Option(
        "--business",
        help="Only this business (an id of RETELL_BOOKING_BUSINESSES); default: every one.",
        metavar="ID",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None


def _businesses(settings: Settings) -> Businesses:
    from retell_booking_tools.businesses import Businesses

    try:
        return Businesses.from_settings(settings)
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None


def _chosen(settings: Settings, business_id: str | None) -> list[Business]:
    """Every business, or the one ``--business`` names (an unknown id fails, naming the ids)."""
    registry = _businesses(settings)
    if business_id is None:
        return list(registry)
    business = registry.get(business_id)
    if business is None:
        raise _fail(f"no business {business_id!r}; businesses: {', '.join(registry.ids)}", 2)
    return [business]


def _views(repository: Repository, businesses: list[Business]) -> dict[str, Repository]:
    """Each business's view of the store, by id, in the order of the businesses."""
    from retell_booking_tools.repository.protocol import store_for_business

    return {business.id: store_for_business(repository, business.id) for business in businesses}


def _with_repository(action: Callable[[Repository], Awaitable[T]]) -> T:
    from retell_booking_tools.repository.factory import open_repository

    async def run() -> T:
        repository = await open_repository(_settings().database_url)
        try:
            return await action(repository)
        finally:
            await repository.close()

    try:
        return asyncio.run(run())
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL for > 1).")] = 1,
) -> None:
    """Serve the Retell function endpoints (ASGI, uvicorn)."""
    import uvicorn

    from retell_booking_tools.ops.logs import uvicorn_log_config
    from retell_booking_tools.repository.factory import shared_by_processes
    from retell_booking_tools.server import create_app

    settings = _settings()
    try:
        create_app(settings)
        several = workers > 1 and not shared_by_processes(settings.database_url)
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None
    if several:
        raise _fail(
            "--workers above 1 needs PostgreSQL (RETELL_BOOKING_DATABASE_URL=postgresql://...): "
            "SQLite and memory:// keep their locks within one process",
            2,
        )
    # Every worker checks its pool against max_connections, counting its siblings.
    os.environ["WEB_CONCURRENCY"] = str(workers)
    uvicorn.run(
        "retell_booking_tools.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(settings.log_format),
    )


_CALL_LINES = (
    ("agent", "agent_id"),
    ("from", "from_number"),
    ("to", "to_number"),
    ("started", "started_at"),
    ("ended", "ended_at"),
    ("ended because", "disconnection_reason"),
)


@calls_app.command("show")
def calls_show(call_id: str, as_json: JsonFlag = False, business_id: BusinessOption = None) -> None:
    """A call and every appointment it touched, in whichever business holds it."""
    chosen = _chosen(_settings(), business_id)
    found = _shown(
        _with_repository(lambda repo: find_history(_views(repo, chosen), call_history, call_id)),
        as_json,
        missing=f"no call {call_id!r}{_in_business(business_id)}",
    )
    if found is None:
        return
    typer.echo(f"call {found['call_id']}")
    typer.echo(f"  business: {found['business_id']}")
    for label, key in _CALL_LINES:
        if found.get(key) is not None:
            typer.echo(f"  {label}: {found[key]}")
    if not found["links"]:
        typer.echo("  (no appointments linked)")
    for link in found["links"]:
        typer.echo(
            f"  appointment {link['appointment_id']} ({link['booking_uid']}"
            f"{_reference(link.get('booking_reference'))}): "
            f"{link['relationship']} at {link['linked_at']} {_compact(link['metadata'])}"
        )


def _shown(found: dict[str, Any] | None, as_json: bool, *, missing: str) -> dict[str, Any] | None:
    """A history to print as text; None once printed as JSON. Fails when nothing was found."""
    if found is None:
        raise _fail(missing)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return None
    return found


def _in_business(business_id: str | None) -> str:
    return "" if business_id is None else f" in business {business_id!r}"


def _reference(reference: str | None) -> str:
    """The reference part of a line that names an appointment (", reference K7F2QX")."""
    return f", reference {reference}" if reference else ""


@appointments_app.command("show")
def appointments_show(
    reference: str, as_json: JsonFlag = False, business_id: BusinessOption = None
) -> None:
    """An appointment (by id, Cal.com booking uid or booking reference) and every call linked
    to it, in whichever business holds it."""
    chosen = _chosen(_settings(), business_id)
    found = _shown(
        _with_repository(
            lambda repo: find_history(_views(repo, chosen), appointment_history, reference)
        ),
        as_json,
        missing=f"no appointment {reference!r}{_in_business(business_id)}",
    )
    if found is None:
        return
    appointment = found["appointment"]
    typer.echo(
        f"appointment {appointment['id']} ({appointment['booking_uid']}"
        f"{_reference(appointment.get('booking_reference'))}): "
        f"{appointment['status']}, {appointment['start']} to {appointment['end']} "
        f"[{appointment['timezone']}]"
    )
    typer.echo(f"  business: {found['business_id']}")
    for link in found["links"]:
        typer.echo(
            f"  call {link['call_id']}: {link['relationship']} at {link['linked_at']} "
            f"{_compact(link['metadata'])}"
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (RETELL_BOOKING_DATABASE_URL)."""
    from retell_booking_tools.repository.factory import upgrade_database

    try:
        revision = upgrade_database(_settings().database_url)
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(f"database at revision {revision}")


@app.command()
def demo(
    language: Annotated[str, typer.Option(help="Language of the agent: en or de.")] = "en",
) -> None:
    """Two simulated calls from one caller for one slot: booked, then existing."""
    from retell_booking_tools.demo import run_demo

    if language not in ("en", "de"):
        raise _fail("language must be en or de", 2)
    chosen: Language = "de" if language == "de" else "en"
    report = asyncio.run(run_demo(chosen))
    for turn in report.turns:
        typer.echo(f"[{turn.call_id}] status={turn.status}")
        typer.echo(f"  agent: {turn.message}")
    typer.echo(f"Cal.com bookings created: {report.calcom_bookings}")
    typer.echo("appointment history:")
    typer.echo(json.dumps(report.history, indent=2))
    statuses = [turn.status for turn in report.turns]
    if statuses != ["booked", "existing"]:
        raise _fail(f"expected booked then existing, got {statuses}")


@app.command()
def doctor(
    since: Annotated[
        str | None,
        typer.Option(help="First day to scan (YYYY-MM-DD, business time zone); default 30 days."),
    ] = None,
    as_json: JsonFlag = False,
    fix: Annotated[bool, typer.Option("--fix", help="Repair what can be repaired.")] = False,
    business_id: BusinessOption = None,
) -> None:
    """Find calls, appointments and Cal.com bookings that disagree, each business with its own
    Cal.com key; exit 1 if any remain."""
    from retell_booking_tools.domain import DEFAULT_BUSINESS_ID
    from retell_booking_tools.ops.doctor import DoctorReports, examine_businesses
    from retell_booking_tools.ops.stats import day_start

    settings = _settings()
    chosen = _chosen(settings, business_id)
    if settings.businesses is None:
        try:
            api_key, _ = settings.require_calcom()
        except RetellBookingError as exc:
            raise _fail(str(exc), 2) from None
        keys = {DEFAULT_BUSINESS_ID: api_key}
    else:
        keys = {b.id: key for b in chosen if (key := b.calcom_api_key()) is not None}
    first_day = _parse_day(since) if since else None

    def start(business: Business) -> datetime:
        today = datetime.now(business.zone).date()
        return day_start(first_day or today - timedelta(days=30), business.zone)

    async def run(repository: Repository) -> DoctorReports:
        with _progress_bar() as progress:
            return await examine_businesses(
                chosen,
                settings=settings,
                repository=repository,
                keys=keys,
                since=start,
                fix=fix,
                progress=progress,
            )

    reports = _with_repository(run)
    if as_json:
        typer.echo(json.dumps(reports.to_json(), indent=2))
    else:
        for entry in reports.businesses:
            typer.echo(f"business {entry.business_id}")
            _print_problems("fixed", entry.report.fixed)
            _print_problems("problems", entry.report.problems)
            if entry.report.healthy:
                typer.echo("no problems found")
    if not reports.healthy:
        raise typer.Exit(1)


@app.command()
def stats(
    days: Annotated[int, typer.Option(min=1, help="How many days, ending today.")] = 7,
    as_json: JsonFlag = False,
    business_id: BusinessOption = None,
) -> None:
    """Calls, bookings, duplicates, conflicts, errors and orphaned calls per business day, for
    each business in its own time zone."""
    from retell_booking_tools.ops.stats import DayStats, daily_stats

    settings = _settings()
    chosen = _chosen(settings, business_id)

    async def run(repository: Repository) -> list[tuple[Business, list[DayStats]]]:
        views = _views(repository, chosen)
        return [
            (
                business,
                await daily_stats(
                    views[business.id],
                    days=days,
                    zone=business.zone,
                    now=datetime.now(business.zone),
                    business_id=business.id,
                ),
            )
            for business in chosen
        ]

    found = _with_repository(run)
    if as_json:
        entries = [
            {
                "business_id": business.id,
                "timezone": business.timezone,
                "days": [day.to_json() for day in per_day],
            }
            for business, per_day in found
        ]
        typer.echo(
            json.dumps(entries[0] if len(entries) == 1 else {"businesses": entries}, indent=2)
        )
        return
    from rich.console import Console
    from rich.table import Table

    columns = ("calls", "bookings", "duplicates", "conflicts", "errors", "orphaned_calls")
    for business, per_day in found:
        table = Table(
            "date", *columns, "duplicate_rate", title=f"{business.id} per day ({business.timezone})"
        )
        for day in per_day:
            row = day.to_json()
            table.add_row(row["date"], *(str(row[c]) for c in columns), f"{day.duplicate_rate:.1%}")
        Console(width=140).print(table)


def _print_problems(title: str, problems: Any) -> None:
    if not problems:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "booking_uid", "call_id", "detail", title=title)
    for problem in problems:
        table.add_row(
            problem.kind, problem.booking_uid or "", problem.call_id or "", problem.detail
        )
    Console(width=160).print(table)


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr for long scans, and only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, TaskID

    tasks: dict[str, TaskID] = {}
    with Progress(console=Console(stderr=True), transient=True) as bar:

        def advance(what: str, done: int, total: int) -> None:
            if total < _LONG_SCAN:
                return
            if what not in tasks:
                tasks[what] = bar.add_task(f"checking {what}", total=total)
            bar.update(tasks[what], completed=done)

        yield advance


_LONG_SCAN = 50
"""Scans shorter than this show no progress bar."""


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"not a date (YYYY-MM-DD): {text!r}", 2) from None


BaseUrl = Annotated[
    str, typer.Option("--base-url", help="Where Retell reaches this backend (https://...).")
]


@tools_app.command("export")
def tools_export(
    base_url: BaseUrl,
    export_format: Annotated[
        str, typer.Option("--format", help="general-tools (Retell LLM) or conversation-flow.")
    ] = "general-tools",
    tools: Annotated[
        str | None, typer.Option("--tools", help="Comma-separated tool names (default: all).")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Schemas for an LLM with tool_call_strict_mode on."),
    ] = False,
    business_id: Annotated[
        str | None,
        typer.Option(
            "--business",
            help="Name this business and list its services (RETELL_BOOKING_BUSINESSES).",
            metavar="ID",
        ),
    ] = None,
) -> None:
    """Print the Retell custom-tool definitions as a JSON array."""
    from retell_booking_tools.retell_admin.export import EXPORT_FORMATS, export_tools

    if export_format not in EXPORT_FORMATS:
        raise _fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}", 2)
    business = None
    if business_id is not None:
        registry = _businesses(_settings())
        business = registry.get(business_id)
        if business is None:
            raise _fail(f"no business {business_id!r}; businesses: {', '.join(registry.ids)}", 2)
    try:
        exported = export_tools(
            base_url,
            format="conversation-flow" if export_format == "conversation-flow" else "general-tools",
            tools=_names(tools),
            strict=strict,
            business=business,
        )
    except (RetellBookingError, ValueError) as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(json.dumps(exported, indent=2, ensure_ascii=False))


@tools_app.command("sync")
def tools_sync(
    base_url: BaseUrl,
    llm_id: Annotated[
        str | None, typer.Option("--llm-id", help="The Retell LLM to update.")
    ] = None,
    conversation_flow_id: Annotated[
        str | None,
        typer.Option("--conversation-flow-id", help="The conversation flow to update instead."),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="The LLM state missing tools go to (default: general_tools)."),
    ] = None,
    publish_agent: Annotated[
        str | None,
        typer.Option(
            "--publish-agent", help="Publish this agent after the sync.", metavar="AGENT_ID"
        ),
    ] = None,
    tools: Annotated[
        str | None, typer.Option("--tools", help="Comma-separated tool names (default: all).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the diff, write nothing.")
    ] = False,
) -> None:
    """Update this package's tools where they are in a Retell LLM or flow (RETELL_API_KEY).

    Only tools with this package's names are replaced or added; all others are kept. The
    latest version is read and written; a published version is refused.
    """
    from retell_booking_tools.retell_admin.sync import sync_conversation_flow_tools, sync_tools

    if (llm_id is None) == (conversation_flow_id is None):
        raise _fail("give exactly one of --llm-id and --conversation-flow-id", 2)
    if state is not None and conversation_flow_id is not None:
        raise _fail("--state is for a Retell LLM's states, not a conversation flow", 2)
    options: dict[str, Any] = {
        "dry_run": dry_run,
        "tools": _names(tools),
        "publish_agent": publish_agent,
    }
    try:
        if conversation_flow_id is not None:
            report = asyncio.run(
                sync_conversation_flow_tools(conversation_flow_id, base_url, **options)
            )
        else:
            report = asyncio.run(sync_tools(llm_id or "", base_url, state=state, **options))
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from None
    except (RetellBookingError, ValueError) as exc:
        raise _fail(str(exc)) from None
    for line in report.diff_lines():
        typer.echo(line)


@businesses_app.command("check")
def businesses_check(
    offline: Annotated[
        bool, typer.Option("--offline", help="Check the file and key variables, not Cal.com.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Validate the businesses file, report each key variable as present or missing (never
    its value) and ask each business's Cal.com for its event types; exit 1 on any problem."""
    from retell_booking_tools.businesses.check import check_businesses

    settings = _settings()
    registry = _businesses(settings)
    report = asyncio.run(
        check_businesses(
            registry, offline=offline, calcom_timeout_seconds=settings.calcom_timeout_seconds
        )
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        source = report.source or "the environment (no RETELL_BOOKING_BUSINESSES)"
        typer.echo(f"businesses from {source}")
        for checked in report.businesses:
            business = checked.business
            typer.echo(f"{business.id} ({business.name}): {'ok' if checked.ok else 'PROBLEMS'}")
            key = "present" if checked.key_present else "missing"
            typer.echo(f"  key {business.calcom_api_key_env}: {key}")
            typer.echo(f"  Cal.com {business.calcom_api_url}")
            if not business.services:
                typer.echo("  no service: no event type to book")
            for event_type in checked.event_types:
                typer.echo(
                    f"  service {event_type.service}: event type {event_type.event_type_id} "
                    f"{event_type.state}" + (f" ({event_type.detail})" if event_type.detail else "")
                )
    if not report.ok:
        raise typer.Exit(1)


def _names(listed: str | None) -> list[str] | None:
    if listed is None:
        return None
    return [name.strip() for name in listed.split(",") if name.strip()]


def _compact(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, sort_keys=True) if metadata else ""


@app.callback()
def _masked_logs() -> None:
    """Every command logs through the masking handler: warnings only, no secrets or PII."""
    configure_logging(level=logging.WARNING)


def main() -> None:
    app()
