"""Two server processes on one PostgreSQL: 50 concurrent deliveries, every booking exactly once."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import sqlalchemy as sa
from replicas import Cluster, relationships, weekdays_ahead

from retell_booking_tools.booking.records import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import Relationship
from retell_booking_tools.repository import PostgresRepository, Repository

if TYPE_CHECKING:
    pass

# Server processes each hold a pool of connections: one cluster at a time, on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("multiprocess")]

IDENTICAL_DELIVERIES = 20
SAME_CALLER_PAIRS = 4
RACES = 7


@attrs.frozen
class Delivery:
    """One signed POST of ``collect_appointment_data`` to one replica."""

    replica: int
    call_id: str
    phone: str
    name: str
    day: date
    at: str

    @property
    def args(self) -> dict[str, str]:
        return {"customer_name": self.name, "date": self.day.isoformat(), "time": self.at}


@attrs.frozen
class Workload:
    """The mixed deliveries, and which calls belong to which case."""

    deliveries: list[Delivery]
    retried_call: str
    pairs: list[tuple[str, str]]
    races: list[tuple[str, str]]
    phone_of: dict[str, str]


def mixed_workload() -> Workload:
    """20 deliveries of one call, 4 same-caller pairs and 7 two-customer races: 50 in all."""
    first_day, second_day = weekdays_ahead(2)
    slots = iter(
        [(day, f"{hour:02d}:00") for day in (first_day, second_day) for hour in range(9, 17)]
    )
    phones = (f"+491511234{n:04d}" for n in itertools.count(1))
    deliveries: list[Delivery] = []
    phone_of: dict[str, str] = {}

    def deliver(
        call_id: str, phone: str, name: str, slot: tuple[date, str], *replicas: int
    ) -> None:
        phone_of[call_id] = phone
        deliveries.extend(Delivery(r, call_id, phone, name, *slot) for r in replicas)

    deliver("call_retried", next(phones), "Max Mustermann", next(slots), *[0, 1] * 10)
    pairs = []
    for n in range(SAME_CALLER_PAIRS):
        phone, slot = next(phones), next(slots)
        pair = (f"call_pair{n}_a", f"call_pair{n}_b")
        for call_id in pair:
            deliver(call_id, phone, "Erika Musterfrau", slot, 0, 1)
        pairs.append(pair)
    races = []
    for n in range(RACES):
        slot = next(slots)
        race = (f"call_race{n}_x", f"call_race{n}_y")
        deliver(race[0], next(phones), "Xaver Erster", slot, 0)
        deliver(race[1], next(phones), "Yvonne Zweite", slot, 1)
        races.append(race)
    random.Random(4).shuffle(deliveries)
    return Workload(deliveries, "call_retried", pairs, races, phone_of)


async def deliver_all(cluster: Cluster, workload: Workload) -> dict[str, dict[str, Any]]:
    """Send everything at once; the one answer of each call (after checking they agree)."""
    async with asyncio.timeout(120):
        responses = await asyncio.gather(
            *(
                cluster.deliver(d.replica, d.call_id, d.args, from_number=d.phone)
                for d in workload.deliveries
            )
        )
    answers: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for delivery, response in zip(workload.deliveries, responses, strict=True):
        assert response.status_code == 200, cluster.logs()
        answers[delivery.call_id].append(response.json())
    for call_id, given in answers.items():
        assert all(answer == given[0] for answer in given), f"{call_id} answered differently"
    return {call_id: given[0] for call_id, given in answers.items()}


async def test_fifty_mixed_concurrent_deliveries_across_two_processes_book_each_slot_once(
    cluster: Cluster, repository: Repository
) -> None:
    """Retries book once, a caller's second call is existing, a race has one winner."""
    workload = mixed_workload()
    assert len(workload.deliveries) == 50

    answers = await deliver_all(cluster, workload)

    retried = answers[workload.retried_call]
    assert retried["status"] == "booked"
    assert await relationships(repository, workload.retried_call) == [
        (retried["appointment"]["booking_uid"], Relationship.ORIGINAL)
    ]
    for pair in workload.pairs:
        by_status = {answers[call_id]["status"]: call_id for call_id in pair}
        assert sorted(by_status) == ["booked", "existing"], [answers[c] for c in pair]
        booked, existing = by_status["booked"], by_status["existing"]
        uid = answers[booked]["appointment"]["booking_uid"]
        assert answers[existing]["appointment"]["booking_uid"] == uid
        assert await relationships(repository, booked) == [(uid, Relationship.ORIGINAL)]
        assert await relationships(repository, existing) == [(uid, Relationship.DUPLICATE_ATTEMPT)]
        [duplicate] = await repository.links_for_call(existing)
        assert duplicate.metadata["original_call_id"] == booked
    for race in workload.races:
        by_status = {answers[call_id]["status"]: call_id for call_id in race}
        assert "booked" in by_status, [answers[c] for c in race]
        [lost] = set(by_status) - {"booked"}
        assert lost in ("unavailable", "conflict")
        loser, winner = by_status[lost], by_status["booked"]
        assert "appointment" not in answers[loser]
        assert await relationships(repository, loser) == []
        uid = answers[winner]["appointment"]["booking_uid"]
        assert await relationships(repository, winner) == [(uid, Relationship.ORIGINAL)]

    booked_calls = {call_id for call_id, answer in answers.items() if answer["status"] == "booked"}
    assert len(booked_calls) == 1 + SAME_CALLER_PAIRS + RACES
    active = [booking for booking in cluster.emulator.bookings if booking.is_active]
    assert cluster.emulator.created_bookings_count() == len(active) == len(booked_calls)
    assert len({booking.start for booking in active}) == len(active), "a slot booked twice"
    for booking in active:
        maker = booking.metadata[CALL_ID_METADATA_KEY]
        assert maker in booked_calls
        assert answers[maker]["appointment"]["booking_uid"] == booking.uid
        [attendee] = booking.attendees
        assert attendee.phone_number == workload.phone_of[maker]
        stored = await repository.get_appointment_by_uid(booking.uid)
        assert stored is not None
        assert stored.start == booking.start
        customer = await repository.get_customer(stored.customer_id)
        assert customer is not None
        assert customer.phone == workload.phone_of[maker]
    await assert_one_row_per_identity(repository, workload, len(booked_calls))


