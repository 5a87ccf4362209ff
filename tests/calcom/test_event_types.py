"""``CalcomClient.get_event_type``: whether an account has an event type, against the emulator."""

from __future__ import annotations

import pytest

from retell_booking_tools.calcom.client import EVENT_TYPES_API_VERSION, CalcomClient
from retell_booking_tools.calcom.errors import CalcomAuthError, CalcomNotFound
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec

KEY = "cal_test_event_types_0123456789"
BASE_URL = "https://api.cal.example/v2"


@pytest.fixture(name="emulator")
def fixture_emulator() -> CalcomEmulator:
    emulator = CalcomEmulator(api_key=KEY)
    emulator.add_event_type(EventTypeSpec(id=2563193, title="Beratung", length_minutes=60))
    return emulator


def _client(emulator: CalcomEmulator, key: str = KEY) -> CalcomClient:
    return CalcomClient(
        api_key=key, base_url=BASE_URL, transport=emulator.transport, max_attempts=1
    )


async def test_an_event_type_of_the_account_is_read_with_its_title_and_length(
    emulator: CalcomEmulator,
) -> None:
    async with _client(emulator) as calcom:
        event_type = await calcom.get_event_type(2563193)

    assert (event_type.id, event_type.title, event_type.length_in_minutes) == (
        2563193,
        "Beratung",
        60,
    )
    (request,) = emulator.requests
    assert request.path == "/v2/event-types/2563193"
    assert request.headers["cal-api-version"] == EVENT_TYPES_API_VERSION == "2024-06-14"


async def test_an_event_type_the_account_does_not_have_is_not_found(
    emulator: CalcomEmulator,
) -> None:
    async with _client(emulator) as calcom:
        with pytest.raises(CalcomNotFound, match="event-types"):
            await calcom.get_event_type(999)


async def test_another_accounts_key_is_refused_and_not_repeated(
    emulator: CalcomEmulator,
) -> None:
    other_key = "cal_test_other_account_9876543210"

    async with _client(emulator, other_key) as calcom:
        with pytest.raises(CalcomAuthError) as raised:
            await calcom.get_event_type(2563193)

    assert raised.value.status_code == 401
    assert other_key not in str(raised.value)
