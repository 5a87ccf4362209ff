"""The support console's reads (``SupportReads``), run against every implementation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from retell_booking_tools.domain import (
    AppointmentStatus,
    Call,
    CallLink,
    NewAppointment,
    Relationship,
    ResultFacts,
    ToolCallKey,
)
from retell_booking_tools.ops.stats import daily_stats, day_start
from retell_booking_tools.repository import Repository
from retell_booking_tools.repository.protocol import CallCursor, SupportReads

BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def reads(repository: Repository) -> SupportReads:
    assert isinstance(repository, SupportReads)
    return repository


async def a_booking(repository: Repository, uid: str, *, phone: str = "+4915112345678") -> int:
    customer = await repository.upsert_customer(name="Max", phone=phone, email=None)
    appointment, _ = await repository.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid=uid,
            event_type_id=7,
            start=NOON,
            end=NOON + timedelta(hours=1),
            timezone="Europe/Berlin",
            status=AppointmentStatus.ACTIVE,
        )
    )
    return appointment.id


async def a_result(
    repository: Repository,
    call_id: str,
    tool: str,
    status: str,
    *,
    at: datetime,
    uid: str | None = None,
    digest: str = "d",
) -> None:
    key = ToolCallKey(call_id=call_id, tool=tool, args_digest=digest)
    await repository.claim_tool_call(key, now=at, lease=LEASE)
    result: dict[str, object] = {"status": status, "message": status}
    if uid is not None:
        result["appointment"] = {"booking_uid": uid}
    await repository.finish_tool_call(key, result, now=at, facts=ResultFacts(booking_uid=uid))


class TestRecentCalls:
    """The call list: newest first, pages, exact ids, number suffixes."""

    async def test_calls_come_newest_first_and_pages_continue_without_overlap(
        self, repository: Repository
    ) -> None:
        """Three pages of two cover five calls once each, newest first."""
        for n in range(5):
            await repository.upsert_call(Call(call_id=f"call_{n}"))
        store = reads(repository)
        seen: list[str] = []
        after: CallCursor | None = None
        for _ in range(3):
            page = await store.recent_calls(limit=2, after=after)
            seen += [entry.call.call_id for entry in page]
            after = page[-1].cursor if page else None
        assert sorted(seen) == [f"call_{n}" for n in range(5)]
        assert len(seen) == 5
        stamps = [(e.recorded_at, e.call.call_id) for e in await store.recent_calls(limit=9)]
        assert stamps == sorted(stamps, reverse=True)

    async def test_a_call_id_matches_exactly_and_digits_match_the_end_of_a_number(
        self, repository: Repository
    ) -> None:
        """call_1 finds call_1 only; 5678 finds the calls from a number ending in it."""
        await repository.upsert_call(Call(call_id="call_1", from_number="+4915112345678"))
        await repository.upsert_call(Call(call_id="call_10", from_number="+4930125678"))
        await repository.upsert_call(Call(call_id="call_11", to_number="+4915112345678"))
        await repository.upsert_call(Call(call_id="call_2", from_number="+4917098765432"))
        store = reads(repository)
        assert [e.call.call_id for e in await store.recent_calls(limit=9, call_id="call_1")] == [
            "call_1"
        ]
        by_digits = await store.recent_calls(limit=9, number_suffix="5678")
        assert sorted(e.call.call_id for e in by_digits) == ["call_1", "call_10"]
        longer = await store.recent_calls(limit=9, number_suffix="12345678")
        assert [e.call.call_id for e in longer] == ["call_1"]
        short = await store.recent_calls(limit=9, number_suffix="678")
        assert sorted(e.call.call_id for e in short) == ["call_1", "call_10"]
        assert await store.recent_calls(limit=9, number_suffix="%") == []

    async def test_since_and_until_keep_calls_recorded_in_between(
        self, repository: Repository
    ) -> None:
        """A window around now holds the call; one in the past does not."""
        await repository.upsert_call(Call(call_id="call_1"))
        store = reads(repository)
        now = datetime.now(UTC)
        around = await store.recent_calls(
            limit=9, since=now - timedelta(hours=1), until=now + timedelta(hours=1)
        )
        assert [e.call.call_id for e in around] == ["call_1"]
        assert await store.recent_calls(limit=9, until=now - timedelta(hours=1)) == []


class TestLookups:
    """Batches of calls, tool calls, links, appointments and customers by key."""

    async def test_batches_return_what_is_stored_and_leave_out_the_unknown(
        self, repository: Repository
    ) -> None:
        """Known keys come back, unknown ones are left out, nothing is duplicated."""
        appointment_id = await a_booking(repository, "uid-1")
        await repository.upsert_call(Call(call_id="call_1", agent_id="agent"))
        await repository.link(
            CallLink(
                call_id="call_1",
                appointment_id=appointment_id,
                relationship=Relationship.ORIGINAL,
                linked_at=NOON,
                metadata={"k": "v"},
            )
        )
        await a_result(repository, "call_1", "collect_appointment_data", "booked", at=NOON)
        await a_result(
            repository, "call_1", "confirm_existing", "confirmed", at=NOON + timedelta(minutes=1)
        )
        store = reads(repository)
        calls = await store.calls_by_id(["call_1", "call_1", "nobody"])
        assert [(e.call.call_id, e.call.agent_id) for e in calls] == [("call_1", "agent")]
        records = await store.tool_calls_of(["call_1", "nobody"])
        assert [(r.key.tool, r.status) for r in records] == [
            ("collect_appointment_data", "booked"),
            ("confirm_existing", "confirmed"),
        ]
        links = await store.links_of_calls(["call_1"])
        assert [(link.appointment_id, link.metadata) for link in links] == [
            (appointment_id, {"k": "v"})
        ]
        assert [a.booking_uid for a in await store.appointments_by_uid(["uid-1", "x"])] == ["uid-1"]
        by_id = await store.appointments_by_id([appointment_id, 999_999])
        assert [a.id for a in by_id] == [appointment_id]
        customers = await store.customers_by_id([by_id[0].customer_id, 999_999])
        assert [c.name for c in customers] == ["Max"]


class TestPeriodOutcomes:
    """The daily numbers, counted in the store, agree with ``stats``."""

    async def test_periods_count_as_stats_counts(self, repository: Repository) -> None:
        """Bookings, duplicates, errors, distinct calls and orphaned calls per day match
        ``daily_stats`` over the same records."""
        linked_id = await a_booking(repository, "uid-linked")
        await a_booking(repository, "uid-other", phone="+4917098765432")
        await repository.link(
            CallLink(
                call_id="call_a",
                appointment_id=linked_id,
                relationship=Relationship.ORIGINAL,
                linked_at=NOON,
            )
        )
        day_two = NOON + timedelta(days=1)
        await a_result(
            repository, "call_a", "collect_appointment_data", "booked", at=NOON, uid="uid-linked"
        )
        await a_result(
            repository, "call_b", "collect_appointment_data", "existing", at=NOON, uid="uid-linked"
        )
        await a_result(repository, "call_b", "check_availability", "available", at=NOON, digest="e")
        await a_result(
            repository, "call_c", "confirm_existing", "confirmed", at=day_two, uid="uid-other"
        )
        await a_result(
            repository, "call_c", "collect_appointment_data", "conflict", at=day_two, digest="f"
        )
        abandoned = ToolCallKey(call_id="call_d", tool="cancel_appointment", args_digest="g")
        await repository.claim_tool_call(abandoned, now=day_two, lease=LEASE)
        await repository.abandon_tool_call(abandoned)
        running = ToolCallKey(call_id="call_e", tool="cancel_appointment", args_digest="h")
        await repository.claim_tool_call(running, now=day_two, lease=LEASE)

        days = [NOON.astimezone(BERLIN).date() + timedelta(days=n) for n in range(4)]
        periods = await reads(repository).period_outcomes([day_start(d, BERLIN) for d in days])
        expected = await daily_stats(
            repository, days=3, zone=BERLIN, now=day_start(days[-1], BERLIN) - timedelta(hours=1)
        )

        assert len(periods) == 3
        for period, day in zip(periods, expected, strict=True):
            assert period.start == day_start(day.date, BERLIN)
            assert period.calls == day.calls
            assert period.statuses.get("booked", 0) == day.bookings
            assert period.statuses.get("existing", 0) == day.duplicates
            assert period.statuses.get("conflict", 0) == day.conflicts
            assert period.statuses.get("error", 0) == day.errors
            assert period.orphaned_calls == day.orphaned_calls
        assert (periods[0].calls, periods[0].orphaned_calls) == (2, 1)
        assert periods[1].statuses == {"confirmed": 1, "conflict": 1, "error": 1}
        assert (periods[1].calls, periods[1].orphaned_calls) == (3, 1)
        assert periods[2].calls == 0

    async def test_a_single_period_and_bad_edges(self, repository: Repository) -> None:
        """Two edges make one period; fewer, or edges out of order, are refused."""
        await a_result(repository, "call_a", "collect_appointment_data", "booked", at=NOON)
        store = reads(repository)
        [only] = await store.period_outcomes([NOON - timedelta(hours=1), NOON + timedelta(hours=1)])
        assert only.statuses == {"booked": 1}
        with pytest.raises(ValueError, match="ascending"):
            await store.period_outcomes([NOON])
        with pytest.raises(ValueError, match="ascending"):
            await store.period_outcomes([NOON, NOON - timedelta(hours=1)])
