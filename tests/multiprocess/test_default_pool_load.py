"""Two replicas with the default pool size under 200 mixed concurrent calls: never a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from replicas import Replica, replica_environment, retell_for, weekdays_ahead

from retell_booking_tools.testing import (
    BusinessHours,
    CalcomEmulator,
    EventTypeSpec,
    RetellSimulator,
    serve_asgi,
)

if TYPE_CHECKING:
    from conftest import Database

# Server processes each hold a pool of connections: one cluster at a time, on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("multiprocess")]

EVENT_TYPE_ID = 2563193
CALCOM_KEY = "cal_test_emulator_key"
RETELL_KEY = "retell_test_key"
BOOKINGS = 100
LOOKUPS = 50
AVAILABILITY = 50
RETRY_ROUNDS = 5
_BOOK = "collect_appointment_data"
_UNSETTLED = ("error", "pending")


@pytest.fixture(name="default_replicas")
async def fixture_default_replicas(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[CalcomEmulator, list[Replica], list[RetellSimulator]]]:
    """Two replicas configured as the README's defaults say (no pool size set)."""
    emulator = CalcomEmulator(api_key=CALCOM_KEY, rate_limit_per_minute=100_000)
    emulator.add_event_type(
        EventTypeSpec(
            id=EVENT_TYPE_ID,
            title="Beratung",
            length_minutes=60,
            timezone="Europe/Berlin",
            business_hours=BusinessHours(
                weekdays=frozenset(range(5)), opens=time(9), closes=time(17)
            ),
        )
    )
    async with serve_asgi(emulator.asgi_app) as calcom_url:
        env = replica_environment(
            database_url=f"{database.url}?options=-csearch_path%3D{database.schema}",
            calcom_url=calcom_url,
            calcom_key=CALCOM_KEY,
            retell_key=RETELL_KEY,
            event_type_id=EVENT_TYPE_ID,
        )
        env.pop("RETELL_BOOKING_DATABASE_POOL_SIZE")
        replicas = [Replica.start(f"default-{n}", env, tmp_path) for n in range(2)]
        try:
            for replica in replicas:
                await replica.wait_healthy()
            retells = [retell_for(replica, RETELL_KEY) for replica in replicas]
            try:
                yield emulator, replicas, retells
            finally:
                for retell in retells:
                    await retell.aclose()
        finally:
            for replica in replicas:
                replica.kill()
            emulator.close()


async def test_two_default_replicas_answer_200_mixed_concurrent_calls_without_a_5xx(
    default_replicas: tuple[CalcomEmulator, list[Replica], list[RetellSimulator]],
) -> None:
    """Bookings, look-ups and availability at once: every answer 200, every slot once."""
    emulator, replicas, retells = default_replicas
    slots = [
        (day.isoformat(), f"{hour:02d}:00") for day in weekdays_ahead(13) for hour in range(9, 17)
    ]
    calls: list[tuple[str, dict[str, Any], str, str]] = []
    for n in range(BOOKINGS):
        day, hour = slots[n]
        args = {"customer_name": f"Caller {n}", "date": day, "time": hour}
        calls.append(("collect_appointment_data", args, f"book_{n}", _phone(n)))
    for n in range(LOOKUPS):
        calls.append(("find_appointments", {}, f"find_{n}", _phone(n)))
    for n in range(AVAILABILITY):
        calls.append(("check_availability", {"date": slots[n][0]}, f"avail_{n}", _phone(n)))

    async def deliver(
        index: int, tool: str, args: dict[str, Any], call_id: str, phone: str
    ) -> httpx.Response:
        retell = retells[index % 2]
        call = retell.call_object(call_id, from_number=phone)
        return await retell.function_call(tool, args, call=call)

    responses = await asyncio.gather(
        *(deliver(i, *call) for i, call in enumerate(calls)), return_exceptions=True
    )

    logs = "\n".join(replica.output() for replica in replicas)
    failures = [r for r in responses if not isinstance(r, httpx.Response) or r.status_code != 200]
    assert failures == [], logs[-5000:]
    answers = [r.json() for r in responses if isinstance(r, httpx.Response)]
    booked = [
        a
        for a, c in zip(answers, calls, strict=True)
        if c[0] == "collect_appointment_data" and a["status"] == "booked"
    ]
    active = [booking for booking in emulator.bookings if booking.is_active]
    assert emulator.created_bookings_count() == len(active)
    assert len({booking.start for booking in active}) == len(active)
    assert {a["appointment"]["booking_uid"] for a in booked} <= {b.uid for b in active}
    assert "too many clients" not in logs

    # Retell delivers an unfinished answer again (through either replica): every booking
    # caller ends up hearing the truth, `booked` exactly when Cal.com holds their booking.
    final = {c[2]: a for a, c in zip(answers, calls, strict=True) if c[0] == _BOOK}
    by_call = {c[2]: (i, c) for i, c in enumerate(calls) if c[0] == _BOOK}
    for _ in range(RETRY_ROUNDS):
        unsettled = [call_id for call_id, a in final.items() if a["status"] in _UNSETTLED]
        if not unsettled:
            break
        await asyncio.sleep(0.5)
        retried = await asyncio.gather(
            *(deliver(by_call[c][0] + 1, *by_call[c][1]) for c in unsettled)
        )
        assert [r.status_code for r in retried] == [200] * len(retried)
        final.update({c: r.json() for c, r in zip(unsettled, retried, strict=True)})
    held = {b.metadata.get("retell_call_id"): b.uid for b in emulator.bookings if b.is_active}
    assert emulator.created_bookings_count() == len(held)
    wrong = {
        call_id: answer["status"]
        for call_id, answer in final.items()
        if (answer["status"] == "booked") != (call_id in held) or answer["status"] in _UNSETTLED
    }
    assert wrong == {}, logs[-5000:]
    assert all(final[c]["appointment"]["booking_uid"] == uid for c, uid in held.items())


def _phone(n: int) -> str:
    return f"+49151{n + 20_000_000:08d}"
