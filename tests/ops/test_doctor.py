"""``doctor`` against a real backend world: the incident's gap, unknown, stale, foreign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent_backend import CALLER, EVENT_TYPE_ID, OTHER_CALLER, World
from ops_readings import SINCE, doctor_for

from retell_booking_tools.booking.attendees import attendee_email
from retell_booking_tools.domain import Call, CallLink, Relationship, ResultFacts, ToolCallKey
from retell_booking_tools.ops.doctor import DoctorReport


def kinds(report: DoctorReport) -> list[tuple[str, str | None, str | None]]:
    return [(p.kind, p.booking_uid, p.call_id) for p in report.problems]


async def seed_incident(world: World) -> str:
    """Call A booked and is linked; call B's recorded result names the booking, unlinked."""
    first = await world.book("call_682")
    uid: str = first["appointment"]["booking_uid"]
    world.clock.advance(timedelta(hours=20))
    customer_id = (await world.repository.get_call("call_682")).customer_id  # type: ignore[union-attr]
    await world.repository.upsert_call(Call(call_id="call_766", customer_id=customer_id))
    key = ToolCallKey("call_766", "collect_appointment_data", "digest-766")
    await world.repository.claim_tool_call(key, now=world.clock(), lease=timedelta(minutes=1))
    await world.repository.finish_tool_call(
        key,
        {"status": "booked", "message": "Booked.", "appointment": first["appointment"]},
        now=world.clock(),
        facts=ResultFacts(booking_uid=uid),
    )
    return uid


async def test_the_incidents_unlinked_call_is_found_fixed_as_duplicate_and_then_gone(
    world: World,
) -> None:
    """The second call is reported, linked as duplicate_attempt with backfill metadata, once."""
    uid = await seed_incident(world)
    doctor = doctor_for(world)

    dry = await doctor.run(since=SINCE)
    assert kinds(dry) == [("unlinked_call", uid, "call_766")]
    assert await world.links_of(uid) == {"call_682": "original"}

    world.clock.advance(timedelta(minutes=5))
    fixed = await doctor.run(since=SINCE, fix=True)
    assert [(p.kind, p.call_id) for p in fixed.fixed] == [("unlinked_call", "call_766")]
    assert fixed.healthy
    assert await world.links_of(uid) == {"call_682": "original", "call_766": "duplicate_attempt"}
    [link] = await world.repository.links_for_call("call_766")
    assert link.metadata["backfilled"] is True
    assert link.metadata["backfilled_at"] == world.clock().isoformat()
    assert link.metadata["original_call_id"] == "call_682"

    again = await doctor.run(since=SINCE, fix=True)
    assert again.to_json() == {"problems": [], "fixed": []}


async def test_an_unknown_calcom_booking_is_adopted_for_the_caller_and_its_call_linked(
    world: World,
) -> None:
    """A booking made on Cal.com but never stored is stored for the right customer."""
    await world.book("call_1")
    start = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=start,
        attendee_name="Max Mustermann",
        attendee_email=attendee_email(CALLER),
        attendee_phone_number=CALLER,
        metadata={"retell_call_id": "call_lost"},
    )
    doctor = doctor_for(world)

    dry = await doctor.run(since=SINCE)
    assert kinds(dry) == [
        ("unknown_booking", seeded.uid, "call_lost"),
        ("unlinked_call", seeded.uid, "call_lost"),
    ]
    assert "+49" not in str(dry.to_json())

    fixed = await doctor.run(since=SINCE, fix=True)

    assert fixed.healthy
    assert len(fixed.fixed) == 2
    adopted = await world.repository.get_appointment_by_uid(seeded.uid)
    assert adopted is not None
    assert adopted.start == start
    caller = await world.repository.find_customer(phone=CALLER, email=None)
    assert caller is not None
    assert adopted.customer_id == caller.id
    [link] = await world.repository.links_for_call("call_lost")
    assert link.relationship is Relationship.ORIGINAL
    assert link.metadata["backfilled"] is True


async def test_a_booking_under_the_legacy_phone_address_is_adopted_and_reported_only(
    world: World,
) -> None:
    """``tel-<digits>@phone.invalid`` is still the caller's; doctor lists it, changes nothing."""
    start = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=start,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
    )
    doctor = doctor_for(world)

    dry = await doctor.run(since=SINCE)
    assert kinds(dry) == [
        ("unknown_booking", seeded.uid, None),
        ("legacy_attendee_email", seeded.uid, None),
    ]
    assert "+49" not in str(dry.to_json())
    assert "4915112345678" not in str(dry.to_json())

    fixed = await doctor.run(since=SINCE, fix=True)

    assert kinds(fixed) == [("legacy_attendee_email", seeded.uid, None)]
    adopted = await world.repository.get_appointment_by_uid(seeded.uid)
    caller = await world.repository.find_customer(phone=CALLER, email=None)
    assert adopted is not None
    assert caller is not None
    assert adopted.customer_id == caller.id
    assert world.calcom.booking(seeded.uid).attendees[0].email.startswith("tel-")


async def test_an_appointment_cancelled_on_calcom_is_stale_until_fixed(world: World) -> None:
    """Cancelled in Cal.com's UI: reported, then marked cancelled in the store."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    world.calcom.cancel_booking(uid, reason="host is ill")
    doctor = doctor_for(world)

    assert kinds(await doctor.run(since=SINCE)) == [("stale_appointment", uid, None)]
    fixed = await doctor.run(since=SINCE, fix=True)

    assert fixed.healthy
    appointment = await world.repository.get_appointment_by_uid(uid)
    assert appointment is not None
    assert appointment.status.value == "cancelled"


async def test_a_booking_moved_on_calcom_retires_the_old_and_adopts_the_new(world: World) -> None:
    """A reschedule made outside the agent: old appointment rescheduled, new one stored."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    moved = await world.runtime.calcom.reschedule_booking(
        uid, datetime(2025, 10, 14, 8, 0, tzinfo=UTC)
    )
    doctor = doctor_for(world)

    assert kinds(await doctor.run(since=SINCE)) == [
        ("unknown_booking", moved.uid, "call_1"),
        ("stale_appointment", uid, None),
    ]
    fixed = await doctor.run(since=SINCE, fix=True)

    assert fixed.healthy
    old = await world.repository.get_appointment_by_uid(uid)
    new = await world.repository.get_appointment_by_uid(moved.uid)
    assert old is not None
    assert old.status.value == "rescheduled"
    assert new is not None
    assert new.rescheduled_from_uid == uid


async def test_a_link_to_another_customers_appointment_is_reported_and_never_fixed(
    world: World,
) -> None:
    """A foreign link needs a person: doctor names it, --fix leaves it, the run stays red."""
    uid = (await world.book("call_1"))["appointment"]["booking_uid"]
    await world.book("call_2", at="13:00", from_number=OTHER_CALLER)
    appointment = await world.repository.get_appointment_by_uid(uid)
    assert appointment is not None
    await world.repository.link(
        CallLink(
            call_id="call_2",
            appointment_id=appointment.id,
            relationship=Relationship.CONFIRMATION,
            linked_at=world.clock(),
        )
    )
    doctor = doctor_for(world)

    fixed = await doctor.run(since=SINCE, fix=True)

    assert kinds(fixed) == [("foreign_link", uid, "call_2")]
    assert fixed.fixed == ()
    assert not fixed.healthy
    assert await world.links_of(uid) == {"call_1": "original", "call_2": "confirmation"}
