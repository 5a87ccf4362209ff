"""The Repository contract, run against every implementation (see ``protocol.py``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from retell_booking_tools.domain import (
    Appointment,
    AppointmentStatus,
    Call,
    CallLink,
    Customer,
    Invocation,
    NewAppointment,
    OfferedStart,
    Relationship,
    ResultFacts,
    ToolCallBusy,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
)
from retell_booking_tools.repository import Repository

CALLER = "+4915112345678"
OTHER_CALLER = "+4917098765432"
EVENT_TYPE = 2563193
TEN = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
LEASE = timedelta(seconds=30)
KEY = ToolCallKey(call_id="call_1", tool="collect_appointment_data", args_digest="d1")
RETELL_SAID = Invocation(tool_call_id="tc_1", repeats=frozenset({"tc_1"}))
"""A delivery of Retell's invocation ``tc_1``, listed in the call object."""
UNLISTED = Invocation()
"""A delivery whose call object lists no tool calls."""


async def a_customer(repository: Repository, phone: str | None = CALLER) -> Customer:
    return await repository.upsert_customer(name="Max Mustermann", phone=phone, email=None)


def booking(
    customer: Customer,
    uid: str = "uid-1",
    *,
    start: datetime = TEN,
    event_type_id: int = EVENT_TYPE,
    status: AppointmentStatus = AppointmentStatus.ACTIVE,
) -> NewAppointment:
    return NewAppointment(
        customer_id=customer.id,
        booking_uid=uid,
        event_type_id=event_type_id,
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/Berlin",
        status=status,
    )


async def an_appointment(repository: Repository, uid: str = "uid-1") -> Appointment:
    appointment, _ = await repository.add_appointment(booking(await a_customer(repository), uid))
    return appointment


def a_link(
    appointment: Appointment,
    call_id: str = "call_1",
    relationship: Relationship = Relationship.ORIGINAL,
    *,
    at: datetime = TEN,
) -> CallLink:
    return CallLink(
        call_id=call_id, appointment_id=appointment.id, relationship=relationship, linked_at=at
    )


def test_every_implementation_satisfies_the_protocol(repository: Repository) -> None:
    """The runtime-checkable Protocol recognises the store."""
    assert isinstance(repository, Repository)


# Customers


async def test_a_caller_is_found_again_by_phone(repository: Repository) -> None:
    """The same phone is the same customer, whatever name or email comes with it."""
    first = await repository.upsert_customer(name="Max", phone=CALLER, email=None)

    again = await repository.upsert_customer(name="Maximilian", phone=CALLER, email=None)

    assert again.id == first.id
    assert again.name == "Max"
    assert await repository.get_customer(first.id) == again


async def test_a_caller_without_phone_is_found_by_email_case_insensitively(
    repository: Repository,
) -> None:
    """Email identifies phone-less customers, stored and matched in lower case."""
    first = await repository.upsert_customer(name="Eva", phone=None, email="Eva@Example.COM")

    again = await repository.upsert_customer(name="Eva", phone=None, email="eva@example.com")

    assert again.id == first.id
    assert first.email == "eva@example.com"


async def test_an_email_never_finds_a_customer_who_has_a_phone(repository: Repository) -> None:
    """Knowing a phone caller's email grants nothing: a phone-less caller is someone new."""
    phone_caller = await repository.upsert_customer(name="Max", phone=CALLER, email="m@x.de")

    emailer = await repository.upsert_customer(name="Max", phone=None, email="m@x.de")

    assert emailer.id != phone_caller.id
    assert emailer.phone is None


async def test_a_new_phone_is_a_new_customer_even_with_a_known_email(
    repository: Repository,
) -> None:
    """With a phone given, only the phone identifies the caller."""
    first = await repository.upsert_customer(name="Max", phone=CALLER, email="m@x.de")

    other = await repository.upsert_customer(name="Max", phone=OTHER_CALLER, email="m@x.de")

    assert other.id != first.id


async def test_a_missing_email_is_filled_in_but_a_stored_one_is_kept(
    repository: Repository,
) -> None:
    """Upserting completes what is missing and never overwrites what is known."""
    await repository.upsert_customer(name="Max", phone=CALLER, email=None)

    filled = await repository.upsert_customer(name="Max", phone=CALLER, email="Max@X.de")
    kept = await repository.upsert_customer(name="Max", phone=CALLER, email="other@x.de")

    assert filled.email == "max@x.de"
    assert kept.email == "max@x.de"
    assert await repository.get_customer(filled.id) == kept


async def test_a_missing_name_is_filled_in(repository: Repository) -> None:
    """A customer first known without a name gets the next name they give."""
    first = await repository.upsert_customer(name="", phone=CALLER, email=None)

    named = await repository.upsert_customer(name="Max", phone=CALLER, email=None)

    assert (named.id, named.name) == (first.id, "Max")


async def test_a_customer_found_for_a_call_is_recorded_as_that_calls_customer(
    repository: Repository,
) -> None:
    """Found or created, the customer becomes the call's, and the call keeps what it had."""
    await repository.upsert_call(Call(call_id="call_1", agent_id="agent_1"))

    created = await repository.upsert_customer(
        name="Ada", phone=CALLER, email=None, call_id="call_1"
    )
    found = await repository.upsert_customer(name="Ada", phone=CALLER, email=None, call_id="call_2")

    assert found == created
    assert await repository.get_call("call_1") == Call(
        call_id="call_1", customer_id=created.id, agent_id="agent_1"
    )
    assert await repository.get_call("call_2") == Call(call_id="call_2", customer_id=created.id)


