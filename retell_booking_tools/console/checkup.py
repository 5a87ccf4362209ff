"""The doctor page's scan: ``doctor``'s dry run, in the background, its report kept a while.

A scan reads the whole recent history and asks Cal.com about it, which takes longer than
a page may; so the page shows the latest report (and starts a new scan when that one is
older than :data:`FRESH_FOR`), and says when a scan is under way. Nothing is repaired:
the console only reads (``doctor --fix`` repairs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from retell_booking_tools.clock import Clock

if TYPE_CHECKING:
    from retell_booking_tools.ops.doctor import Problem

__all__ = ["FRESH_FOR", "Checkup", "CheckupState"]

logger = logging.getLogger(__name__)

FRESH_FOR = timedelta(minutes=5)

Scan = Callable[[], Awaitable[tuple["Problem", ...]]]


@attrs.frozen
class CheckupState:
    """What the page shows: the latest problems (if a scan finished), when, and what runs."""

    problems: tuple[Problem, ...] | None = None
    finished_at: datetime | None = None
    running: bool = False
    failure: str | None = None


class Checkup:
    """Runs at most one scan at a time and keeps the latest report."""

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._state = CheckupState()
        self._task: asyncio.Task[None] | None = None

    def state(self, scan: Scan) -> CheckupState:
        """The latest report; starts a scan when none is fresh and none is running."""
        state = self._state
        stale = state.finished_at is None or self._clock() - state.finished_at >= FRESH_FOR
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(scan))
            state = attrs.evolve(state, running=True)
            self._state = state
        return state

    async def _run(self, scan: Scan) -> None:
        try:
            problems = await scan()
        except Exception as exc:  # reported on the page: the scan may be retried later
            logger.warning("console doctor scan failed: %s", type(exc).__name__)
            self._state = CheckupState(
                problems=self._state.problems,
                finished_at=self._clock(),
                failure=f"the scan failed ({type(exc).__name__}); it is tried again later",
            )
            return
        self._state = CheckupState(problems=problems, finished_at=self._clock())

    async def aclose(self) -> None:
        """Cancel a scan still running (the runtime is closing)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
