"""Fixtures for recorded Retell HTTP: a retell-sdk client whose requests are a cassette.

Replay (the default, and CI) never touches the network. Recording (``RETELL_BOOKING_RECORD=1``,
see ``tests/retell/record_cassettes.py``) talks to the Retell API emulator served on
loopback, or to a real account when ``RETELL_API_KEY`` and ``RETELL_LLM_ID`` are set; the
LLM's ``general_tools`` and ``states`` are seeded before each cassette and restored
afterwards, outside the cassettes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import httpx
import pytest
from retell import AsyncRetell
from retell_cassettes import (
    EMULATOR_API_KEY,
    EMULATOR_LLM_ID,
    RECORDING,
    RECORDING_REAL_RETELL,
    REPLAY_API_KEY,
    RetellRecording,
    retell_vcr,
)
from vcr.cassette import Cassette

from retell_booking_tools.testing import RetellApiEmulator, serve_asgi


@attrs.frozen
class Exchange:
    """One request retell-sdk sent and what came back, as seen by the client."""

    method: str
    path: str
    query: str
    sent: Any
    status: int
    received: Any


@attrs.define
class RecordedRetell:
    """A client, the LLM it works on, and every exchange it made inside the cassette."""

    client: AsyncRetell
    llm_id: str
    exchanges: list[Exchange] = attrs.Factory(list)


Recorded = Callable[..., contextlib.AbstractAsyncContextManager[RecordedRetell]]


@pytest.fixture(name="retell_recording", scope="session")
def fixture_retell_recording() -> RetellRecording:
    if not RECORDING:
        return RetellRecording.load()
    if RECORDING_REAL_RETELL:
        llm_id = os.environ.get("RETELL_LLM_ID")
        if not llm_id:
            pytest.exit("recording against Retell needs RETELL_LLM_ID (a scratch Retell LLM)")
        api_url = os.environ.get("RETELL_BASE_URL", "https://api.retellai.com")
        recording = RetellRecording.now(
            recorded_against=f"Retell at {httpx.URL(api_url).host} (a real account)",
            api_url=api_url,
            llm_id=llm_id,
        )
    else:
        recording = RetellRecording.now(
            recorded_against=(
                "retell_booking_tools.testing.RetellApiEmulator served by uvicorn over HTTP "
                "on 127.0.0.1"
            ),
            api_url="http://127.0.0.1",
            llm_id=EMULATOR_LLM_ID,
        )
    recording.save()
    return recording


def _client(api_key: str, api_url: str, exchanges: list[Exchange]) -> AsyncRetell:
    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        exchanges.append(
            Exchange(
                method=request.method,
                path=request.url.path,
                query=request.url.query.decode(),
                sent=json.loads(request.content) if request.content else None,
                status=response.status_code,
                received=response.json() if response.content else None,
            )
        )

    http_client = httpx.AsyncClient(event_hooks={"response": [on_response]})
    return AsyncRetell(api_key=api_key, base_url=api_url, max_retries=0, http_client=http_client)


@pytest.fixture(name="recorded")
def fixture_recorded(retell_recording: RetellRecording) -> Recorded:
    """``async with recorded("name", seed=[...]) as retell``: retell-sdk over that cassette.

    ``seed`` and ``states`` are the LLM's ``general_tools`` and ``states`` when the cassette
    starts (set only while recording; on replay the cassette already holds them).
    ``api_key`` overrides the key used while recording. On replay, every recorded
    interaction must be requested.
    """

    @contextlib.asynccontextmanager
    async def recorded(
        name: str,
        *,
        seed: list[dict[str, Any]] | None = None,
        states: list[dict[str, Any]] | None = None,
        api_key: str | None = None,
    ) -> AsyncIterator[RecordedRetell]:
        async with contextlib.AsyncExitStack() as stack:
            api_url = retell_recording.api_url
            key = REPLAY_API_KEY
            secrets: list[str] = []
            if RECORDING:
                key = os.environ["RETELL_API_KEY"] if RECORDING_REAL_RETELL else EMULATOR_API_KEY
                secrets = [key]
                if not RECORDING_REAL_RETELL:
                    emulator = RetellApiEmulator(api_key=EMULATOR_API_KEY)
                    emulator.add_llm(EMULATOR_LLM_ID, general_prompt="You book appointments.")
                    api_url = await stack.enter_async_context(serve_asgi(emulator.asgi_app))
                setup = AsyncRetell(api_key=key, base_url=api_url, max_retries=0)
                stack.push_async_callback(setup.close)
                original = await setup.llm.with_raw_response.retrieve(retell_recording.llm_id)
                stack.push_async_callback(
                    _restore, setup, retell_recording.llm_id, await original.json()
                )
                if seed is not None or states is not None:
                    await setup.llm.update(
                        retell_recording.llm_id,
                        general_tools=seed or [],
                        states=states or [],
                        starting_state=states[0]["name"] if states else None,
                    )
            exchanges: list[Exchange] = []
            handle = RecordedRetell(
                client=_client(api_key or key, api_url, exchanges),
                llm_id=retell_recording.llm_id,
                exchanges=exchanges,
            )
            stack.push_async_callback(handle.client.close)
            recorder = retell_vcr(secrets=[*secrets, api_key or ""])
            cassette: Cassette = stack.enter_context(recorder.use_cassette(f"{name}.yaml"))
            yield handle
            if not RECORDING:
                assert cassette.all_played, (
                    f"{name}.yaml: {len(cassette) - cassette.play_count} recorded "
                    "interaction(s) were never requested; re-record the cassettes"
                )

    return recorded


async def _restore(client: AsyncRetell, llm_id: str, original: dict[str, Any]) -> None:
    """Give a real LLM its tools and states back, outside any cassette."""
    await client.llm.update(
        llm_id,
        general_tools=original.get("general_tools") or [],
        states=original.get("states") or [],
        starting_state=original.get("starting_state"),
    )