async def test_a_caller_without_phone_or_email_is_always_someone_new(
    repository: Repository,
) -> None:
    """Without any identity there is nothing to match on."""
    first = await repository.upsert_customer(name="Anon", phone=None, email=None)
    second = await repository.upsert_customer(name="Anon", phone=None, email=None)

    assert first.id != second.id


async def test_a_given_identity_key_is_what_the_customer_is_found_by(
    repository: Repository,
) -> None:
    """``id:`` keys from the call's backend and ``call:`` keys of one call, like any other."""
    first = await repository.upsert_customer(name="Wendy", phone=None, email=None, key="id:u7")
    again = await repository.upsert_customer(name="", phone=None, email="w@x.de", key="id:u7")
    other = await repository.upsert_customer(name="", phone=None, email=None, key="call:c1")

    assert again.id == first.id
    assert other.id != first.id
    assert first.identity_key == "id:u7"
    assert await repository.find_customer(phone=None, email=None, key="id:u7") == again
    assert await repository.find_customer(phone=None, email=None, key="id:other") is None


async def test_phone_and_email_customers_carry_their_derived_keys(repository: Repository) -> None:
    by_phone = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    by_email = await repository.upsert_customer(name="Eva", phone=None, email="Eva@X.de")

    assert by_phone.identity_key == f"phone:{CALLER}"
    assert by_email.identity_key == "email:eva@x.de"
    assert [c.id for c in await repository.list_customers()] == [by_phone.id, by_email.id]


async def test_an_unknown_customer_is_none(repository: Repository) -> None:
    """Looking up an id that was never stored finds nothing."""
    assert await repository.get_customer(424242) is None


# Appointments


async def test_an_appointment_round_trips_with_equal_instants(repository: Repository) -> None:
    """What is stored comes back equal, whatever time zone the instants were given in."""
    customer = await a_customer(repository)
    new = booking(customer, start=datetime(2025, 10, 10, 12, 0, tzinfo=BERLIN))

    appointment, created = await repository.add_appointment(new)

    assert created
    assert appointment.start == TEN
    assert appointment.created_at.tzinfo is not None
    assert (appointment.customer_id, appointment.booking_uid) == (customer.id, "uid-1")
    assert await repository.get_appointment(appointment.id) == appointment
    assert await repository.get_appointment_by_uid("uid-1") == appointment


async def test_adding_a_booking_uid_twice_returns_the_first_and_not_created(
    repository: Repository,
) -> None:
    """Appointments are unique by Cal.com uid; the second add changes nothing."""
    customer = await a_customer(repository)
    first, created_first = await repository.add_appointment(booking(customer))

    second, created_second = await repository.add_appointment(
        booking(customer, start=TEN + timedelta(hours=1))
    )

    assert (created_first, created_second) == (True, False)
    assert second == first
    assert await repository.appointments_for_customer(customer.id) == [first]


async def test_every_appointment_gets_its_own_reference_and_is_found_by_it(
    repository: Repository,
) -> None:
    customer = await a_customer(repository)
    first, _ = await repository.add_appointment(booking(customer, "uid-1"))
    second, _ = await repository.add_appointment(booking(customer, "uid-2"))
    again, created = await repository.add_appointment(booking(customer, "uid-1"))

    assert first.booking_reference
    assert second.booking_reference
    assert first.booking_reference != second.booking_reference
    assert not created
    assert again.booking_reference == first.booking_reference
    assert await repository.get_appointment_by_reference(first.booking_reference) == first
    assert await repository.get_appointment_by_reference("ZZZZZZ") is None


async def test_a_given_reference_and_the_contact_data_are_stored(repository: Repository) -> None:
    customer = await a_customer(repository)
    new = attrs.evolve(
        booking(customer),
        booking_reference="K7F2QX",
        attendee_name="Max Mustermann",
        contact_email="max@example.com",
        contact_phone=OTHER_CALLER,
    )

    appointment, _ = await repository.add_appointment(new)

    stored = await repository.get_appointment_by_reference("K7F2QX")
    assert stored == appointment
    assert (stored.attendee_name, stored.contact_email, stored.contact_phone) == (
        "Max Mustermann",
        "max@example.com",
        OTHER_CALLER,
    )


async def test_reference_misses_are_counted_per_call_and_per_number_since_a_time(
    repository: Repository,
) -> None:
    earlier = TEN - timedelta(days=2)
    await repository.record_reference_miss(call_id="c1", number=CALLER, at=earlier)
    await repository.record_reference_miss(call_id="c2", number=CALLER, at=TEN)
    await repository.record_reference_miss(call_id="c2", number=None, at=TEN)

    since = TEN - timedelta(days=1)
    assert await repository.reference_misses(since=since, call_id="c2") == 2
    assert await repository.reference_misses(since=since, number=CALLER) == 1
    assert await repository.reference_misses(since=earlier, number=CALLER) == 2
    assert await repository.reference_misses(since=earlier) == 3


