"""A store that fails is never a 5xx: the caller hears ``error`` or what really happened."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from agent_backend import CALLER, World, open_world

from retell_booking_tools.domain import (
    NO_FACTS,
    Call,
    Invocation,
    ResultFacts,
    ToolCallClaim,
    ToolCallKey,
)
from retell_booking_tools.errors import RepositoryError
from retell_booking_tools.repository.memory import InMemoryRepository
from retell_booking_tools.repository.postgres import PostgresRepository


class FailingStore(InMemoryRepository):
    """The in-memory store whose ledger writes fail while ``failing`` names them."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[str] = set()

    async def claim_tool_call(
        self, key: ToolCallKey, *, now: Any, lease: timedelta, call: Call | None = None
    ) -> ToolCallClaim:
        if "claim" in self.failing:
            raise RepositoryError("claim_tool_call failed: OperationalError: connection lost")
        return await super().claim_tool_call(key, now=now, lease=lease, call=call)

    async def claim_invocation(
        self,
        key: ToolCallKey,
        invocation: Invocation,
        *,
        now: Any,
        lease: timedelta,
        call: Call | None = None,
    ) -> tuple[ToolCallKey, ToolCallClaim]:
        if "claim" in self.failing:
            raise RepositoryError("claim_invocation failed: OperationalError: connection lost")
        return await super().claim_invocation(key, invocation, now=now, lease=lease, call=call)

    async def finish_tool_call(
        self, key: ToolCallKey, result: dict[str, Any], *, now: Any, facts: ResultFacts = NO_FACTS
    ) -> None:
        if "finish" in self.failing:
            raise RepositoryError("finish_tool_call failed: OperationalError: connection lost")
        await super().finish_tool_call(key, result, now=now, facts=facts)


class TestFailingStore:
    """The ledger failing around a tool call."""

    async def test_store_failing_before_the_tool_runs_answers_error_200(self) -> None:
        """Nothing started: ``error`` with wording that confirms nothing, no Cal.com request."""
        store = FailingStore()
        async with open_world(store) as world:
            store.failing.add("claim")

            response = await world.call_tool(
                "collect_appointment_data",
                {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"},
                call_id="call_1",
            )

            assert response.status_code == 200
            assert response.json()["status"] == "error"
            assert "haven't confirmed anything" in response.json()["message"]
            assert world.booking_posts() == 0

    async def test_result_that_cannot_be_recorded_is_still_what_happened(self) -> None:
        """A booking made but not recorded answers ``booked``; the retry finds the same one."""
        store = FailingStore()
        async with open_world(store) as world:
            store.failing.add("finish")
            first = await world.book("call_1")
            store.failing.clear()
            world.clock.advance(timedelta(seconds=61))
            again = await world.book("call_1")

            assert first["status"] == "booked"
            assert again["status"] == "booked"
            assert again["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
            assert world.calcom.created_bookings_count() == 1

    async def test_call_event_the_store_cannot_take_is_503_for_retell_to_retry(self) -> None:
        """Retell delivers a call event again after a non-2xx; nothing is half-stored."""
        store = FailingStore()

        async def fail(call: Call) -> Call:
            raise RepositoryError("upsert_call failed: OperationalError: connection lost")

        async with open_world(store) as world:
            store.upsert_call = fail  # type: ignore[method-assign]
            call = world.retell.call_object("call_1", from_number=CALLER)

            response = await world.retell.call_event("call_started", call=call)

            assert response.status_code == 503


WEEKDAYS = ("2025-10-10", "2025-10-13", "2025-10-14")
HOURS = tuple(f"{hour:02d}:00" for hour in range(9, 17))


@pytest.mark.postgres
class TestTerminatedSessions:
    """PostgreSQL sessions terminated mid-load (a failover, a restart): no 5xx, no double."""

    async def test_terminated_sessions_mid_run_give_no_5xx_and_book_each_slot_once(
        self, databases: Any, postgres_url: str
    ) -> None:
        """Every answer is 200; every ``booked`` is real; retries finish every booking once."""
        database = databases.create("postgres")
        application = f"rbt_faults_{uuid.uuid4().hex[:12]}"
        repository = PostgresRepository.pooled(
            f"{database.url}?application_name={application}", schema=database.schema
        )
        slots = [(day, hour) for day in WEEKDAYS for hour in HOURS]
        try:
            async with open_world(repository) as world:
                stop = asyncio.Event()
                killer = asyncio.create_task(_terminate_sessions(postgres_url, application, stop))
                try:
                    first = await asyncio.gather(
                        *(_book(world, index, day, hour) for index, (day, hour) in enumerate(slots))
                    )
                finally:
                    stop.set()
                    terminated = await killer
                answers = list(first)
                for index, (day, hour) in enumerate(slots):
                    if answers[index]["status"] != "booked":
                        world.clock.advance(timedelta(seconds=61))
                        answers[index] = await _book(world, index, day, hour)
                held = {booking.uid for booking in world.calcom.bookings}
        finally:
            await repository.close()

        assert terminated > 0
        assert all(answer["status"] == "booked" for answer in answers), answers
        assert {answer["appointment"]["booking_uid"] for answer in answers} <= held
        assert world.calcom.created_bookings_count() == len(slots)
        assert all(answer["status"] in ("booked", "error", "pending") for answer in first)

    async def test_sessions_ended_while_pooled_still_book_the_next_call_at_once(
        self, databases: Any, postgres_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The server ends every idle session (a restart, an idle timeout): the next call
        books at its first delivery, its store work tried once more on fresh connections."""
        database = databases.create("postgres")
        application = f"rbt_idle_{uuid.uuid4().hex[:12]}"
        repository = PostgresRepository.pooled(
            f"{database.url}?application_name={application}", schema=database.schema
        )
        try:
            async with open_world(repository) as world:
                before = await _book(world, 0, WEEKDAYS[0], HOURS[0])
                ended = await _terminate_idle_sessions(postgres_url, application)
                with caplog.at_level("WARNING"):
                    after = await _book(world, 1, WEEKDAYS[0], HOURS[1])
                uid = after.get("appointment", {}).get("booking_uid", "")
                stored = await repository.get_appointment_by_uid(uid)
        finally:
            await repository.close()

        assert before["status"] == "booked"
        assert ended >= 2  # the query pool's connection and the lock pool's at least
        assert after["status"] == "booked", after
        assert stored is not None
        assert world.calcom.created_bookings_count() == 2
        assert any("retrying once on a fresh connection" in m for m in caplog.messages)


async def _terminate_idle_sessions(postgres_url: str, application: str) -> int:
    """``pg_terminate_backend`` once on every session of the app, waiting until each ended."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application,),
        )
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _book(world: World, index: int, day: str, hour: str) -> dict[str, Any]:
    response = await world.call_tool(
        "collect_appointment_data",
        {"customer_name": f"Caller {index}", "date": day, "time": hour},
        call_id=f"call_{index}",
        from_number=f"+49151{index + 10_000_000:08d}",
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _terminate_sessions(postgres_url: str, application: str, stop: asyncio.Event) -> int:
    """``pg_terminate_backend`` on the app's sessions (by application name) until ``stop``."""
    import psycopg

    terminated = 0
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as admin:
        while not stop.is_set():
            cursor = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (application,),
            )
            row = await cursor.fetchone()
            terminated += int(row[0]) if row else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
    return terminated
