"""Your own store behind the tools: anything with the ``Repository`` methods will do.

This one wraps another store (the bundled in-memory one by default; yours in practice)
and copies every call record and call-to-appointment link into your CRM's activity feed,
a list here standing in for your own table. Plug it in with
``build_runtime(settings, repository=CrmRepository(...))`` or
``RetellEndpoints(settings, repository=...)``.
"""

from __future__ import annotations

from typing import Any

from retell_booking_tools import InMemoryRepository, Repository
from retell_booking_tools.domain import Call, CallLink


class CrmRepository:
    """Stores through ``inner``; mirrors calls and new links into ``activity``."""

    def __init__(self, inner: Repository | None = None) -> None:
        self.inner = inner or InMemoryRepository()
        self.activity: list[dict[str, Any]] = []

    async def upsert_call(self, call: Call) -> Call:
        stored = await self.inner.upsert_call(call)
        self.activity.append({"kind": "call", "call_id": stored.call_id, "ended": stored.ended_at})
        return stored

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        stored, new = await self.inner.link(link)
        if new:
            self.activity.append(
                {
                    "kind": "link",
                    "call_id": stored.call_id,
                    "appointment_id": stored.appointment_id,
                    "relationship": stored.relationship.value,
                }
            )
        return stored, new

    def __getattr__(self, name: str) -> Any:
        """Every other Repository method is the inner store's (type checkers accept this)."""
        return getattr(self.inner, name)
