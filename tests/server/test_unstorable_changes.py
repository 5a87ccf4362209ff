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


class RefusingLinks(InMemoryRepository):
    """A store whose constraint refuses the links of the given relationships: every one, or
    with ``details``, those whose metadata carries one of those keys."""

    def __init__(self, *refused: Relationship, details: frozenset[str] | None = None) -> None:
        super().__init__()
        self._refused = refused
        self._details = details

    async def link(self, link: CallLink) -> tuple[CallLink, bool]:
        if link.relationship in self._refused and (
            self._details is None or self._details & link.metadata.keys()
        ):
            raise RepositoryError("link failed: CheckViolation: link refused")
        return await super().link(link)


async def test_booking_whose_link_is_refused_answers_booked_on_every_retry() -> None:
    """Cal.com booked it: the caller hears ``booked``, and a retry never ``existing``."""
    async with open_world(RefusingLinks(Relationship.ORIGINAL)) as world:
        first = await world.book("call_book")
        world.clock.advance(timedelta(seconds=2))
        again = await world.book("call_book")

        assert first["status"] == again["status"] == "booked"
        assert again["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
        assert world.booking_posts() == 1


async def test_booking_whose_link_is_refused_is_booked_when_the_call_asks_again_later() -> None:
    """Run afresh after the lease, the call still hears ``booked`` for its own booking."""
    async with open_world(RefusingLinks(Relationship.ORIGINAL)) as world:
        first = await world.book("call_book")
        world.clock.advance(timedelta(minutes=5))
        again = await world.book("call_book")
        other = await world.book("call_other")

        assert (first["status"], again["status"]) == ("booked", "booked")
        assert other["status"] == "existing"
        assert world.booking_posts() == 1


async def test_booking_link_refused_with_its_details_is_stored_without_them() -> None:
    """The call is still linked as the booking's original, and a later run says ``booked``."""
    async with open_world(
        RefusingLinks(Relationship.ORIGINAL, details=frozenset({"calcom_created_at"}))
    ) as world:
        first = await world.book("call_book")
        world.clock.advance(timedelta(minutes=5))
        again = await world.book("call_book")

        assert first["status"] == again["status"] == "booked"
        links = await world.links_of(first["appointment"]["booking_uid"])
        assert links == {"call_book": "original"}
        assert world.booking_posts() == 1


async def test_reschedule_whose_links_are_refused_answers_rescheduled_on_every_retry() -> None:
    """Cal.com moved it: the caller hears ``rescheduled`` on the first delivery and a retry."""
    async with open_world(RefusingLinks(Relationship.RESCHEDULE)) as world:
        booked = await world.book("call_book")
        args = {"booking_uid": booked["appointment"]["booking_uid"], "date": "2025-10-10"}
        args["time"] = "14:00"

        first = await world.tool("reschedule_appointment", args, call_id="call_move")
        world.clock.advance(timedelta(seconds=2))
        again = await world.tool("reschedule_appointment", args, call_id="call_move")

        assert first["status"] == again["status"] == "rescheduled"
        assert again["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
        reschedules = [r for r in world.calcom_writes() if r.endswith("/reschedule")]
        assert len(reschedules) == 1


UIDS = frozenset({"rescheduled_from_uid", "rescheduled_to_uid"})


async def test_reschedule_links_refused_with_their_details_are_stored_without_them() -> None:
    """Both appointments are still linked to the call that moved them."""
    async with open_world(RefusingLinks(Relationship.RESCHEDULE, details=UIDS)) as world:
        booked = await world.book("call_book")
        old_uid = booked["appointment"]["booking_uid"]
        args = {"booking_uid": old_uid, "date": "2025-10-10", "time": "14:00"}

        moved = await world.tool("reschedule_appointment", args, call_id="call_move")

        assert moved["status"] == "rescheduled"
        assert (await world.links_of(old_uid))["call_move"] == "reschedule"
        new_uid = moved["appointment"]["booking_uid"]
        assert await world.links_of(new_uid) == {"call_move": "reschedule"}
