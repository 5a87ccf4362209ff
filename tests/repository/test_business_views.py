"""Businesses in one store (``for_business``), run against every implementation: each
business's customers, appointments, calls and locks are its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from retell_booking_tools.domain import (
    DEFAULT_BUSINESS_ID,
    Appointment,
    AppointmentStatus,
    Call,
    NewAppointment,
    ToolCallKey,
)
from retell_booking_tools.repository import Repository
from retell_booking_tools.repository.protocol import BusinessScoped, store_for_business

CALLER = "+4915112345678"
EVENT_TYPE = 2563193
TEN = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)


def _views(repository: Repository) -> tuple[Repository, Repository]:
    assert isinstance(repository, BusinessScoped)
    return (
        store_for_business(repository, "praxis-spitzer"),
        store_for_business(repository, "salon-ana"),
    )


async def _booked(store: Repository, uid: str = "uid-1") -> Appointment:
    customer = await store.upsert_customer(name="Max", phone=CALLER, email=None)
    appointment, _ = await store.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid=uid,
            event_type_id=EVENT_TYPE,
            start=TEN,
            end=TEN + timedelta(minutes=30),
            timezone="Europe/Berlin",
            status=AppointmentStatus.ACTIVE,
        )
    )
    return appointment


async def test_the_store_itself_is_the_business_default(repository: Repository) -> None:
    """Without views nothing changes: rows are ``default``'s, and its view is the store."""
    appointment = await _booked(repository)

    assert appointment.business_id == DEFAULT_BUSINESS_ID
    assert store_for_business(repository, DEFAULT_BUSINESS_ID) is repository


async def test_one_number_is_one_customer_per_business(repository: Repository) -> None:
    """The same phone in two businesses is two customers, each found again in its own."""
    praxis, salon = _views(repository)

    first = await praxis.upsert_customer(name="Max", phone=CALLER, email=None)
    second = await salon.upsert_customer(name="Max", phone=CALLER, email=None)

    assert first.id != second.id
    assert (first.business_id, second.business_id) == ("praxis-spitzer", "salon-ana")
    assert await praxis.find_customer(phone=CALLER, email=None) == first
    assert await salon.find_customer(phone=CALLER, email=None) == second
    assert await repository.find_customer(phone=CALLER, email=None) is None
    assert await salon.get_customer(first.id) is None


async def test_a_business_never_finds_another_business_appointment(
    repository: Repository,
) -> None:
    """Not by id, uid, booking reference or start; its owner's business finds it."""
    praxis, salon = _views(repository)
    appointment = await _booked(praxis)
    assert appointment.booking_reference is not None

    assert await salon.get_appointment(appointment.id) is None
    assert await salon.get_appointment_by_uid("uid-1") is None
    assert await salon.get_appointment_by_reference(appointment.booking_reference) is None
    assert await salon.appointments_at(event_type_id=EVENT_TYPE, start=TEN) == []
    assert await praxis.get_appointment_by_uid("uid-1") == appointment
    assert await praxis.appointments_at(event_type_id=EVENT_TYPE, start=TEN) == [appointment]


async def test_a_uid_stays_unique_across_businesses(repository: Repository) -> None:
    """A uid already held by another business is not stored twice."""
    praxis, salon = _views(repository)
    await _booked(praxis)

    await _booked(salon)

    assert [a.booking_uid for a in await repository.list_appointments()] == ["uid-1"]


async def test_a_call_keeps_the_business_it_was_first_stored_with(
    repository: Repository,
) -> None:
    """Another business writing the same call id neither moves it nor reads it."""
    praxis, salon = _views(repository)
    await praxis.upsert_call(Call(call_id="call_1", agent_id="agent_praxis"))

    await salon.upsert_call(Call(call_id="call_1", disconnection_reason="user_hangup"))

    stored = await praxis.get_call("call_1")
    assert stored is not None
    assert stored.business_id == "praxis-spitzer"
    assert await salon.get_call("call_1") is None


async def test_locks_of_one_name_in_two_businesses_do_not_exclude_each_other(
    repository: Repository,
) -> None:
    """A slot lock of one business never waits for another business's."""
    praxis, salon = _views(repository)

    async with praxis.lock("slot:1:2025-10-10T10:00"):
        async with asyncio.timeout(5):
            async with salon.lock("slot:1:2025-10-10T10:00"):
                pass


async def test_a_lock_of_one_business_excludes_itself(repository: Repository) -> None:
    """Within one business the lock still serialises."""
    praxis, _ = _views(repository)
    again = store_for_business(repository, "praxis-spitzer")
    entered = asyncio.Event()

    async def second() -> None:
        async with again.lock("slot:1"):
            entered.set()

    async with praxis.lock("slot:1"):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        assert not entered.is_set()
    await asyncio.wait_for(waiter, 5)
    assert entered.is_set()


async def test_reports_tell_each_function_call_and_outcome_by_its_calls_business(
    repository: Repository,
) -> None:
    """A record carries its call's business (``default`` for a call not stored); outcome
    counts and reference misses can be asked for one business."""
    praxis, salon = _views(repository)
    lease = timedelta(minutes=1)
    for store, call_id, status in (
        (praxis, "call_p", "booked"),
        (salon, "call_s", "booked"),
        (salon, "call_s2", "existing"),
        (repository, "call_d", "conflict"),
    ):
        key = ToolCallKey(call_id, "collect_appointment_data", "digest")
        await store.claim_tool_call(key, now=TEN, lease=lease, call=Call(call_id=call_id))
        await store.finish_tool_call(key, {"status": status}, now=TEN)
    unstored = ToolCallKey("call_unstored", "check_availability", "digest")
    await repository.claim_tool_call(unstored, now=TEN, lease=lease)
    await repository.finish_tool_call(unstored, {"status": "available"}, now=TEN)
    await salon.record_reference_miss(call_id="call_s", number=CALLER, at=TEN)
    await repository.record_reference_miss(call_id="call_unstored", number=CALLER, at=TEN)

    records = await repository.tool_call_records()

    assert sorted((r.key.call_id, r.business_id) for r in records) == [
        ("call_d", DEFAULT_BUSINESS_ID),
        ("call_p", "praxis-spitzer"),
        ("call_s", "salon-ana"),
        ("call_s2", "salon-ana"),
        ("call_unstored", DEFAULT_BUSINESS_ID),
    ]
    assert await repository.tool_outcome_counts(business_id="salon-ana") == {
        ("collect_appointment_data", "booked"): 1,
        ("collect_appointment_data", "existing"): 1,
    }
    assert await repository.tool_outcome_counts(business_id=DEFAULT_BUSINESS_ID) == {
        ("collect_appointment_data", "conflict"): 1,
        ("check_availability", "available"): 1,
    }
    assert sum((await repository.tool_outcome_counts()).values()) == 5
    since = TEN - timedelta(days=1)
    assert await repository.reference_misses(since=since, business_id="salon-ana") == 1
    assert await repository.reference_misses(since=since, business_id="praxis-spitzer") == 0
    assert await repository.reference_misses(since=since, business_id=DEFAULT_BUSINESS_ID) == 1
    assert await repository.reference_misses(since=since) == 2