async def test_unknown_appointments_are_none(repository: Repository) -> None:
    """Ids and uids that were never stored find nothing."""
    assert await repository.get_appointment(424242) is None
    assert await repository.get_appointment_by_uid("no-such-uid") is None


async def test_appointments_at_matches_the_exact_instant_in_any_time_zone(
    repository: Repository,
) -> None:
    """The same instant written in Berlin time finds the appointment; a microsecond off does not."""
    customer = await a_customer(repository)
    held, _ = await repository.add_appointment(booking(customer, "held"))
    cancelled, _ = await repository.add_appointment(
        booking(customer, "cancelled", status=AppointmentStatus.CANCELLED)
    )
    await repository.add_appointment(booking(customer, "other-type", event_type_id=1))
    await repository.add_appointment(booking(customer, "later", start=TEN + timedelta(hours=1)))

    in_berlin = datetime(2025, 10, 10, 12, 0, tzinfo=BERLIN)
    found = await repository.appointments_at(event_type_id=EVENT_TYPE, start=in_berlin)
    off_by_one = await repository.appointments_at(
        event_type_id=EVENT_TYPE, start=TEN + timedelta(microseconds=1)
    )

    assert sorted(a.booking_uid for a in found) == ["cancelled", "held"]
    assert {a.id for a in found} == {held.id, cancelled.id}
    assert off_by_one == []


async def test_a_customers_appointments_are_ordered_by_start(repository: Repository) -> None:
    """Whatever the order of booking, the list runs from earliest to latest."""
    customer = await a_customer(repository)
    other = await a_customer(repository, OTHER_CALLER)
    late, _ = await repository.add_appointment(booking(customer, "late", start=TEN + timedelta(1)))
    early, _ = await repository.add_appointment(booking(customer, "early"))
    await repository.add_appointment(booking(other, "someone-else"))

    assert await repository.appointments_for_customer(customer.id) == [early, late]


async def test_set_appointment_status_changes_only_the_status(repository: Repository) -> None:
    """The stored appointment takes the new status and keeps everything else."""
    appointment = await an_appointment(repository)

    cancelled = await repository.set_appointment_status(appointment.id, AppointmentStatus.CANCELLED)

    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.booking_uid == appointment.booking_uid
    assert cancelled.start == appointment.start
    assert await repository.get_appointment(appointment.id) == cancelled


async def test_a_calcom_change_stores_the_status_and_the_event_time(
    repository: Repository,
) -> None:
    """The event time is kept with the status, so an older event can be told apart later."""
    appointment = await an_appointment(repository)
    assert appointment.calcom_event_at is None
    event_at = datetime(2025, 10, 9, 8, 30, 15, 250000, tzinfo=BERLIN)

    changed = await repository.record_calcom_change(
        appointment.id, AppointmentStatus.RESCHEDULED, event_at=event_at
    )

    assert changed.status is AppointmentStatus.RESCHEDULED
    assert changed.calcom_event_at == event_at
    assert changed.start == appointment.start
    assert await repository.get_appointment(appointment.id) == changed


async def test_a_calcom_change_of_an_unknown_appointment_is_a_key_error(
    repository: Repository,
) -> None:
    """Nothing is created by recording a change."""
    with pytest.raises(KeyError):
        await repository.record_calcom_change(4242, AppointmentStatus.CANCELLED, event_at=TEN)


# Calls


async def test_upsert_call_keeps_stored_fields_the_update_leaves_empty(
    repository: Repository,
) -> None:
    """A later event fills in what it knows without erasing what an earlier one recorded."""
    customer = await a_customer(repository)
    started = TEN - timedelta(minutes=5)
    await repository.upsert_call(
        Call(call_id="call_1", agent_id="agent_1", from_number=CALLER, started_at=started)
    )

    merged = await repository.upsert_call(
        Call(
            call_id="call_1",
            customer_id=customer.id,
            ended_at=TEN,
            disconnection_reason="user_hangup",
        )
    )

    assert merged == Call(
        call_id="call_1",
        customer_id=customer.id,
        agent_id="agent_1",
        from_number=CALLER,
        started_at=started,
        ended_at=TEN,
        disconnection_reason="user_hangup",
    )
    assert await repository.get_call("call_1") == merged


async def test_upsert_call_replaces_a_field_given_again(repository: Repository) -> None:
    """A non-empty field in the update wins over the stored value."""
    await repository.upsert_call(Call(call_id="call_1", agent_id="agent_1"))

    updated = await repository.upsert_call(Call(call_id="call_1", agent_id="agent_2"))

    assert updated.agent_id == "agent_2"


async def test_an_unknown_call_is_none(repository: Repository) -> None:
    """A call id never recorded finds nothing."""
    assert await repository.get_call("no-such-call") is None


# Links


async def test_linking_the_same_triple_twice_keeps_the_first_link(repository: Repository) -> None:
    """A retried link is not new and returns what was stored first."""
    appointment = await an_appointment(repository)
    first, created = await repository.link(a_link(appointment, at=TEN))

    again, created_again = await repository.link(
        CallLink(
            call_id="call_1",
            appointment_id=appointment.id,
            relationship=Relationship.ORIGINAL,
            linked_at=TEN + timedelta(minutes=1),
            metadata={"retry": True},
        )
    )

    assert (created, created_again) == (True, False)
    assert again == first
    assert again.linked_at == TEN
    assert again.metadata == {}
    assert await repository.links_for_call("call_1") == [first]


