"""The ``retell-booking-tools`` command: thin translation of argv into library calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from retell_booking_tools.config import Language, Settings
from retell_booking_tools.errors import RetellBookingError
from retell_booking_tools.history import appointment_history, call_history
from retell_booking_tools.repository.factory import (
    open_repository,
    shared_by_processes,
    upgrade_database,
)
from retell_booking_tools.repository.protocol import Repository

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
calls_app = typer.Typer(no_args_is_help=True, help="Inspect calls and their appointments.")
appointments_app = typer.Typer(no_args_is_help=True, help="Inspect appointments and their calls.")
db_app = typer.Typer(no_args_is_help=True, help="Manage the database schema.")
app.add_typer(calls_app, name="calls")
app.add_typer(appointments_app, name="appointments")
app.add_typer(db_app, name="db")

T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except RetellBookingError as exc:
        raise _fail(str(exc), 2) from None


def _with_repository(action: Callable[[Repository], Awaitable[T]]) -> T:
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
    uvicorn.run(
        "retell_booking_tools.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
    )


@calls_app.command("show")
def calls_show(call_id: str, as_json: JsonFlag = False) -> None:
    """A call and every appointment it touched."""
    found = _with_repository(lambda repo: call_history(repo, call_id))
    if found is None:
        raise _fail(f"no call {call_id!r}")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    typer.echo(f"call {found['call_id']}")
    if not found["links"]:
        typer.echo("  (no appointments linked)")
    for link in found["links"]:
        typer.echo(
            f"  appointment {link['appointment_id']} ({link['booking_uid']}): "
            f"{link['relationship']} at {link['linked_at']} {_compact(link['metadata'])}"
        )


@appointments_app.command("show")
def appointments_show(reference: str, as_json: JsonFlag = False) -> None:
    """An appointment (by id or Cal.com booking uid) and every call linked to it."""
    found = _with_repository(lambda repo: appointment_history(repo, reference))
    if found is None:
        raise _fail(f"no appointment {reference!r}")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    appointment = found["appointment"]
    typer.echo(
        f"appointment {appointment['id']} ({appointment['booking_uid']}): "
        f"{appointment['status']}, {appointment['start']} to {appointment['end']} "
        f"[{appointment['timezone']}]"
    )
    for link in found["links"]:
        typer.echo(
            f"  call {link['call_id']}: {link['relationship']} at {link['linked_at']} "
            f"{_compact(link['metadata'])}"
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (RETELL_BOOKING_DATABASE_URL)."""
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


def _compact(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, sort_keys=True) if metadata else ""


def main() -> None:
    app()
