"""Two server processes on one PostgreSQL: concurrent deliveries of one invocation book once."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from replicas import Cluster, relationships, weekdays_ahead

from retell_booking_tools.domain import Relationship
from retell_booking_tools.repository import PostgresRepository, Repository
from retell_booking_tools.testing import SimulatedCall

# Server processes each hold a pool of connections: one cluster at a time, on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("multiprocess")]

PHONE = "+4915112345678"
TOOL = "collect_appointment_data"


async def test_eight_concurrent_deliveries_of_one_invocation_on_two_replicas_book_once(
    cluster: Cluster, repository: Repository
) -> None:
    """Four deliveries under the invocation's id and four under a retry's new id, spread over
    both replicas: one booking, one answer, one ledger row; a new invocation books nothing."""
    args = {"customer_name": "Max Mustermann", "date": weekdays_ahead(1)[0].isoformat()}
    args["time"] = "10:00"
    call = SimulatedCall("call_1", from_number=PHONE)
    call.user_says("I would like an appointment at ten, please.")
    invocation = call.invoke(TOOL, args)
    first_object = call.call_object()
    invocation.retried_with_new_id()
    retry_object = call.call_object()
    objects = [first_object, retry_object] * 4

    async with asyncio.timeout(120):
        responses = await asyncio.gather(
            *(
                cluster.retells[n % 2].function_call(TOOL, args, call=call_object)
                for n, call_object in enumerate(objects)
            )
        )

    assert all(response.status_code == 200 for response in responses), cluster.logs()
    answers = [response.json() for response in responses]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["status"] == "booked"
    assert cluster.booking_posts() == 1
    uid = answers[0]["appointment"]["booking_uid"]
    assert await relationships(repository, "call_1") == [(uid, Relationship.ORIGINAL)]
    assert await ledger_rows(repository) == 1

    call.record_result(invocation.tool_call_id, responses[0].text, successful=True)
    call.user_says("Sorry, did that work?")
    call.invoke(TOOL, args)
    again = await cluster.retells[1].function_call(TOOL, args, call=call.call_object())

    assert again.json()["status"] == "booked"
    assert again.json()["appointment"]["booking_uid"] == uid
    assert cluster.booking_posts() == 1
    assert await ledger_rows(repository) == 2


async def ledger_rows(repository: Repository) -> int:
    assert isinstance(repository, PostgresRepository)
    async with repository.engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM tool_calls WHERE finished_at IS NOT NULL")
        return int((await connection.execute(query)).scalar_one())
