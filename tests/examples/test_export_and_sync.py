"""``examples/export_and_sync.py`` syncs the tools into a Retell LLM (the emulator here)."""

from __future__ import annotations

import pytest
from example_scripts import load_example

from retell_booking_tools.testing import RetellApiEmulator, serve_asgi
from retell_booking_tools.tools import ALL_TOOLS

BASE_URL = "https://agent.example.com"


async def test_export_and_sync_dry_run_against_the_bundled_emulator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("export_and_sync")

    assert await example.run(["--base-url", BASE_URL, "--emulator", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert "      end_call: kept" in out
    for tool in ALL_TOOLS:
        assert f"    + {tool.name}: added" in out
    assert out.rstrip().endswith("dry run: nothing was written; a sync would write version 0")


async def test_export_and_sync_updates_an_llm_publishes_its_agent_and_keeps_other_tools(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as a user would, with RETELL_API_KEY and the API URL of a (here emulated) Retell."""
    example = load_example("export_and_sync")
    emulator = RetellApiEmulator(api_key="key_example_sync")
    emulator.add_llm("llm_shop", general_tools=[{"type": "end_call", "name": "end_call"}])
    emulator.add_agent("agent_shop", llm_id="llm_shop")
    monkeypatch.setenv("RETELL_API_KEY", "key_example_sync")
    async with serve_asgi(emulator.asgi_app) as url:
        base = ["--base-url", BASE_URL, "--llm-id", "llm_shop", "--retell-api-url", url]
        assert await example.run([*base, "--dry-run", "--publish-agent", "agent_shop"]) == 0
        untouched = emulator.llm("llm_shop")["general_tools"]
        assert await example.run([*base, "--publish-agent", "agent_shop"]) == 0

    assert untouched == [{"type": "end_call", "name": "end_call"}]
    names = [tool["name"] for tool in emulator.llm("llm_shop")["general_tools"]]
    assert names == ["end_call", *(tool.name for tool in ALL_TOOLS)]
    assert emulator.agent("agent_shop")["is_published"]
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith("updated: wrote version 0 and published agent agent_shop version 0")
    )
