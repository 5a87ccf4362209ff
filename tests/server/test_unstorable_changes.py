"""What Cal.com did is what the caller hears, even when the store cannot take every detail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from agent_backend import World, open_world

from retell_booking_tools.domain import AppointmentStatus, CallLink, Relationship
from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.protocol import Repository


@pytest.fixture(name="world")
async def fixture_world(repository: Repository) -> AsyncIterator[World]:
    """The backend on every store: PostgreSQL refuses what the others take."""
    async with open_world(repository) as world:
        yield world


class TestUnstorableCancelReason:
    """A reason PostgreSQL cannot store (a NUL character) never turns a cancel into ``error``."""

    async def test_cancel_with_unstorable_reason_answers_cancelled_and_is_linked(
        self, world: World
    ) -> None:
        """Cal.com cancelled it: the caller hears so, and the cancellation is linked."""
        booked = await world.book("call_book")
        uid = booked["appointment"]["booking_uid"]

        result = await world.tool(
            "cancel_appointment",
            {"booking_uid": uid, "reason": "kann nicht\x00 kommen"},
            call_id="call_cancel",
        )

        assert result["status"] == "cancelled"
        links = await world.links_of(uid)
        assert links["call_cancel"] == Relationship.CANCELLATION.value
        stored = await world.repository.get_appointment_by_uid(uid)
        assert stored is not None
        assert stored.status is AppointmentStatus.CANCELLED

    async def test_retry_of_that_cancel_never_answers_error(self, world: World) -> None:
        """Retell's retry of the same delivery hears ``cancelled`` again."""
        booked = await world.book("call_book")
        args = {"booking_uid": booked["appointment"]["booking_uid"], "reason": "\x00"}

        first = await world.tool("cancel_appointment", args, call_id="call_cancel")
        world.clock.advance(timedelta(seconds=61))
        again = await world.tool("cancel_appointment", args, call_id="call_cancel")

        assert first["status"] == again["status"] == "cancelled"


class RefusingReasons(InMemoryRepository):
    """A store whose constraint refuses any link that carries a reason."""

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        if "reason" in link.metadata:
            raise RepositoryError("link failed: CheckViolation: reason refused")
        return await super().link(link)


async def test_link_refused_with_its_details_is_stored_without_them() -> None:
    """The cancellation is still linked, without the detail the store refused."""
    async with open_world(RefusingReasons()) as world:
        booked = await world.book("call_book")
        uid = booked["appointment"]["booking_uid"]

        result = await world.tool(
            "cancel_appointment", {"booking_uid": uid, "reason": "verreist"}, call_id="call_c"
        )

        assert result["status"] == "cancelled"
        appointment = await world.repository.get_appointment_by_uid(uid)
        assert appointment is not None
        links = await world.repository.links_for_appointment(appointment.id)
        cancellation = next(link for link in links if link.call_id == "call_c")
        assert cancellation.relationship is Relationship.CANCELLATION
        assert "reason" not in cancellation.metadata
