"""What one store statement costs the app's process, by the path it takes to PostgreSQL.

    python benchmarks/statements.py [--ops 2000] [--rounds 5] [--json PATH] [--quick]

Every path sends the same statement, the look-up of a call by id (what
``Repository.get_call`` sends), to a fresh migrated schema, one at a time, and the
process's CPU time (``time.process_time``) and wall time per statement are taken over
``--ops`` statements. The paths run in turn, ``--rounds`` times, and each figure is the
median of its rounds, so a busy moment of the machine falls on every path alike:

- ``store, SQLite`` and ``store, PostgreSQL``: the repository's own path
  (``get_call``: a pooled connection in autocommit, SQLAlchemy's execution on the async
  engine, the retry-once wrapper and the error translation);
- ``async engine``: SQLAlchemy's async engine alone, autocommit set on the engine;
- ``sync engine on a thread``: SQLAlchemy's synchronous engine, each statement handed to
  a worker thread and back, as the event loop would have to;
- ``psycopg async``: the driver alone on one connection, prepared;
- ``psycopg sync``: the driver alone, blocking (no event loop at all): the floor of a
  Python process asking PostgreSQL.

It tells what a booking's statements can cost at best on each path (``benchmarks/README.md``,
"What is left"); it sets no target.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import sqlalchemy as sa
from harness import database, machine, rounded, write_json
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from retell_booking_tools.repository import Repository, open_repository
from retell_booking_tools.repository.postgres import postgres_url
from retell_booking_tools.repository.schema import calls

CALL_ID = "call_nobody_made"
STATEMENT = sa.select(calls).where(calls.c.call_id == CALL_ID)
"""The statement of ``Repository.get_call``: one row looked up by its key."""

Op = Callable[[], Awaitable[Any]]


async def _per_op(op: Op, ops: int) -> tuple[float, float]:
    """CPU and wall seconds per call of ``op``, over ``ops`` calls after a short warm-up
    (psycopg prepares a statement on its fifth execution)."""
    for _ in range(20):
        await op()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(ops):
        await op()
    return (time.process_time() - cpu) / ops, (time.perf_counter() - wall) / ops


def _raw_statement() -> tuple[str, dict[str, Any]]:
    """The statement as psycopg receives it from SQLAlchemy."""
    compiled = STATEMENT.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
    return compiled.string, dict(compiled.params)


async def _paths(
    sqlite_url: str, pg_url: str
) -> tuple[dict[str, Op], Callable[[], Awaitable[None]]]:
    """Every path's one statement, and how to close them all."""
    sqlite_store: Repository = await open_repository(sqlite_url)
    pg_store: Repository = await open_repository(pg_url)
    engine_url, connect_args = postgres_url(pg_url)
    async_engine = create_async_engine(
        engine_url, isolation_level="AUTOCOMMIT", connect_args=connect_args
    )
    sync_engine = sa.create_engine(
        engine_url, isolation_level="AUTOCOMMIT", connect_args=connect_args
    )
    threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statements")
    libpq = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    async_connection = await psycopg.AsyncConnection.connect(libpq, autocommit=True)
    sync_connection = psycopg.connect(libpq, autocommit=True)
    sql, params = _raw_statement()
    loop = asyncio.get_running_loop()

    async def through_async_engine() -> Any:
        async with async_engine.connect() as connection:
            return (await connection.execute(STATEMENT)).all()

    def on_thread() -> Any:
        with sync_engine.connect() as connection:
            return connection.execute(STATEMENT).all()

    async def through_thread() -> Any:
        return await loop.run_in_executor(threads, on_thread)

    async def psycopg_async() -> Any:
        return await (await async_connection.execute(sql, params, prepare=True)).fetchall()

    async def psycopg_sync() -> Any:
        return sync_connection.execute(sql, params, prepare=True).fetchall()

    async def close() -> None:
        await sqlite_store.close()
        await pg_store.close()
        await async_engine.dispose()
        sync_engine.dispose()
        threads.shutdown()
        await async_connection.close()
        sync_connection.close()

    paths: dict[str, Op] = {
        "store, SQLite": lambda: sqlite_store.get_call(CALL_ID),
        "store, PostgreSQL": lambda: pg_store.get_call(CALL_ID),
        "async engine": through_async_engine,
        "sync engine on a thread": through_thread,
        "psycopg async": psycopg_async,
        "psycopg sync": psycopg_sync,
    }
    return paths, close


async def measure(sqlite_url: str, pg_url: str, *, ops: int, rounds: int) -> dict[str, Any]:
    paths, close = await _paths(sqlite_url, pg_url)
    taken: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    try:
        for _ in range(rounds):
            for name, op in paths.items():
                taken[name].append(await _per_op(op, ops))
    finally:
        await close()
    results = {
        name: {
            "cpu_us": rounded(statistics.median(cpu for cpu, _ in runs) * 1e6),
            "wall_us": rounded(statistics.median(wall for _, wall in runs) * 1e6),
        }
        for name, runs in taken.items()
    }
    floor = results["psycopg async"]["cpu_us"]
    for figures in results.values():
        figures["cpu_x_psycopg_async"] = rounded(figures["cpu_us"] / floor)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ops", type=int, default=2000, help="statements per path and round")
    parser.add_argument("--rounds", type=int, default=5, help="turns over every path")
    parser.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--quick", action="store_true", help="100 statements, 1 round")
    options = parser.parse_args(argv)
    ops, rounds = (100, 1) if options.quick else (options.ops, options.rounds)
    with database("sqlite") as sqlite_url, database("postgres") as pg_url:
        results = asyncio.run(measure(sqlite_url, pg_url, ops=ops, rounds=rounds))
    print(f"{'path':<26}{'CPU per statement':>20}{'wall':>12}{'CPU x psycopg async':>22}")
    for name, figures in results.items():
        print(
            f"{name:<26}{figures['cpu_us']:>17.1f} us{figures['wall_us']:>9.1f} us"
            f"{figures['cpu_x_psycopg_async']:>22.2f}"
        )
    write_json(
        options.json,
        {"machine": machine(), "ops": ops, "rounds": rounds, "paths": results},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