async def assert_one_row_per_identity(
    repository: Repository, workload: Workload, booked: int
) -> None:
    """No duplicate uid or link in the tables themselves; every function call finished."""
    assert isinstance(repository, PostgresRepository)
    async with repository.engine.connect() as connection:

        async def count(sql: str) -> int:
            return int((await connection.execute(sa.text(sql))).scalar_one())

        appointments = await count("SELECT count(*) FROM appointments")
        uids = await count("SELECT count(DISTINCT booking_uid) FROM appointments")
        links = await count("SELECT count(*) FROM call_appointment_links")
        distinct_links = await count(
            "SELECT count(*) FROM (SELECT DISTINCT call_id, appointment_id, relationship "
            "FROM call_appointment_links) AS l"
        )
        originals = await count(
            "SELECT count(*) FROM call_appointment_links WHERE relationship = 'original'"
        )
        tool_calls = await count("SELECT count(*) FROM tool_calls")
        unfinished = await count("SELECT count(*) FROM tool_calls WHERE finished_at IS NULL")

    assert appointments == uids == booked
    assert links == distinct_links == booked + SAME_CALLER_PAIRS
    assert originals == booked
    assert tool_calls == len({d.call_id for d in workload.deliveries})
    assert unfinished == 0


@pytest.mark.parametrize("topology", [pytest.param([2], id="serve-workers-2")])
async def test_serve_with_two_workers_books_concurrent_deliveries_of_one_call_once(
    cluster: Cluster, repository: Repository
) -> None:
    """`retell-booking-tools serve --workers 2` on PostgreSQL: ten deliveries, one booking."""
    args = {"customer_name": "Max Mustermann", "date": weekdays_ahead(1)[0].isoformat()}
    args["time"] = "10:00"
    phone = "+4915112345678"

    async with asyncio.timeout(120):
        responses = await asyncio.gather(
            *(cluster.deliver(0, "call_1", args, from_number=phone) for _ in range(10))
        )

    answers = [response.json() for response in responses]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["status"] == "booked"
    assert cluster.emulator.created_bookings_count() == 1
    uid = answers[0]["appointment"]["booking_uid"]
    assert await relationships(repository, "call_1") == [(uid, Relationship.ORIGINAL)]
