"""The app with switches for profiling one stretch of calls: ``benchmarks/profile.py`` serves it.

    uvicorn --app-dir benchmarks --factory profiled:create_app

``POST /_profile/start`` zeroes the counters (and, with ``RBT_PROFILE_CPROFILE=DIR``, starts
cProfile); ``POST /_profile/stop?name=NAME`` stops and answers what the calls in between
cost the store: SQL statements by their first word (psycopg's own ``BEGIN`` and ``COMMIT``
included; by text, cut to 90 characters), transactions begun, pool checkouts
(each a ``pool_pre_ping`` where that is on), and the garbage collector's passes by
generation and the seconds they took (``gc``). cProfile's statistics go to ``DIR/NAME.prof``.
Everything else is the app of ``retell_booking_tools.server:create_app``, unchanged.
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from retell_booking_tools.server import create_app as create_retell_app

_statements: Counter[str] = Counter()
_counts: Counter[str] = Counter()
_texts: Counter[str] = Counter()
_gc_passes: Counter[str] = Counter()
_gc_seconds: dict[str, float] = {}
_gc_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    generation = f"gen{info['generation']}"
    _gc_passes[generation] += 1
    elapsed = time.perf_counter() - _gc_started[0]
    _gc_seconds[generation] = _gc_seconds.get(generation, 0.0) + elapsed


def _on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    _statements[statement.lstrip().split(None, 1)[0].upper()] += 1
    _texts[" ".join(statement.split())[:90]] += 1


def _on_begin(conn: Any) -> None:
    _counts["transactions"] += 1


def _on_checkout(*args: Any) -> None:
    _counts["pool_checkouts"] += 1


def _count_commands() -> None:
    """Count psycopg's own commands (``BEGIN``, ``COMMIT``, ``ROLLBACK``), which SQLAlchemy's
    statement events do not see: each is a round trip to PostgreSQL."""
    try:
        import psycopg
    except ImportError:
        return
    original = psycopg.AsyncConnection._exec_command

    def counted(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        text = command if isinstance(command, bytes) else str(command).encode()
        _statements[text.decode(errors="replace").split(None, 1)[0].upper()] += 1
        return (yield from original(self, command, *args, **kwargs))

    psycopg.AsyncConnection._exec_command = counted  # type: ignore[method-assign]


def create_app() -> Any:
    _count_commands()
    event.listen(sa.engine.Engine, "before_cursor_execute", _on_statement)
    event.listen(sa.engine.Engine, "begin", _on_begin)
    event.listen(sa.pool.Pool, "checkout", _on_checkout)
    gc.callbacks.append(_on_gc)
    app = create_retell_app()
    directory = os.environ.get("RBT_PROFILE_CPROFILE")
    state: dict[str, cProfile.Profile] = {}

    async def send_json(send: Any, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def profiled(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/_profile/start":
            _statements.clear()
            _counts.clear()
            _texts.clear()
            _gc_passes.clear()
            _gc_seconds.clear()
            if directory:
                state["profile"] = cProfile.Profile()
                state["profile"].enable()
            await send_json(send, {"started": True})
            return
        if path == "/_profile/stop":
            profile = state.pop("profile", None)
            if profile is not None:
                profile.disable()
                name = scope["query_string"].decode().removeprefix("name=") or "profile"
                profile.dump_stats(str(Path(str(directory)) / f"{name}.prof"))
            texts = dict(_texts.most_common())
            collected = {"passes": dict(_gc_passes), "seconds": dict(_gc_seconds)}
            body = {"statements": dict(_statements), "texts": texts, "gc": collected}
            await send_json(send, {**body, **_counts})
            return
        await app(scope, receive, send)

    return profiled
