"""A server process killed while Cal.com is booking for it: another replica finishes the job."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from replicas import Cluster, relationships, weekdays_ahead

from retell_booking_tools.booking.records import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import Relationship
from retell_booking_tools.repository import Repository
from retell_booking_tools.testing import Fault, FaultKind

# Server processes each hold a pool of connections: one cluster at a time, on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("multiprocess")]

PHONE = "+4915112345678"


async def until_calcom_holds_a_booking(cluster: Cluster) -> None:
    """Cal.com has committed the booking; its answer is still stalled."""
    async with asyncio.timeout(30):
        while True:
            if cluster.emulator.bookings:
                return
            await asyncio.sleep(0.02)


async def test_a_call_whose_server_died_mid_booking_is_recorded_once_as_booked_by_another(
    cluster: Cluster, repository: Repository
) -> None:
    """SIGKILL after Cal.com committed, before the answer: the retry hears `booked`, once."""
    cluster.emulator.inject(
        Fault(kind=FaultKind.TIMEOUT_AFTER_COMMIT, method="POST", path="/v2/bookings")
    )
    args = {"customer_name": "Max Mustermann", "date": weekdays_ahead(1)[0].isoformat()}
    args["time"] = "11:00"
    in_flight = asyncio.create_task(cluster.deliver(0, "call_1", args, from_number=PHONE))
    await until_calcom_holds_a_booking(cluster)

    cluster.replicas[0].kill()
    with pytest.raises(httpx.TransportError):
        await in_flight
    retried = await cluster.deliver(1, "call_1", args, from_number=PHONE)
    replayed = await cluster.deliver(1, "call_1", args, from_number=PHONE)

    answer = retried.json()
    assert answer["status"] == "booked", answer
    assert replayed.json() == answer
    [booking] = cluster.emulator.bookings
    assert booking.is_active
    assert booking.metadata[CALL_ID_METADATA_KEY] == "call_1"
    assert answer["appointment"]["booking_uid"] == booking.uid
    assert cluster.booking_posts() == 1
    assert await relationships(repository, "call_1") == [(booking.uid, Relationship.ORIGINAL)]
