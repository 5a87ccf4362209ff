"""Your own store behind the tools: any class with the ``Repository`` methods will do.

This one keeps the bundled in-memory store (use yours) and copies every call record and
call-to-appointment link into your CRM's activity feed, here a list standing in for
your table. Plug it in with ``build_runtime(settings, repository=CrmRepository(...))``
or ``RetellEndpoints(settings, repository=...)``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from retell_booking_tools import InMemoryRepository, Repository
from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    Call,
    CallLink,
    Customer,
    NewAppointment,
    ToolCallClaim,
    ToolCallKey,
)


class CrmRepository:
    """Delegates storage to ``inner``; mirrors calls and links into ``activity``."""

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

    # Everything else goes straight to the inner store.

    async def upsert_customer(self, *, name: str, phone: str | None, email: str | None) -> Customer:
        return await self.inner.upsert_customer(name=name, phone=phone, email=email)

    async def get_customer(self, customer_id: int) -> Customer | None:
        return await self.inner.get_customer(customer_id)

    async def add_appointment(self, new: NewAppointment) -> tuple[Appointment, bool]:
        return await self.inner.add_appointment(new)

    async def get_appointment(self, appointment_id: int) -> Appointment | None:
        return await self.inner.get_appointment(appointment_id)

    async def get_appointment_by_uid(self, booking_uid: str) -> Appointment | None:
        return await self.inner.get_appointment_by_uid(booking_uid)

    async def appointments_at(self, *, event_type_id: int, start: datetime) -> list[Appointment]:
        return await self.inner.appointments_at(event_type_id=event_type_id, start=start)

    async def appointments_for_customer(self, customer_id: int) -> list[Appointment]:
        return await self.inner.appointments_for_customer(customer_id)

    async def set_appointment_status(
        self, appointment_id: int, status: AppointmentStatus
    ) -> Appointment:
        return await self.inner.set_appointment_status(appointment_id, status)

    async def get_call(self, call_id: str) -> Call | None:
        return await self.inner.get_call(call_id)

    async def links_for_call(self, call_id: str) -> list[CallLink]:
        return await self.inner.links_for_call(call_id)

    async def links_for_appointment(self, appointment_id: int) -> list[CallLink]:
        return await self.inner.links_for_appointment(appointment_id)

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: datetime, lease: timedelta
    ) -> ToolCallClaim:
        return await self.inner.claim_tool_call(key, now=now, lease=lease)

    async def finish_tool_call(
        self, key: ToolCallKey, result: dict[str, Any], *, now: datetime
    ) -> None:
        await self.inner.finish_tool_call(key, result, now=now)

    async def abandon_tool_call(self, key: ToolCallKey) -> None:
        await self.inner.abandon_tool_call(key)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        return self.inner.lock(name)

    async def close(self) -> None:
        await self.inner.close()
