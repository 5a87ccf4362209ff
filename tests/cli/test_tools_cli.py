"""``retell-booking-tools tools export``: a JSON array an operator pastes or pipes into Retell."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from retell_cassettes import COMMITTED, REPLAY_API_KEY, RetellRecording, retell_vcr
from typer.testing import CliRunner

from retell_booking_tools.cli import app
from retell_booking_tools.retell import export_tools
from retell_booking_tools.testing import RetellApiEmulator, serve_asgi
from retell_booking_tools.tools import ALL_TOOLS


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def test_tools_export_prints_every_tool_as_a_json_array() -> None:
    """Stdout is exactly the library's export, parseable JSON and nothing else."""
    code, out, _ = _run(["tools", "export", "--base-url", "https://agent.example.com/"])

    assert code == 0
    assert json.loads(out) == export_tools("https://agent.example.com")
    assert [tool["name"] for tool in json.loads(out)] == [tool.name for tool in ALL_TOOLS]


def test_tools_export_picks_tools_and_format() -> None:
    """``--tools`` selects by name; ``--format conversation-flow`` adds tool ids."""
    code, out, _ = _run(
        [
            "tools",
            "export",
            "--base-url",
            "https://agent.example.com",
            "--format",
            "conversation-flow",
            "--tools",
            "confirm_existing",
        ]
    )

    assert code == 0
    (tool,) = json.loads(out)
    assert tool["name"] == tool["tool_id"] == "confirm_existing"


def test_tools_export_refuses_an_unknown_tool_in_one_line() -> None:
    """A typo exits non-zero naming the tool, with nothing on stdout."""
    code, out, err = _run(
        ["tools", "export", "--base-url", "https://a.example", "--tools", "confirm_existing,nope"]
    )

    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "nope" in err


def test_tools_export_refuses_an_unknown_format() -> None:
    """Only the two formats Retell has are accepted."""
    code, out, err = _run(
        ["tools", "export", "--base-url", "https://a.example", "--format", "openai"]
    )

    assert code != 0
    assert out == ""
    assert "general-tools" in err


# -- tools sync, over the recorded Retell HTTP ------------------------------------------------


def _sync(cassette: str, args: list[str], **env: str) -> tuple[int, str, str]:
    recording = RetellRecording.load(COMMITTED)
    environment = {
        "RETELL_API_KEY": REPLAY_API_KEY,
        "RETELL_BASE_URL": recording.api_url,
        **env,
    }
    with retell_vcr(record=False, library=COMMITTED).use_cassette(f"{cassette}.yaml"):
        result = CliRunner().invoke(app, ["tools", "sync", *args], env=environment)
    return result.exit_code, result.stdout, result.stderr


def test_tools_sync_dry_run_prints_the_diff_and_writes_nothing() -> None:
    """The recorded LLM lacks collect_appointment_data and holds a stale confirm_existing."""
    recording = RetellRecording.load(COMMITTED)
    args = ["--llm-id", recording.llm_id, "--base-url", "https://agent.example.com", "--dry-run"]

    code, out, _ = _sync("sync_dry_run", args)

    assert code == 0, out
    assert "    + collect_appointment_data: added" in out
    assert "    ~ confirm_existing: changed (" in out
    assert "      lookup_order: kept" in out
    assert out.rstrip().endswith("dry run: nothing was written; a sync would write version 0")


def test_tools_sync_writes_the_llm_and_says_a_draft_is_not_live_yet() -> None:
    """Written to an unpublished version: no ``updated``, and how to publish it."""
    recording = RetellRecording.load(COMMITTED)
    args = ["--llm-id", recording.llm_id, "--base-url", "https://agent.example.com"]

    code, out, _ = _sync("sync_replaces_and_keeps", args)

    assert code == 0, out
    assert "wrote version 0, a draft" in out
    assert "updated" not in out
    assert out.rstrip().endswith("(tools sync --publish-agent AGENT_ID)")


def test_tools_sync_of_an_unknown_llm_exits_nonzero_in_one_line() -> None:
    args = ["--llm-id", "llm_does_not_exist_0000", "--base-url", "https://a.example"]

    code, out, err = _sync("sync_unknown_llm", args)

    assert code != 0
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "llm_does_not_exist_0000" in err


