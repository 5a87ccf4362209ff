"""``retell-booking-tools tools export``: a JSON array an operator pastes or pipes into Retell."""

from __future__ import annotations

import json

from retell_cassettes import COMMITTED, REPLAY_API_KEY, RetellRecording, retell_vcr
from typer.testing import CliRunner

from retell_booking_tools.cli import app
from retell_booking_tools.retell import export_tools
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
    assert "  + collect_appointment_data: added" in out
    assert "  ~ confirm_existing: changed (" in out
    assert "    lookup_order: kept" in out
    assert out.rstrip().endswith("dry run: nothing was written")


def test_tools_sync_updates_the_llm() -> None:
    recording = RetellRecording.load(COMMITTED)
    args = ["--llm-id", recording.llm_id, "--base-url", "https://agent.example.com"]

    code, out, _ = _sync("sync_replaces_and_keeps", args)

    assert code == 0, out
    assert out.rstrip().endswith("; updated")


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
