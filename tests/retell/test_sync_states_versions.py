"""``sync_tools`` against the strict Retell API emulator: states, versions, publishing,
drift, strict schemas and conversation flows, as Retell keeps them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
from retell import AsyncRetell
from strict_mode_rules import strict_mode_problems

from retell_booking_tools.retell import (
    RetellSyncError,
    export_tools,
    plan_general_tools,
    sync_conversation_flow_tools,
    sync_tools,
)
from retell_booking_tools.testing import RetellApiEmulator

API_KEY = "key_emulated_sync_0000"
BASE_URL = "https://agent.example.com"
OLD_URL = "https://old-backend.example.com"
LLM = "llm_multi_state"
AGENT = "agent_reception"

END_CALL = {"type": "end_call", "name": "end_call", "description": "End the call."}
SHOP_LOOKUP = {
    "type": "custom",
    "name": "lookup_order",
    "url": "https://shop.example.com/orders",
    "description": "Look up the caller's order.",
    "headers": {"X-Shop-Token": "shop-token"},
    "parameters": {"type": "object", "properties": {}},
}


def _ours(name: str, base_url: str = BASE_URL, **options: Any) -> dict[str, Any]:
    (definition,) = export_tools(base_url, tools=[name], **options)
    return definition


def _states(*, booking_tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": "greeting",
            "state_prompt": "Greet the caller.",
            "edges": [{"destination_state_name": "booking", "description": "Wants a booking."}],
            "tools": [SHOP_LOOKUP],
        },
        {"name": "booking", "state_prompt": "Book.", "tools": booking_tools},
    ]


@attrs.frozen
class Retell:
    emulator: RetellApiEmulator
    client: AsyncRetell

    def writes(self) -> list[str]:
        return [
            f"{r.method} {r.path}?{r.query}" for r in self.emulator.requests if r.method != "GET"
        ]


@pytest.fixture(name="retell")
async def fixture_retell() -> AsyncIterator[Retell]:
    emulator = RetellApiEmulator(api_key=API_KEY)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(emulator.asgi_app))
    client = AsyncRetell(
        api_key=API_KEY, base_url="http://retell.test", max_retries=0, http_client=http
    )
    yield Retell(emulator, client)
    await client.close()


def _multi_state(retell: Retell, **fields: Any) -> None:
    stale = _ours("confirm_existing", OLD_URL)
    retell.emulator.add_llm(
        LLM,
        general_tools=[END_CALL],
        states=_states(booking_tools=[stale]),
        starting_state="greeting",
        **fields,
    )


def _sync(retell: Retell, **options: Any) -> Any:
    options.setdefault("tools", ["confirm_existing", "collect_appointment_data"])
    return sync_tools(LLM, BASE_URL, client=retell.client, **options)


class TestStates:
    """Our tools are updated where they live; nothing is copied, nothing else is touched."""

    async def test_our_tool_in_a_state_is_updated_there_and_not_copied_to_general_tools(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)

        report = await _sync(retell, tools=["confirm_existing"])

        llm = retell.emulator.llm(LLM)
        assert llm["general_tools"] == [END_CALL]
        assert llm["states"][1]["tools"] == [_ours("confirm_existing")]
        assert [(c.name, c.kind, c.location) for c in report.changes] == [
            ("end_call", "kept", "general_tools"),
            ("lookup_order", "kept", "state:greeting"),
            ("confirm_existing", "changed", "state:booking"),
        ]
        assert "  state:booking" in report.diff_lines()
        assert "    ~ confirm_existing: changed (url)" in report.diff_lines()

    async def test_missing_tools_go_to_general_tools_unless_a_state_is_named(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)

        placed = await _sync(retell, state="booking")

        llm = retell.emulator.llm(LLM)
        assert [tool["name"] for tool in llm["states"][1]["tools"]] == [
            "confirm_existing",
            "collect_appointment_data",
        ]
        assert llm["general_tools"] == [END_CALL]
        assert ("collect_appointment_data", "added", "state:booking") in [
            (c.name, c.kind, c.location) for c in placed.changes
        ]
        retell.emulator.add_llm("llm_single", general_tools=[END_CALL])
        await sync_tools("llm_single", BASE_URL, client=retell.client, tools=["confirm_existing"])
        assert retell.emulator.llm("llm_single")["general_tools"] == [
            END_CALL,
            _ours("confirm_existing"),
        ]

    async def test_every_tool_prompt_and_edge_of_others_stays_exactly_as_it_was(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        before = retell.emulator.llm(LLM)

        await _sync(retell, state="booking")

        after = retell.emulator.llm(LLM)
        assert after["general_tools"] == before["general_tools"]
        assert after["states"][0] == before["states"][0]
        assert {key: value for key, value in after["states"][1].items() if key != "tools"} == {
            key: value for key, value in before["states"][1].items() if key != "tools"
        }
        assert after["starting_state"] == "greeting"

    async def test_only_the_states_are_written_when_only_a_state_changes(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)

        await _sync(retell, tools=["confirm_existing"])

        (update,) = [r for r in retell.emulator.requests if r.method == "PATCH"]
        assert update.body is not None
        assert set(update.body) == {"states"}

    async def test_an_unknown_state_is_refused_naming_the_states(self, retell: Retell) -> None:
        _multi_state(retell)

        with pytest.raises(RetellSyncError, match=r"greeting, booking"):
            await _sync(retell, state="checkout")

        assert retell.writes() == []

    def test_two_copies_of_our_tool_are_refused_naming_both_places(self) -> None:
        """Retell would refuse the LLM anyway; the sync says where the copies are."""
        from retell_booking_tools.retell_admin.plan import plan_places

        copy = _ours("confirm_existing")
        with pytest.raises(RetellSyncError, match=r"general_tools and state:booking"):
            plan_places(
                [("general_tools", [copy]), ("state:booking", [copy])],
                [_ours("confirm_existing")],
            )

    async def test_the_emulator_refuses_a_tool_name_used_by_general_and_state_tools(
        self, retell: Retell
    ) -> None:
        """As Retell does: names are unique across general tools, state tools and edges."""
        _multi_state(retell)

        with pytest.raises(Exception, match="unique across general tools, state tools"):
            await retell.client.llm.update(LLM, general_tools=[END_CALL, SHOP_LOOKUP])
        with pytest.raises(Exception, match="transition_to_booking"):
            await retell.client.llm.update(
                LLM, general_tools=[{**END_CALL, "name": "transition_to_booking"}]
            )

    def test_plan_general_tools_still_plans_a_single_prompt_llm(self) -> None:
        """The documented pure planner keeps its shape."""
        merged, changes = plan_general_tools([END_CALL], [_ours("confirm_existing")])

        assert merged == [END_CALL, _ours("confirm_existing")]
        assert [(c.name, c.kind) for c in changes] == [
            ("end_call", "kept"),
            ("confirm_existing", "added"),
        ]


class TestVersions:
    """A published version is never written; a draft is never reported as live."""

    async def test_a_published_latest_version_is_refused_and_nothing_is_written(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        retell.emulator.publish_agent(AGENT)

        with pytest.raises(RetellSyncError) as refused:
            await _sync(retell)

        message = str(refused.value)
        assert "version 0 of Retell LLM 'llm_multi_state' is published" in message
        assert "nothing was written" in message
        assert "new draft version" in message
        assert retell.writes() == []

    async def test_the_dry_run_of_a_published_version_says_a_sync_would_be_refused(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        retell.emulator.publish_agent(AGENT)

        report = await _sync(retell, dry_run=True)

        assert report.is_published
        assert report.refused
        assert not report.updated
        assert report.diff_lines()[0] == "Retell LLM llm_multi_state version 0 (published)"
        assert report.diff_lines()[-1].endswith(
            "dry run: nothing was written; a sync would be refused: version 0 is published"
        )
        assert retell.writes() == []

    async def test_a_write_to_a_draft_says_so_and_never_says_updated(self, retell: Retell) -> None:
        _multi_state(retell)

        report = await _sync(retell)

        assert report.updated
        assert report.published is None
        outcome = report.diff_lines()[-1]
        assert "updated" not in outcome
        assert "wrote version 0, a draft" in outcome
        assert "--publish-agent" in outcome

    async def test_publish_agent_publishes_after_writing_and_the_report_says_so(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)

        report = await _sync(retell, publish_agent=AGENT)

        assert retell.writes() == [
            f"PATCH /update-retell-llm/{LLM}?version=0",
            f"POST /publish-agent-version/{AGENT}?",
        ]
        assert retell.emulator.agent(AGENT)["is_published"]
        assert retell.emulator.llm(LLM)["is_published"]
        assert retell.emulator.llm(LLM)["states"][1]["tools"][0] == _ours("confirm_existing")
        assert report.published is not None
        assert (report.published.agent_id, report.published.version) == (AGENT, 0)
        assert report.diff_lines()[-1].endswith(
            "updated: wrote version 0 and published agent agent_reception version 0"
        )

    async def test_the_dry_run_with_publish_agent_says_what_would_happen_and_changes_nothing(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        before = retell.emulator.llm(LLM)

        report = await _sync(retell, publish_agent=AGENT, dry_run=True)

        assert report.diff_lines()[-1].endswith(
            "dry run: nothing was written; a sync would write version 0 and publish agent "
            "agent_reception"
        )
        assert retell.writes() == []
        assert retell.emulator.llm(LLM) == before
        assert not retell.emulator.agent(AGENT)["is_published"]

    async def test_a_new_draft_is_synced_and_published_while_the_published_one_is_kept(
        self, retell: Retell
    ) -> None:
        """The workflow the README describes: publish, make a new draft, sync it, publish."""
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        retell.emulator.publish_agent(AGENT)
        published = retell.emulator.llm(LLM, version=0)
        draft = await retell.client.agent.create_version(AGENT, base_version=0)

        report = await _sync(retell, publish_agent=AGENT)

        assert draft.version == 1
        assert report.version == 1
        assert retell.emulator.llm(LLM, version=0) == published
        assert retell.emulator.llm(LLM, version=1)["states"][1]["tools"][0] == _ours(
            "confirm_existing"
        )
        assert retell.emulator.agent(AGENT, version=1)["is_published"]
        assert f"PATCH /update-retell-llm/{LLM}?version=1" in retell.writes()

    async def test_an_agent_on_another_llm_is_refused_before_anything_is_written(
        self, retell: Retell
    ) -> None:
        _multi_state(retell)
        retell.emulator.add_llm("llm_other")
        retell.emulator.add_agent(AGENT, llm_id="llm_other")

        with pytest.raises(RetellSyncError, match="does not use Retell LLM 'llm_multi_state'"):
            await _sync(retell, publish_agent=AGENT)

        assert retell.writes() == []

    async def test_an_agent_on_an_older_version_of_the_llm_is_refused_before_writing(
        self, retell: Retell
    ) -> None:
        """Publishing it would not make the version the sync writes live."""
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        retell.emulator.add_agent("agent_old", llm_id=LLM)
        retell.emulator.new_agent_version(AGENT)

        with pytest.raises(RetellSyncError, match=r"uses version 0 of .*, not version 1"):
            await _sync(retell, publish_agent="agent_old")

        assert retell.writes() == []

    async def test_an_up_to_date_draft_is_still_published_when_asked(self, retell: Retell) -> None:
        """A sync without publishing, then one with it: the second publishes, writes nothing."""
        _multi_state(retell)
        retell.emulator.add_agent(AGENT, llm_id=LLM)
        await _sync(retell)

        report = await _sync(retell, publish_agent=AGENT)

        assert not report.updated
        assert retell.emulator.agent(AGENT)["is_published"]
        assert report.diff_lines()[-1].endswith(
            "already up to date: nothing was written; published agent agent_reception version 0"
        )


DRIFT = [
    ("method", {"method": "GET"}),
    ("args_at_root", {"args_at_root": True}),
    ("parameter_type", {"parameter_type": "form"}),
    ("headers", {"headers": {"X-Debug": "1"}}),
    ("query_params", {"query_params": {"debug": "1"}}),
]


class TestDrift:
    """A dashboard edit of how Retell calls a tool of ours is repaired and named."""

    @pytest.mark.parametrize(("field", "edit"), DRIFT, ids=[field for field, _ in DRIFT])
    async def test_a_dashboard_edit_is_repaired_and_named_in_the_diff(
        self, retell: Retell, field: str, edit: dict[str, Any]
    ) -> None:
        ours = _ours("confirm_existing")
        retell.emulator.add_llm(LLM, general_tools=[END_CALL, {**ours, **edit}])

        report = await _sync(retell, tools=["confirm_existing"])

        assert retell.emulator.llm(LLM)["general_tools"] == [END_CALL, ours]
        assert f"    ~ confirm_existing: changed ({field})" in report.diff_lines()
        again = await _sync(retell, tools=["confirm_existing"])
        assert not again.has_changes

    async def test_a_stored_tool_that_leaves_out_retells_defaults_is_unchanged(
        self, retell: Retell
    ) -> None:
        """No drift where Retell stores its default instead of echoing ours."""
        ours = _ours("confirm_existing")
        stored = {
            key: value for key, value in ours.items() if key not in ("method", "args_at_root")
        }
        retell.emulator.add_llm(LLM, general_tools=[stored])

        report = await _sync(retell, tools=["confirm_existing"])

        assert not report.has_changes


class TestStrictMode:
    """An LLM with ``tool_call_strict_mode`` on gets strict schemas."""

    async def test_strict_mode_llms_get_strict_schemas_and_the_diff_says_so(
        self, retell: Retell
    ) -> None:
        retell.emulator.add_llm(
            LLM, general_tools=[_ours("confirm_existing")], tool_call_strict_mode=True
        )

        report = await _sync(retell, tools=["confirm_existing"])

        (tool,) = retell.emulator.llm(LLM)["general_tools"]
        assert tool == _ours("confirm_existing", strict=True)
        assert strict_mode_problems(tool["parameters"]) == []
        assert report.strict
        assert report.diff_lines()[0].endswith(", strict schemas")
        assert "    ~ confirm_existing: changed (parameters)" in report.diff_lines()


FLOW = "conversation_flow_reception"


class TestConversationFlows:
    """A flow's tools are synced; its nodes and every other tool stay as they were."""

    def _flow(self, retell: Retell) -> None:
        stale = {
            **_ours("confirm_existing", OLD_URL, format="conversation-flow"),
            "tool_id": "tool-7f3a",
        }
        nodes = [
            {
                "id": "start",
                "type": "conversation",
                "instruction": {"type": "prompt", "text": "Hi"},
            },
            {"id": "confirm", "type": "function", "tool_id": "tool-7f3a", "wait_for_result": True},
            {"id": "shop", "type": "function", "tool_id": "tool-shop", "wait_for_result": True},
        ]
        other = {**SHOP_LOOKUP, "tool_id": "tool-shop"}
        retell.emulator.add_conversation_flow(
            FLOW, nodes=nodes, tools=[other, stale], start_node_id="start"
        )

    async def test_a_flows_tools_are_synced_and_its_nodes_left_untouched(
        self, retell: Retell
    ) -> None:
        self._flow(retell)
        before = retell.emulator.conversation_flow(FLOW)

        report = await sync_conversation_flow_tools(
            FLOW, BASE_URL, client=retell.client, tools=["confirm_existing", "find_appointments"]
        )

        after = retell.emulator.conversation_flow(FLOW)
        assert after["nodes"] == before["nodes"]
        assert after["tools"][0] == before["tools"][0]
        ours = _ours("confirm_existing", format="conversation-flow")
        assert after["tools"][1] == {**ours, "tool_id": "tool-7f3a"}
        assert after["tools"][2] == _ours("find_appointments", format="conversation-flow")
        assert [(c.name, c.kind, c.location) for c in report.changes] == [
            ("lookup_order", "kept", "tools"),
            ("confirm_existing", "changed", "tools"),
            ("find_appointments", "added", "tools"),
        ]
        assert report.diff_lines()[0] == f"conversation flow {FLOW} version 0 (draft)"
        (update,) = [r for r in retell.emulator.requests if r.method == "PATCH"]
        assert update.body is not None
        assert set(update.body) == {"tools"}
        assert update.query == "version=0"

    async def test_a_published_flow_version_is_refused(self, retell: Retell) -> None:
        self._flow(retell)
        retell.emulator.add_agent(AGENT, conversation_flow_id=FLOW)
        retell.emulator.publish_agent(AGENT)

        with pytest.raises(
            RetellSyncError, match="conversation flow 'conversation_flow_reception' is published"
        ):
            await sync_conversation_flow_tools(FLOW, BASE_URL, client=retell.client)

    async def test_a_flow_is_published_through_its_agent(self, retell: Retell) -> None:
        self._flow(retell)
        retell.emulator.add_agent(AGENT, conversation_flow_id=FLOW)

        report = await sync_conversation_flow_tools(
            FLOW, BASE_URL, client=retell.client, publish_agent=AGENT
        )

        assert report.published is not None
        assert retell.emulator.conversation_flow(FLOW)["is_published"]