async def test_a_different_relationship_is_a_second_link(repository: Repository) -> None:
    """One call may touch one appointment in two ways, e.g. book it and then confirm it."""
    appointment = await an_appointment(repository)

    _, original = await repository.link(a_link(appointment, relationship=Relationship.ORIGINAL))
    _, confirmation = await repository.link(
        a_link(appointment, relationship=Relationship.CONFIRMATION)
    )

    assert (original, confirmation) == (True, True)
    links = await repository.links_for_appointment(appointment.id)
    assert [link.relationship for link in links] == [
        Relationship.ORIGINAL,
        Relationship.CONFIRMATION,
    ]


async def test_links_are_listed_oldest_first_per_call_and_per_appointment(
    repository: Repository,
) -> None:
    """Each listing holds only its own links, in the order they were made."""
    first_booking = await an_appointment(repository, "uid-1")
    second_booking = await an_appointment(repository, "uid-2")
    one, _ = await repository.link(a_link(first_booking, "call_1", at=TEN))
    two, _ = await repository.link(
        a_link(first_booking, "call_2", Relationship.DUPLICATE_ATTEMPT, at=TEN + timedelta(1))
    )
    three, _ = await repository.link(a_link(second_booking, "call_2", at=TEN + timedelta(2)))

    assert await repository.links_for_call("call_1") == [one]
    assert await repository.links_for_call("call_2") == [two, three]
    assert await repository.links_for_appointment(first_booking.id) == [one, two]
    assert await repository.links_for_appointment(second_booking.id) == [three]
    assert await repository.links_for_call("no-such-call") == []


async def test_link_metadata_round_trips_nested_json(repository: Repository) -> None:
    """Metadata comes back as the same nested structure, not a string."""
    appointment = await an_appointment(repository)
    metadata = {
        "tool": "collect_appointment_data",
        "attempt": 2,
        "offered": [{"start": "2025-10-10T10:00:00Z", "taken": False}, None],
        "caller": {"language": "de", "score": 0.5, "tags": ["ä", "ß"]},
    }

    stored, _ = await repository.link(
        CallLink(
            call_id="call_1",
            appointment_id=appointment.id,
            relationship=Relationship.RESCHEDULE,
            linked_at=TEN,
            metadata=metadata,
        )
    )

    assert stored.metadata == metadata
    [listed] = await repository.links_for_appointment(appointment.id)
    assert listed.metadata == metadata
    assert listed.linked_at == TEN


# Tool calls


async def test_the_first_delivery_claims_a_tool_call(repository: Repository) -> None:
    """Nobody has seen this call before, so this delivery owns it, fresh."""
    claim = await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)

    assert claim == ToolCallClaimed(resumed=False)


async def test_a_claim_records_the_call_it_is_given_keeping_stored_fields(
    repository: Repository,
) -> None:
    """The delivery's call is stored with its claim, merged like ``upsert_call``, every time."""
    await repository.upsert_call(Call(call_id=KEY.call_id, to_number="+4930123"))

    first = await repository.claim_tool_call(
        KEY, now=TEN, lease=LEASE, call=Call(call_id=KEY.call_id, agent_id="agent_1")
    )
    again = await repository.claim_tool_call(
        KEY, now=TEN, lease=LEASE, call=Call(call_id=KEY.call_id, from_number=CALLER)
    )

    assert (first, again) == (ToolCallClaimed(resumed=False), ToolCallBusy())
    assert await repository.get_call(KEY.call_id) == Call(
        call_id=KEY.call_id, agent_id="agent_1", from_number=CALLER, to_number="+4930123"
    )


async def test_a_second_delivery_while_the_first_works_is_busy(repository: Repository) -> None:
    """Within the lease, a retry must not act a second time."""
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)

    claim = await repository.claim_tool_call(KEY, now=TEN + LEASE / 2, lease=LEASE)

    assert claim == ToolCallBusy()


async def test_other_keys_are_claimed_independently(repository: Repository) -> None:
    """Another call, tool or argument set is another delivery."""
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)

    for other in (
        ToolCallKey("call_2", KEY.tool, KEY.args_digest),
        ToolCallKey(KEY.call_id, "confirm_existing", KEY.args_digest),
        ToolCallKey(KEY.call_id, KEY.tool, "d2"),
    ):
        assert await repository.claim_tool_call(other, now=TEN, lease=LEASE) == ToolCallClaimed()


async def test_a_finished_tool_call_replays_its_result(repository: Repository) -> None:
    """Every later delivery gets the stored result, nested JSON intact."""
    result = {"status": "booked", "appointment": {"uid": "uid-1", "start": "10:00"}, "n": [1, 2]}
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)
    await repository.finish_tool_call(KEY, result, now=TEN + timedelta(seconds=3))

    claim = await repository.claim_tool_call(KEY, now=TEN + timedelta(seconds=4), lease=LEASE)

    assert claim == ToolCallFinished(result=result)
    assert isinstance(claim, ToolCallFinished)
    assert claim.result == result


