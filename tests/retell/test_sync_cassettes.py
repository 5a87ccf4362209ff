"""``sync_tools`` against recorded retell-sdk HTTP: only our tools change, the rest is untouched.

Each test names its cassette in ``tests/cassettes/retell``; ``tests/cassettes/README.md``
says what they were recorded against and how to re-record against a real account.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from retell_cassettes import COMMITTED, EMULATOR_API_KEY, REPLAY_API_KEY, RetellRecording

from retell_booking_tools.retell import RetellSyncError, export_tools, sync_tools

if TYPE_CHECKING:
    from conftest import Recorded

BASE_URL = "https://agent.example.com"
SYNCED = ["collect_appointment_data", "confirm_existing"]
"""The tools these cassettes cover; more tools in the package do not change them."""

END_CALL = {
    "type": "end_call",
    "name": "end_call",
    "description": "End the call when the caller says goodbye.",
}
STALE_CONFIRM = {
    "type": "custom",
    "name": "confirm_existing",
    "url": "https://old-backend.example.com/retell/functions/confirm_existing",
    "description": "Outdated definition.",
    "parameters": {"type": "object", "properties": {}},
    "speak_during_execution": False,
}
SHOP_LOOKUP = {
    "type": "custom",
    "name": "lookup_order",
    "url": "https://shop.example.com/orders",
    "description": "Look up the caller's order.",
    "headers": {"X-Shop-Token": "shop-secret-token-1234"},
    "parameters": {
        "type": "object",
        "properties": {"order_number": {"type": "string", "description": "As said."}},
        "required": ["order_number"],
    },
    "speak_during_execution": True,
    "timeout_ms": 8000,
}
SEED = [END_CALL, STALE_CONFIRM, SHOP_LOOKUP]


def _kinds(report: Any) -> list[tuple[str, str]]:
    return [(change.name, change.kind) for change in report.changes]


def _ours(name: str) -> dict[str, Any]:
    (definition,) = export_tools(BASE_URL, tools=[name])
    return definition


async def test_sync_replaces_ours_in_place_appends_missing_and_keeps_the_rest(
    recorded: Recorded,
) -> None:
    """Only ``general_tools`` is sent; other tools arrive byte for byte as Retell had them."""
    async with recorded("sync_replaces_and_keeps", seed=SEED) as retell:
        report = await sync_tools(retell.llm_id, BASE_URL, client=retell.client, tools=SYNCED)

    retrieve, update = retell.exchanges
    assert (retrieve.method, retrieve.path) == ("GET", f"/get-retell-llm/{retell.llm_id}")
    assert (update.method, update.path) == ("PATCH", f"/update-retell-llm/{retell.llm_id}")
    assert update.query == f"version={retrieve.received['version']}"
    assert update.status == 200
    before = retrieve.received["general_tools"]
    sent = update.sent["general_tools"]
    assert set(update.sent) == {"general_tools"}
    assert [tool["name"] for tool in sent] == [
        "end_call",
        "confirm_existing",
        "lookup_order",
        "collect_appointment_data",
    ]
    assert sent[0] == before[0]
    assert sent[2] == before[2]
    assert sent[1] == _ours("confirm_existing")
    assert sent[3] == _ours("collect_appointment_data")
    assert update.received["general_tools"] == sent
    assert report.updated
    assert _kinds(report) == [
        ("end_call", "kept"),
        ("confirm_existing", "changed"),
        ("lookup_order", "kept"),
        ("collect_appointment_data", "added"),
    ]
    assert "url" in report.changes[1].fields
    assert list(report.general_tools) == sent


async def test_a_second_sync_finds_everything_up_to_date_and_writes_nothing(
    recorded: Recorded,
) -> None:
    """Idempotent: after a sync, the next one only reads."""
    async with recorded("sync_twice", seed=SEED) as retell:
        await sync_tools(retell.llm_id, BASE_URL, client=retell.client, tools=SYNCED)
        again = await sync_tools(retell.llm_id, BASE_URL, client=retell.client, tools=SYNCED)

    assert [exchange.method for exchange in retell.exchanges] == ["GET", "PATCH", "GET"]
    assert not again.updated
    assert _kinds(again) == [
        ("end_call", "kept"),
        ("confirm_existing", "unchanged"),
        ("lookup_order", "kept"),
        ("collect_appointment_data", "unchanged"),
    ]
    assert "already up to date" in again.diff_lines()[-1]


async def test_dry_run_shows_the_diff_and_only_reads(recorded: Recorded) -> None:
    """``dry_run`` reports what would change; no PATCH leaves the client."""
    async with recorded("sync_dry_run", seed=SEED) as retell:
        report = await sync_tools(
            retell.llm_id, BASE_URL, client=retell.client, tools=SYNCED, dry_run=True
        )

    assert [exchange.method for exchange in retell.exchanges] == ["GET"]
    assert not report.updated
    assert ("collect_appointment_data", "added") in _kinds(report)
    lines = report.diff_lines()
    assert lines[0] == f"Retell LLM {retell.llm_id} version {report.version} (draft)"
    assert "  general_tools" in lines
    assert "    + collect_appointment_data: added" in lines
    assert any(line.startswith("    ~ confirm_existing: changed (") for line in lines)
    assert "      lookup_order: kept" in lines
    assert lines[-1] == (
        "1 added, 1 changed, 0 unchanged, 2 kept; dry run: nothing was written; "
        f"a sync would write version {report.version}"
    )


BOOKING_STATES = [
    {
        "name": "greeting",
        "state_prompt": "Greet the caller.",
        "edges": [{"destination_state_name": "booking", "description": "Wants a booking."}],
    },
    {"name": "booking", "state_prompt": "Book the appointment.", "tools": [STALE_CONFIRM]},
]


async def test_a_multi_state_llm_is_updated_in_its_state_and_only_states_are_sent(
    recorded: Recorded,
) -> None:
    """Our tool in ``states[1].tools`` is replaced there; a missing one joins that state."""
    async with recorded("sync_states", seed=[END_CALL], states=BOOKING_STATES) as retell:
        report = await sync_tools(
            retell.llm_id, BASE_URL, client=retell.client, tools=SYNCED, state="booking"
        )

    retrieve, update = retell.exchanges
    assert set(update.sent) == {"states"}
    greeting, booking = update.sent["states"]
    assert greeting == retrieve.received["states"][0]
    assert booking["tools"] == [_ours("confirm_existing"), _ours("collect_appointment_data")]
    assert booking.get("edges") == retrieve.received["states"][1].get("edges")
    assert booking["state_prompt"] == retrieve.received["states"][1]["state_prompt"]
    assert update.received["general_tools"] == retrieve.received["general_tools"]
    assert [(c.name, c.kind, c.location) for c in report.changes] == [
        ("end_call", "kept", "general_tools"),
        ("confirm_existing", "changed", "state:booking"),
        ("collect_appointment_data", "added", "state:booking"),
    ]


async def test_an_unknown_llm_is_a_sync_error_naming_it(recorded: Recorded) -> None:
    async with recorded("sync_unknown_llm") as retell:
        with pytest.raises(RetellSyncError, match=r"no LLM 'llm_does_not_exist_0000' \(404\)"):
            await sync_tools("llm_does_not_exist_0000", BASE_URL, client=retell.client)

    assert [exchange.status for exchange in retell.exchanges] == [404]


async def test_a_refused_api_key_is_a_sync_error_that_does_not_echo_it(
    recorded: Recorded,
) -> None:
    async with recorded("sync_refused_key", api_key="key_not_a_real_key_0000") as retell:
        with pytest.raises(RetellSyncError, match="401") as raised:
            await sync_tools(retell.llm_id, BASE_URL, client=retell.client)

    assert "key_not_a_real_key" not in str(raised.value)
    assert "RETELL_API_KEY" in str(raised.value)


# -- cassette hygiene -------------------------------------------------------------------------


def _committed() -> list[Path]:
    return sorted(COMMITTED.glob("*.yaml"))


def test_retell_cassettes_are_committed() -> None:
    """Every scenario above replays from a committed cassette."""
    names = {path.stem for path in _committed()}
    assert names >= {
        "sync_replaces_and_keeps",
        "sync_twice",
        "sync_dry_run",
        "sync_unknown_llm",
        "sync_refused_key",
        "sync_states",
    }


@pytest.mark.parametrize("path", _committed(), ids=lambda path: path.stem)
def test_committed_retell_cassette_holds_no_api_key_or_personal_data(path: Path) -> None:
    """No authorization header, no key of any kind, no other tool's header values."""
    text = path.read_text()
    cassette = yaml.safe_load(text)

    assert "authorization" not in text.lower()
    assert "bearer" not in text.lower()
    for key in (REPLAY_API_KEY, EMULATOR_API_KEY, "key_not_a_real_key_0000"):
        assert key not in text
    assert re.search(r"\bkey_[A-Za-z0-9]{8,}", text) is None
    assert "shop-secret-token" not in text
    assert re.search(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", text) is None
    for interaction in cassette["interactions"]:
        assert not any(
            name.lower().startswith("x-stainless") for name in interaction["request"]["headers"]
        )


def test_recording_notes_say_what_the_cassettes_were_recorded_against() -> None:
    """``recording.json`` and the README agree on where the cassettes come from."""
    recording = RetellRecording.load(COMMITTED)
    readme = (COMMITTED.parent / "README.md").read_text()

    assert recording.recorded_against
    assert f"retell-sdk {recording.retell_sdk_version}" in readme
    assert recording.recorded_on in readme
