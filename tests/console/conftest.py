"""Fixtures of the console tests: the whole backend with a console password, per store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from agent_backend import World, open_world
from console_client import PASSWORD
from pydantic import SecretStr

from retell_booking_tools.repository.protocol import Repository


@pytest.fixture(name="world")
async def fixture_world(repository: Repository) -> AsyncIterator[World]:
    async with open_world(repository, console_password=SecretStr(PASSWORD)) as world:
        yield world


@pytest.fixture(name="browser")
async def fixture_browser(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that keeps cookies, as a browser does, not yet signed in."""
    transport = httpx.ASGITransport(app=world.http._transport.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        yield client