async def test_an_abandoned_tool_call_is_resumed_by_the_next_delivery(
    repository: Repository,
) -> None:
    """Giving up hands the call to the next delivery, which is told it resumes."""
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)
    await repository.abandon_tool_call(KEY)

    resumed = await repository.claim_tool_call(KEY, now=TEN + timedelta(seconds=1), lease=LEASE)
    after = await repository.claim_tool_call(KEY, now=TEN + timedelta(seconds=2), lease=LEASE)

    assert resumed == ToolCallClaimed(resumed=True)
    assert after == ToolCallBusy()


async def test_a_claim_older_than_the_lease_is_resumed(repository: Repository) -> None:
    """A claim whose owner never came back expires exactly at the lease."""
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)

    just_before = await repository.claim_tool_call(
        KEY, now=TEN + LEASE - timedelta(microseconds=1), lease=LEASE
    )
    at_lease = await repository.claim_tool_call(KEY, now=TEN + LEASE, lease=LEASE)

    assert just_before == ToolCallBusy()
    assert at_lease == ToolCallClaimed(resumed=True)


async def test_a_finished_tool_call_stays_finished(repository: Repository) -> None:
    """Neither abandoning nor an expired lease reopens a call that has its answer."""
    await repository.claim_tool_call(KEY, now=TEN, lease=LEASE)
    await repository.finish_tool_call(KEY, {"status": "existing"}, now=TEN)
    await repository.abandon_tool_call(KEY)

    claim = await repository.claim_tool_call(KEY, now=TEN + 10 * LEASE, lease=LEASE)

    assert claim == ToolCallFinished(result={"status": "existing"})


async def test_finished_results_of_one_tool_in_one_call_are_listed_oldest_first(
    repository: Repository,
) -> None:
    """Unfinished, other tools' and other calls' results are not listed."""
    first = ToolCallKey(call_id="call_1", tool="check_availability", args_digest="b")
    second = ToolCallKey(call_id="call_1", tool="check_availability", args_digest="a")
    running = ToolCallKey(call_id="call_1", tool="check_availability", args_digest="c")
    other_tool = ToolCallKey(call_id="call_1", tool="collect_appointment_data", args_digest="a")
    other_call = ToolCallKey(call_id="call_2", tool="check_availability", args_digest="a")
    for key in (first, second, running, other_tool, other_call):
        await repository.claim_tool_call(key, now=TEN, lease=LEASE)
    await repository.finish_tool_call(first, {"slots": ["10:00"]}, now=TEN)
    await repository.finish_tool_call(second, {"slots": ["11:00"]}, now=TEN + LEASE)
    await repository.finish_tool_call(other_tool, {"status": "booked"}, now=TEN)
    await repository.finish_tool_call(other_call, {"slots": ["12:00"]}, now=TEN)

    results = await repository.tool_call_results("call_1", "check_availability")

    assert results == [{"slots": ["10:00"]}, {"slots": ["11:00"]}]


async def test_the_facts_a_tool_call_finished_with_are_read_typed(
    repository: Repository,
) -> None:
    """Offered starts come back as UTC instants of their call, by start, with whether their
    day was listed whole; the touched booking is on the record, whatever the JSON says."""
    whole = ToolCallKey(call_id="call_1", tool="check_availability", args_digest="a")
    in_part = ToolCallKey(call_id="call_1", tool="check_availability", args_digest="b")
    booked = ToolCallKey(call_id="call_1", tool="collect_appointment_data", args_digest="c")
    elsewhere = ToolCallKey(call_id="call_2", tool="check_availability", args_digest="a")
    for key in (whole, in_part, booked, elsewhere):
        await repository.claim_tool_call(key, now=TEN, lease=LEASE)
    friday = [TEN.astimezone(BERLIN) + timedelta(hours=h) for h in (2, 0, 1)]
    await repository.finish_tool_call(
        whole, {"status": "available"}, now=TEN, facts=ResultFacts(offered=tuple(friday))
    )
    monday = TEN + timedelta(days=3)
    await repository.finish_tool_call(
        in_part,
        {"status": "available"},
        now=TEN + timedelta(seconds=1),
        facts=ResultFacts(offered=(monday, TEN), listed_whole=False),
    )
    await repository.finish_tool_call(
        booked,
        {"status": "booked", "appointment": {"booking_uid": "not-the-fact"}},
        now=TEN + timedelta(seconds=2),
        facts=ResultFacts(booking_uid="uid-1"),
    )
    await repository.finish_tool_call(
        elsewhere, {"status": "available"}, now=TEN, facts=ResultFacts(offered=(monday,))
    )

    offered = await repository.offered_starts("call_1")
    records = {r.key: r for r in await repository.tool_call_records()}

    assert offered == [
        OfferedStart(TEN, listed_whole=False),
        OfferedStart(TEN, listed_whole=True),
        OfferedStart(TEN + timedelta(hours=1), listed_whole=True),
        OfferedStart(TEN + timedelta(hours=2), listed_whole=True),
        OfferedStart(monday, listed_whole=False),
    ]
    assert all(o.start.utcoffset() == timedelta(0) for o in offered)
    assert await repository.offered_starts("call_3") == []
    assert [records[k].booking_uid for k in (whole, in_part, booked)] == [None, None, "uid-1"]


