"""In-process locks by name, for the stores' own serialisation (the SQL stores add a lock
every process shares on top)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class NamedLocks:
    """In-process locks by name, each kept only while a task holds or awaits it.

    Names are many (one per slot booked, one per appointment changed): a lock kept for
    every name ever used would grow a long-running process by one lock per booking.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._entries[name]
