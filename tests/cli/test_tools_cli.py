"""``retell-booking-tools tools export``: a JSON array an operator pastes or pipes into Retell."""

from __future__ import annotations

import json

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