async def test_a_start_offered_again_the_same_way_is_listed_once(repository: Repository) -> None:
    """Two answers offering the same start of a whole day leave one offered start."""
    for digest in ("a", "b"):
        key = ToolCallKey(call_id="call_1", tool="check_availability", args_digest=digest)
        await repository.claim_tool_call(key, now=TEN, lease=LEASE)
        facts = ResultFacts(offered=(TEN, TEN + timedelta(hours=1)))
        await repository.finish_tool_call(key, {"status": "available"}, now=TEN, facts=facts)

    assert await repository.offered_starts("call_1") == [
        OfferedStart(TEN, listed_whole=True),
        OfferedStart(TEN + timedelta(hours=1), listed_whole=True),
    ]


async def test_an_unfinished_or_abandoned_tool_call_has_no_facts(repository: Repository) -> None:
    """Only a finish records facts; a record without one touches no booking."""
    running = ToolCallKey(call_id="call_1", tool="collect_appointment_data", args_digest="a")
    abandoned = ToolCallKey(call_id="call_1", tool="collect_appointment_data", args_digest="b")
    for key in (running, abandoned):
        await repository.claim_tool_call(key, now=TEN, lease=LEASE)
    await repository.abandon_tool_call(abandoned)

    records = await repository.tool_call_records()

    assert [(r.key, r.booking_uid) for r in records] == [(running, None), (abandoned, None)]
    assert await repository.offered_starts("call_1") == []


async def finished_invocation(
    repository: Repository, invocation: Invocation, result: dict[str, str], *, at: datetime = TEN
) -> ToolCallKey:
    """Claim ``KEY``'s invocation and finish it with ``result``; its key."""
    key, claim = await repository.claim_invocation(KEY, invocation, now=at, lease=LEASE)
    assert claim == ToolCallClaimed(resumed=False)
    await repository.finish_tool_call(key, result, now=at)
    return key


async def test_the_first_invocation_of_a_tool_with_some_arguments_is_the_first_seq(
    repository: Repository,
) -> None:
    """A fresh claim under ``seq`` 0; another delivery meanwhile is busy with the same key."""
    first = await repository.claim_invocation(KEY, RETELL_SAID, now=TEN, lease=LEASE)
    again = await repository.claim_invocation(KEY, UNLISTED, now=TEN, lease=LEASE)

    assert first == (KEY, ToolCallClaimed(resumed=False))
    assert again == (KEY, ToolCallBusy())


async def test_a_retry_of_a_listed_invocation_replays_its_result(repository: Repository) -> None:
    """Same id, or a new id that repeats an invocation which never got a result: replayed."""
    key = await finished_invocation(repository, RETELL_SAID, {"status": "booked"})
    renamed = Invocation(tool_call_id="tc_2", repeats=frozenset({"tc_1", "tc_2"}))

    for retry in (RETELL_SAID, renamed):
        claim = await repository.claim_invocation(KEY, retry, now=TEN, lease=LEASE)
        assert claim == (key, ToolCallFinished(result={"status": "booked"}))


async def test_a_new_listed_invocation_with_the_same_arguments_is_claimed_afresh(
    repository: Repository,
) -> None:
    """Another id that does not repeat the finished one is the next ``seq``, then replayed."""
    await finished_invocation(repository, RETELL_SAID, {"status": "none"})
    later = Invocation(tool_call_id="tc_5", repeats=frozenset({"tc_5"}))

    key, claim = await repository.claim_invocation(KEY, later, now=TEN, lease=LEASE)
    await repository.finish_tool_call(key, {"status": "found"}, now=TEN)
    replayed = await repository.claim_invocation(KEY, later, now=TEN, lease=LEASE)
    first = await repository.claim_invocation(KEY, RETELL_SAID, now=TEN, lease=LEASE)

    assert (key, claim) == (
        ToolCallKey(KEY.call_id, KEY.tool, KEY.args_digest, seq=1),
        ToolCallClaimed(resumed=False),
    )
    assert replayed == (key, ToolCallFinished(result={"status": "found"}))
    assert first[0].seq == 2, "a delivery of an older invocation is never given a newer answer"
    assert await repository.tool_call_results(KEY.call_id, KEY.tool) == [
        {"status": "none"},
        {"status": "found"},
    ]


async def test_an_unlisted_delivery_replays_while_no_other_tool_call_of_the_call_finished(
    repository: Repository,
) -> None:
    """Without a transcript, a repeat within the lease and with nothing finished since replays."""
    key = await finished_invocation(repository, UNLISTED, {"status": "none"})
    other_call = ToolCallKey("call_2", "find_appointments", "d9")
    await repository.claim_tool_call(other_call, now=TEN, lease=LEASE)
    await repository.finish_tool_call(other_call, {"status": "found"}, now=TEN)

    just_before = TEN + LEASE - timedelta(microseconds=1)
    claim = await repository.claim_invocation(KEY, UNLISTED, now=just_before, lease=LEASE)

    assert claim == (key, ToolCallFinished(result={"status": "none"}))


async def test_an_unlisted_delivery_after_another_tool_call_finished_is_claimed_afresh(
    repository: Repository,
) -> None:
    """Another tool call of the same call finished since: the old answer may be stale."""
    await finished_invocation(repository, UNLISTED, {"status": "none"})
    booking = ToolCallKey(KEY.call_id, "other_tool", "d9")
    await repository.claim_tool_call(booking, now=TEN, lease=LEASE)
    await repository.finish_tool_call(booking, {"status": "booked"}, now=TEN)

    key, claim = await repository.claim_invocation(KEY, UNLISTED, now=TEN, lease=LEASE)

    assert (key.seq, claim) == (1, ToolCallClaimed(resumed=False))


