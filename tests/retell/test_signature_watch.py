"""A wrong ``RETELL_API_KEY`` makes every request 401; ``serve`` says so once, in the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from agent_backend import RETELL_KEY, World, open_world

from retell_booking_tools.repository.factory import open_repository
from retell_booking_tools.retell.signature import sign
from retell_booking_tools.retell.signature_watch import WARN_AFTER, masked_key

WRONG_KEY = "key_signed_with_another_account_7f3a"
LOGGER = "retell_booking_tools.retell.signature_watch"


@pytest.fixture(name="world")
async def fixture_world() -> AsyncIterator[World]:
    repository = await open_repository("memory://")
    async with open_world(repository) as world:
        yield world
    await repository.close()


async def _post(world: World, *, key: str | None) -> int:
    call = world.retell.call_object("call_1", from_number="+4915112345678")
    body = world.retell.body("find_appointments", {}, call)
    if key is None:
        response = await world.retell.post("find_appointments", body, signed=False)
    else:
        signature = sign(body, key, at=world.clock())
        response = await world.retell.post("find_appointments", body, signature=signature)
    return response.status_code


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


async def test_a_run_of_failed_signatures_logs_one_warning_with_the_masked_key(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests signed with another key: all 401, and after a few, one warning."""
    caplog.set_level(logging.WARNING, logger=LOGGER)

    codes = [await _post(world, key=WRONG_KEY) for _ in range(WARN_AFTER - 1)]
    assert _warnings(caplog) == []
    codes += [await _post(world, key=WRONG_KEY) for _ in range(WARN_AFTER * 2)]

    assert set(codes) == {401}
    (warning,) = _warnings(caplog)
    message = warning.getMessage()
    assert masked_key(RETELL_KEY) in message
    assert RETELL_KEY not in message
    assert "marked for webhooks" in message
    assert "401" in message


async def test_a_verified_request_starts_the_count_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Occasional forgeries between real requests are not a wrong key."""
    caplog.set_level(logging.WARNING, logger=LOGGER)

    for _ in range(3):
        for _ in range(WARN_AFTER - 1):
            assert await _post(world, key=WRONG_KEY) == 401
        assert await _post(world, key=RETELL_KEY) == 200

    assert _warnings(caplog) == []


async def test_unsigned_requests_do_not_count(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Scanners send unsigned requests; Retell never does."""
    caplog.set_level(logging.WARNING, logger=LOGGER)

    for _ in range(WARN_AFTER * 2):
        assert await _post(world, key=None) == 401

    assert _warnings(caplog) == []


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("key_0123456789abcdef7f3a", "key_…7f3a"),
        ("retell_test_key", "retell_…_key"),
        ("0123456789abcdef", "…cdef"),
        ("short_key", "***"),
    ],
)
def test_a_masked_key_shows_its_prefix_and_last_four_characters(key: str, masked: str) -> None:
    assert masked_key(key) == masked
