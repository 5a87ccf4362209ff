"""The HTTP edge as Retell and attackers see it: signatures, shapes, retries."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from agent_backend import RETELL_KEY, World

from retell_booking_tools.config import DEFAULT_MAX_BODY_BYTES as MAX_BODY_BYTES
from retell_booking_tools.retell.signature import sign

ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


def _body(world: World, call_id: str = "call_1", args: dict[str, str] = ARGS) -> bytes:
    call = world.retell.call_object(call_id, from_number="+4915112345678")
    return world.retell.body("collect_appointment_data", args, call)


async def test_unsigned_request_is_401_and_reaches_no_one(world: World) -> None:
    response = await world.retell.post("collect_appointment_data", _body(world), signed=False)

    assert response.status_code == 401
    assert world.calcom.requests == []
    assert await world.repository.get_call("call_1") is None


async def test_forged_signature_is_401(world: World) -> None:
    forged = sign(_body(world), "not-the-key", at=world.clock())

    response = await world.retell.post("collect_appointment_data", _body(world), signature=forged)

    assert response.status_code == 401
    assert world.calcom.requests == []


async def test_signature_of_other_bytes_is_401(world: World) -> None:
    """The signature covers the raw body: a re-serialised or altered body does not verify."""
    signature = sign(_body(world), RETELL_KEY, at=world.clock())
    altered = _body(world).replace(b"11:00", b"12:00")

    response = await world.retell.post("collect_appointment_data", altered, signature=signature)

    assert response.status_code == 401


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)])
async def test_stale_or_future_signature_is_401(world: World, age: timedelta) -> None:
    """A captured request replayed outside the five-minute window is refused."""
    stale = sign(_body(world), RETELL_KEY, at=world.clock() - age)

    response = await world.retell.post("collect_appointment_data", _body(world), signature=stale)

    assert response.status_code == 401
    assert world.calcom.requests == []


async def test_unknown_tool_is_404(world: World) -> None:
    body = world.retell.body("delete_everything", {}, world.retell.call_object("call_1"))

    response = await world.retell.post("delete_everything", body)

    assert response.status_code == 404


async def test_malformed_json_is_400(world: World) -> None:
    response = await world.retell.post("collect_appointment_data", b'{"call": {"call_id": ')

    assert response.status_code == 400
    assert world.calcom.requests == []


async def test_body_without_call_is_400(world: World) -> None:
    response = await world.retell.post("collect_appointment_data", b'{"args": {}}')

    assert response.status_code == 400


async def test_oversized_body_is_413(world: World) -> None:
    notes = "x" * MAX_BODY_BYTES
    huge = json.dumps({"call": {"call_id": "c"}, "args": {"notes": notes}}).encode()

    response = await world.retell.post("collect_appointment_data", huge)

    assert response.status_code == 413


async def test_retried_delivery_replays_the_first_result_and_books_once(world: World) -> None:
    body = _body(world)
    first = await world.retell.post("collect_appointment_data", body)
    world.clock.advance(timedelta(seconds=5))
    again = await world.retell.post("collect_appointment_data", body)

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1
    assert world.booking_posts() == 1


async def test_concurrent_identical_deliveries_book_once_with_identical_answers(
    world: World,
) -> None:
    body = _body(world)
    responses = await asyncio.gather(
        *(world.retell.post("collect_appointment_data", body) for _ in range(5))
    )

    answers = [r.json() for r in responses]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["status"] == "booked"
    assert world.calcom.created_bookings_count() == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({**ARGS, "date": "2025-13-45"}, "date"),
        ({**ARGS, "date": "tomorrow"}, "date"),
        ({**ARGS, "date": "2025-10-01"}, "date"),
        ({**ARGS, "date": "2031-10-10"}, "date"),
        ({**ARGS, "time": "25:00"}, "time"),
        ({**ARGS, "time": "11 o'clock"}, "time"),
        ({**ARGS, "date": "2025-10-08", "time": "20:00"}, "time"),
        ({**ARGS, "date": "2026-03-29", "time": "02:30"}, "time"),
        ({"date": "2025-10-10", "time": "11:00"}, "customer_name"),
        ({**ARGS, "customer_name": "   "}, "customer_name"),
        ({**ARGS, "email": "not-an-email"}, "email"),
        ({**ARGS, "phone": "12"}, "phone"),
    ],
)
async def test_invalid_arguments_name_the_field_and_reach_no_calcom(
    world: World, args: dict[str, str], field: str
) -> None:
    answer = await world.call_tool("collect_appointment_data", args, call_id="call_1")

    assert answer.status_code == 200
    assert answer.json()["status"] == "invalid"
    assert answer.json()["field"] == field
    assert world.calcom.requests == []


async def test_caller_without_number_or_email_is_asked_for_a_phone(world: World) -> None:
    answer = await world.call_tool(
        "collect_appointment_data", ARGS, call_id="web_1", from_number=None
    )

    assert answer.json()["status"] == "invalid"
    assert answer.json()["field"] == "phone"
    assert world.calcom.requests == []


async def test_confirm_existing_links_the_call_as_confirmation(world: World) -> None:
    first = await world.book("call_682")
    world.clock.advance(timedelta(hours=20))
    existing = await world.book("call_766")
    uid = existing["appointment"]["booking_uid"]

    response = await world.call_tool("confirm_existing", {"booking_uid": uid}, call_id="call_766")

    assert response.json()["status"] == "confirmed"
    assert response.json()["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
    links = await world.repository.links_for_call("call_766")
    assert [link.relationship.value for link in links] == ["duplicate_attempt", "confirmation"]


async def test_confirm_existing_of_another_customers_booking_is_answered_like_an_unknown_one(
    world: World,
) -> None:
    """The same ``not_found`` and words as for a uid nobody holds, and no link."""
    first = await world.book("call_1")
    uid = first["appointment"]["booking_uid"]

    response = await world.call_tool(
        "confirm_existing", {"booking_uid": uid}, call_id="call_2", from_number="+4917098765432"
    )
    unknown = await world.call_tool(
        "confirm_existing", {"booking_uid": "no-such-booking"}, call_id="call_3"
    )

    assert response.json() == unknown.json()
    assert response.json()["status"] == "not_found"
    assert "appointment" not in response.json()
    assert await world.repository.links_for_call("call_2") == []


async def test_confirm_existing_of_unknown_booking_is_not_found(world: World) -> None:
    response = await world.call_tool(
        "confirm_existing", {"booking_uid": "no-such-booking"}, call_id="call_1"
    )

    assert response.json()["status"] == "not_found"


async def test_healthz_answers_ok(world: World) -> None:
    response = await world.retell._client.get("/healthz")

    assert response.status_code == 200