async def test_an_unlisted_delivery_a_lease_after_the_answer_is_claimed_afresh(
    repository: Repository,
) -> None:
    """The replay window closes a lease after the invocation finished."""
    await finished_invocation(repository, UNLISTED, {"status": "none"})

    key, claim = await repository.claim_invocation(KEY, UNLISTED, now=TEN + LEASE, lease=LEASE)

    assert (key.seq, claim) == (1, ToolCallClaimed(resumed=False))


async def test_a_delivery_that_joined_a_running_invocation_gets_its_answer(
    repository: Repository,
) -> None:
    """Whatever finished meanwhile, a delivery that waited on an invocation replays it."""
    key, _ = await repository.claim_invocation(KEY, UNLISTED, now=TEN, lease=LEASE)
    other = ToolCallKey(KEY.call_id, "other_tool", "d9")
    await repository.claim_tool_call(other, now=TEN, lease=LEASE)
    await repository.finish_tool_call(other, {"status": "booked"}, now=TEN)
    await repository.finish_tool_call(key, {"status": "none"}, now=TEN)

    claim = await repository.claim_invocation(KEY, Invocation(joined=0), now=TEN, lease=LEASE)

    assert claim == (key, ToolCallFinished(result={"status": "none"}))


async def test_an_unfinished_invocation_is_resumed_by_any_delivery_of_its_arguments(
    repository: Repository,
) -> None:
    """An abandoned invocation is taken over by the next delivery, whatever its id."""
    key = await finished_invocation(repository, RETELL_SAID, {"status": "none"})
    later = Invocation(tool_call_id="tc_5", repeats=frozenset({"tc_5"}))
    running, _ = await repository.claim_invocation(KEY, later, now=TEN, lease=LEASE)
    await repository.abandon_tool_call(running)

    resumed = await repository.claim_invocation(
        KEY, Invocation(tool_call_id="tc_6", repeats=frozenset({"tc_6"})), now=TEN, lease=LEASE
    )

    assert running.seq == key.seq + 1
    assert resumed == (running, ToolCallClaimed(resumed=True))


async def test_invocations_of_other_calls_tools_or_arguments_are_their_own(
    repository: Repository,
) -> None:
    """Each starts at ``seq`` 0, whatever another one did."""
    await finished_invocation(repository, RETELL_SAID, {"status": "none"})

    for other in (
        ToolCallKey("call_2", KEY.tool, KEY.args_digest),
        ToolCallKey(KEY.call_id, "confirm_existing", KEY.args_digest),
        ToolCallKey(KEY.call_id, KEY.tool, "d2"),
    ):
        claim = await repository.claim_invocation(other, RETELL_SAID, now=TEN, lease=LEASE)
        assert claim == (other, ToolCallClaimed(resumed=False))


async def test_abandoning_an_unknown_tool_call_changes_nothing(repository: Repository) -> None:
    """An abandon without a claim leaves the first delivery a fresh owner."""
    await repository.abandon_tool_call(KEY)

    assert await repository.claim_tool_call(KEY, now=TEN, lease=LEASE) == ToolCallClaimed()


# Locks


async def test_a_lock_makes_a_second_holder_wait_for_the_first(repository: Repository) -> None:
    """The second task enters only after the first has left."""
    order: list[str] = []
    first_inside = asyncio.Event()
    let_go = asyncio.Event()

    async def first() -> None:
        async with repository.lock("slot:2563193:2025-10-10T10:00Z"):
            order.append("first in")
            first_inside.set()
            await let_go.wait()
            order.append("first out")

    async def second() -> None:
        await first_inside.wait()
        async with repository.lock("slot:2563193:2025-10-10T10:00Z"):
            order.append("second in")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_inside.wait()
    await asyncio.sleep(0.2)  # the second task's chance to (wrongly) get in
    assert order == ["first in"]

    let_go.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert order == ["first in", "first out", "second in"]


async def test_locks_with_different_names_do_not_wait_for_each_other(
    repository: Repository,
) -> None:
    """Only the same name excludes."""
    async with repository.lock("slot:a"), asyncio.timeout(5), repository.lock("slot:b"):
        pass


async def test_a_lock_is_released_when_the_body_raises(repository: Repository) -> None:
    """An error inside the critical section does not leave the lock held."""
    with pytest.raises(RuntimeError, match="boom"):
        async with repository.lock("slot:a"):
            raise RuntimeError("boom")

    async with asyncio.timeout(5), repository.lock("slot:a"):
        pass


async def test_a_lock_is_released_when_its_holder_is_cancelled(repository: Repository) -> None:
    """A cancelled request does not keep the slot locked."""
    inside = asyncio.Event()

    async def holder() -> None:
        async with repository.lock("slot:a"):
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(holder())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async with asyncio.timeout(5), repository.lock("slot:a"):
        pass


