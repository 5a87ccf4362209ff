"""What Cal.com did is what the caller hears, even when the store cannot take every detail."""

from __future__ import annotations

from datetime import timedelta

from agent_backend import open_world

from retell_booking_tools.domain import CallLink, Relationship
from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.repository.memory import InMemoryRepository


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


async def test_retry_of_a_cancel_whose_reason_was_refused_never_answers_error() -> None:
    """Retell's retry of the same delivery hears ``cancelled`` again, never ``error``.

    (A NUL character, which PostgreSQL refuses, never gets this far: the tool refuses it
    as ``invalid`` before Cal.com is asked; see tests/booking/test_caller_identity.py.)
    """
    async with open_world(RefusingReasons()) as world:
        booked = await world.book("call_book")
        args = {"booking_uid": booked["appointment"]["booking_uid"], "reason": "verreist"}

        first = await world.tool("cancel_appointment", args, call_id="call_cancel")
        world.clock.advance(timedelta(seconds=2))
        again = await world.tool("cancel_appointment", args, call_id="call_cancel")

        assert first["status"] == again["status"] == "cancelled"
