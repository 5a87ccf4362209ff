"""The Retell API emulator keeps versions, states, flows and agents as Retell does, seen
through retell-sdk itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import httpx
import pytest
import retell
from retell import AsyncRetell

from retell_booking_tools.testing import RetellApiEmulator

API_KEY = "key_emulator_tests_0000"
END_CALL = {"type": "end_call", "name": "end_call"}
STATES = [
    {
        "name": "greeting",
        "state_prompt": "Greet.",
        "edges": [{"destination_state_name": "booking", "description": "Wants a booking."}],
    },
    {"name": "booking", "state_prompt": "Book.", "tools": [END_CALL]},
]


@attrs.frozen
class Api:
    emulator: RetellApiEmulator
    client: AsyncRetell


@pytest.fixture(name="api")
async def fixture_api() -> AsyncIterator[Api]:
    emulator = RetellApiEmulator(api_key=API_KEY)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(emulator.asgi_app))
    client = AsyncRetell(
        api_key=API_KEY, base_url="http://retell.test", max_retries=0, http_client=http
    )
    yield Api(emulator, client)
    await client.close()


async def test_a_wrong_key_is_401(api: Api) -> None:
    api.emulator.add_llm("llm_a")
    other = AsyncRetell(
        api_key="key_wrong_0000",
        base_url="http://retell.test",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(api.emulator.asgi_app)),
    )

    with pytest.raises(retell.AuthenticationError):
        await other.llm.retrieve("llm_a")
    await other.close()


async def test_reads_and_updates_take_a_version_and_default_to_the_latest(api: Api) -> None:
    api.emulator.add_llm("llm_a", general_prompt="v0")
    api.emulator.add_agent("agent_a", llm_id="llm_a")
    api.emulator.new_agent_version("agent_a")

    await api.client.llm.update("llm_a", general_prompt="draft", version=1)

    assert (await api.client.llm.retrieve("llm_a")).general_prompt == "draft"
    assert (await api.client.llm.retrieve("llm_a", version=0)).general_prompt == "v0"
    with pytest.raises(retell.NotFoundError):
        await api.client.llm.retrieve("llm_a", version=7)


async def test_a_published_version_refuses_updates_and_stays_as_it_was(api: Api) -> None:
    api.emulator.add_llm("llm_a", general_tools=[END_CALL])
    api.emulator.add_agent("agent_a", llm_id="llm_a")
    api.emulator.publish_agent("agent_a")

    with pytest.raises(retell.BadRequestError, match="published and cannot be updated"):
        await api.client.llm.update("llm_a", general_tools=[])

    assert api.emulator.llm("llm_a")["general_tools"] == [END_CALL]


async def test_publishing_an_agent_publishes_the_llm_version_it_uses_once(api: Api) -> None:
    api.emulator.add_llm("llm_a")
    api.emulator.add_agent("agent_a", llm_id="llm_a")

    await api.client.agent.publish("agent_a", version=0)

    assert (await api.client.agent.retrieve("agent_a")).is_published
    assert (await api.client.llm.retrieve("llm_a")).is_published
    with pytest.raises(retell.BadRequestError, match="already published"):
        await api.client.agent.publish("agent_a", version=0)


async def test_a_new_agent_version_is_a_draft_with_a_new_draft_of_its_llm(api: Api) -> None:
    api.emulator.add_llm("llm_a", general_prompt="live")
    api.emulator.add_agent("agent_a", llm_id="llm_a")
    api.emulator.publish_agent("agent_a")

    draft = await api.client.agent.create_version("agent_a", base_version=0)

    assert draft.version == 1
    assert not draft.is_published
    llm = await api.client.llm.retrieve("llm_a")
    assert (llm.version, llm.is_published, llm.general_prompt) == (1, False, "live")
    assert api.emulator.agent("agent_a")["response_engine"]["version"] == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"general_tools": [END_CALL]}, "unique across general tools, state tools"),
        ({"general_tools": [{"type": "end_call", "name": "transition_to_booking"}]}, "state edges"),
        ({"starting_state": "checkout"}, "starting_state"),
    ],
)
async def test_tool_names_are_unique_across_general_state_and_edge_tools(
    api: Api, change: dict[str, object], problem: str
) -> None:
    api.emulator.add_llm("llm_a", states=STATES, starting_state="greeting")

    with pytest.raises(retell.BadRequestError, match=problem):
        await api.client.llm.update("llm_a", **change)  # type: ignore[arg-type]


async def test_a_tool_that_is_not_a_retell_tool_is_refused(api: Api) -> None:
    api.emulator.add_llm("llm_a")

    with pytest.raises(retell.UnprocessableEntityError):
        await api.client.llm.update("llm_a", general_tools=[{"type": "custom", "name": "x"}])  # type: ignore[list-item]


async def test_a_flow_node_must_refer_to_a_tool_the_flow_has(api: Api) -> None:
    tool = {
        "type": "custom",
        "name": "t",
        "tool_id": "tool-1",
        "url": "https://x.example",
        "description": "d",
    }
    node = {"id": "call_t", "type": "function", "tool_id": "tool-1", "wait_for_result": True}
    api.emulator.add_conversation_flow("cf_a", nodes=[node], tools=[tool])

    with pytest.raises(retell.BadRequestError, match="tool-1"):
        await api.client.conversation_flow.update("cf_a", tools=[{**tool, "tool_id": "tool-2"}])  # type: ignore[list-item]

    assert api.emulator.conversation_flow("cf_a")["tools"] == [tool]