async def test_a_cancelled_waiter_does_not_take_the_lock(repository: Repository) -> None:
    """Giving up while waiting leaves the lock to whoever asks next."""
    inside = asyncio.Event()
    let_go = asyncio.Event()

    async def holder() -> None:
        async with repository.lock("slot:a"):
            inside.set()
            await let_go.wait()

    async def waiter() -> None:
        async with repository.lock("slot:a"):
            pytest.fail("the waiter was cancelled and must never get in")

    holding = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    let_go.set()
    await holding

    async with asyncio.timeout(5), repository.lock("slot:a"):
        pass


# Read-only listings for reports


async def test_find_customer_finds_like_upsert_and_creates_nobody(repository: Repository) -> None:
    """A phone finds its caller, an email only a phone-less one, and a stranger is None."""
    by_phone = await a_customer(repository)
    by_email = await repository.upsert_customer(name="Erika", phone=None, email="erika@example.org")

    assert await repository.find_customer(phone=CALLER, email=None) == by_phone
    assert await repository.find_customer(phone=None, email="Erika@Example.org") == by_email
    assert await repository.find_customer(phone=OTHER_CALLER, email=None) is None
    assert await repository.find_customer(phone=OTHER_CALLER, email=None) is None


async def test_list_appointments_keeps_those_ending_after_the_cut_ordered_by_start(
    repository: Repository,
) -> None:
    """Past appointments drop out; the rest come in start order, whatever their status."""
    customer = await a_customer(repository)
    await repository.add_appointment(booking(customer, "late", start=TEN + timedelta(days=2)))
    await repository.add_appointment(booking(customer, "past", start=TEN - timedelta(days=2)))
    await repository.add_appointment(
        booking(customer, "soon", start=TEN, status=AppointmentStatus.CANCELLED)
    )

    listed = await repository.list_appointments(ending_after=TEN)

    assert [a.booking_uid for a in listed] == ["soon", "late"]
    assert len(await repository.list_appointments()) == 3


async def test_list_links_returns_links_made_since_oldest_first(repository: Repository) -> None:
    """Links before ``since`` are left out; the rest keep their stored order."""
    appointment = await an_appointment(repository)
    await repository.link(a_link(appointment, "call_old", at=TEN - timedelta(days=1)))
    await repository.link(a_link(appointment, "call_new", at=TEN))
    await repository.link(
        a_link(appointment, "call_dup", Relationship.DUPLICATE_ATTEMPT, at=TEN + timedelta(hours=1))
    )

    listed = await repository.list_links(since=TEN)

    assert [(link.call_id, link.relationship) for link in listed] == [
        ("call_new", Relationship.ORIGINAL),
        ("call_dup", Relationship.DUPLICATE_ATTEMPT),
    ]


async def test_tool_call_records_carry_results_in_time_order(repository: Repository) -> None:
    """Finished, abandoned and running calls are listed in the window with what they answered."""
    booked = ToolCallKey("call_1", "collect_appointment_data", "a")
    failed = ToolCallKey("call_2", "collect_appointment_data", "b")
    running = ToolCallKey("call_3", "confirm_existing", "c")
    outside = ToolCallKey("call_4", "collect_appointment_data", "d")
    result = {"status": "booked", "appointment": {"booking_uid": "uid-1"}}
    for key, at in ((booked, TEN), (failed, TEN), (running, TEN), (outside, TEN)):
        await repository.claim_tool_call(key, now=at, lease=LEASE)
    await repository.finish_tool_call(
        booked, result, now=TEN + timedelta(minutes=2), facts=ResultFacts(booking_uid="uid-1")
    )
    await repository.abandon_tool_call(failed)
    await repository.finish_tool_call(outside, {"status": "booked"}, now=TEN + timedelta(days=1))

    records = await repository.tool_call_records(since=TEN, until=TEN + timedelta(hours=1))

    assert [(r.key, r.status, r.booking_uid) for r in records] == [
        (failed, "error", None),
        (running, None, None),
        (booked, "booked", "uid-1"),
    ]
    assert records[2].result == result
    assert records[2].finished_at == TEN + timedelta(minutes=2)
    assert len(await repository.tool_call_records()) == 4


async def test_tool_outcome_counts_group_by_tool_and_status(repository: Repository) -> None:
    """Finished calls count under their status, abandoned ones as error, running ones not."""
    outcomes = [
        ("call_1", "collect_appointment_data", {"status": "booked"}),
        ("call_2", "collect_appointment_data", {"status": "existing"}),
        ("call_3", "collect_appointment_data", {"status": "existing"}),
        ("call_4", "confirm_existing", {"status": "confirmed"}),
        ("call_5", "collect_appointment_data", None),
    ]
    for call_id, tool, result in outcomes:
        key = ToolCallKey(call_id, tool, "d")
        await repository.claim_tool_call(key, now=TEN, lease=LEASE)
        if result is None:
            await repository.abandon_tool_call(key)
        else:
            await repository.finish_tool_call(key, result, now=TEN)
    await repository.claim_tool_call(ToolCallKey("call_6", "x", "d"), now=TEN, lease=LEASE)

    assert await repository.tool_outcome_counts() == {
        ("collect_appointment_data", "booked"): 1,
        ("collect_appointment_data", "existing"): 2,
        ("collect_appointment_data", "error"): 1,
        ("confirm_existing", "confirmed"): 1,
    }