def test_tools_sync_without_an_api_key_names_the_variable() -> None:
    args = ["--llm-id", "llm_x", "--base-url", "https://a.example", "--dry-run"]

    code, _, err = _sync("sync_dry_run", args, RETELL_API_KEY="")

    assert code == 2
    assert "RETELL_API_KEY" in err


# -- tools sync, against the Retell API emulator ----------------------------------------------

EMULATOR_KEY = "key_cli_emulated_0000"
BASE_URL = "https://agent.example.com"
STATES = [
    {
        "name": "greeting",
        "state_prompt": "Greet.",
        "edges": [{"destination_state_name": "booking", "description": "Wants a booking."}],
    },
    {"name": "booking", "state_prompt": "Book.", "tools": []},
]


@pytest.fixture(name="emulator")
def fixture_emulator() -> Iterator[tuple[RetellApiEmulator, str]]:
    """The emulator served over HTTP from a thread of its own, as a remote Retell would be."""
    emulator = RetellApiEmulator(api_key=EMULATOR_KEY)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    address: list[str] = []

    async def serve() -> None:
        async with serve_asgi(emulator.asgi_app) as url:
            address.append(url)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield emulator, address[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def _sync_emulated(url: str, args: list[str]) -> tuple[int, str, str]:
    environment = {"RETELL_API_KEY": EMULATOR_KEY, "RETELL_BASE_URL": url}
    result = CliRunner().invoke(
        app, ["tools", "sync", "--base-url", BASE_URL, *args], env=environment
    )
    return result.exit_code, result.stdout, result.stderr


def test_tools_sync_puts_missing_tools_into_the_named_state(
    emulator: tuple[RetellApiEmulator, str],
) -> None:
    retell, url = emulator
    retell.add_llm("llm_cli", general_tools=[], states=STATES, starting_state="greeting")

    code, out, err = _sync_emulated(url, ["--llm-id", "llm_cli", "--state", "booking"])

    assert code == 0, err
    assert "  state:booking" in out
    assert retell.llm("llm_cli")["general_tools"] == []
    names = [tool["name"] for tool in retell.llm("llm_cli")["states"][1]["tools"]]
    assert names == [tool.name for tool in ALL_TOOLS]


def test_tools_sync_publishes_the_agent_when_asked(emulator: tuple[RetellApiEmulator, str]) -> None:
    retell, url = emulator
    retell.add_llm("llm_cli")
    retell.add_agent("agent_cli", llm_id="llm_cli")

    code, out, err = _sync_emulated(url, ["--llm-id", "llm_cli", "--publish-agent", "agent_cli"])

    assert code == 0, err
    assert out.rstrip().endswith("updated: wrote version 0 and published agent agent_cli version 0")
    assert retell.agent("agent_cli")["is_published"]


def test_tools_sync_of_a_published_version_exits_1_in_one_line_and_writes_nothing(
    emulator: tuple[RetellApiEmulator, str],
) -> None:
    retell, url = emulator
    retell.add_llm("llm_cli")
    retell.add_agent("agent_cli", llm_id="llm_cli")
    retell.publish_agent("agent_cli")

    code, out, err = _sync_emulated(url, ["--llm-id", "llm_cli"])

    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "version 0 of Retell LLM 'llm_cli' is published and cannot be changed" in err
    assert retell.llm("llm_cli")["general_tools"] is None


def test_tools_sync_updates_a_conversation_flow(emulator: tuple[RetellApiEmulator, str]) -> None:
    retell, url = emulator
    retell.add_conversation_flow("cf_cli")

    code, out, err = _sync_emulated(
        url, ["--conversation-flow-id", "cf_cli", "--tools", "confirm_existing"]
    )

    assert code == 0, err
    assert out.startswith("conversation flow cf_cli version 0 (draft)")
    (tool,) = retell.conversation_flow("cf_cli")["tools"]
    assert tool["tool_id"] == "confirm_existing"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--llm-id", "llm_x", "--conversation-flow-id", "cf_x"],
        ["--conversation-flow-id", "cf_x", "--state", "booking"],
    ],
)
def test_tools_sync_needs_one_target_and_states_only_for_llms(args: list[str]) -> None:
    """Usage mistakes exit 2 before anything is read."""
    result = CliRunner().invoke(
        app, ["tools", "sync", "--base-url", BASE_URL, *args], env={"RETELL_API_KEY": "key_x"}
    )

    assert result.exit_code == 2
    assert result.stdout == ""
