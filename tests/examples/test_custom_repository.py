"""``examples/custom_repository.py``: passes the Repository contract and serves a booking.

The contract tests that take the ``repository`` fixture run here against the example's
store (the others build their own backends and say nothing about it).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pytest
from example_scripts import load_example, next_business_day
from pydantic import SecretStr

from retell_booking_tools import Repository, Settings, build_runtime, create_app
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, RetellSimulator

EXAMPLE = load_example("custom_repository")


def _contract_tests() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "repository" / "test_contract.py"
    spec = importlib.util.spec_from_file_location("repository_contract_for_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: test
        for name, test in vars(module).items()
        if name.startswith("test_") and set(inspect.signature(test).parameters) == {"repository"}
    }


CONTRACT = _contract_tests()
globals().update(CONTRACT)


@pytest.fixture(name="repository")
def fixture_repository() -> Repository:
    """The example's store, fresh for each contract test."""
    return EXAMPLE.CrmRepository()


def test_the_contract_suite_runs_here() -> None:
    """The subset is substantial, so a broken example store cannot slip through."""
    assert len(CONTRACT) >= 15
    assert isinstance(EXAMPLE.CrmRepository(), Repository)


async def test_a_booking_through_the_example_store_reaches_the_crm_feed() -> None:
    """The tool books, and the CRM sees the call and its ``original`` link."""
    emulator = CalcomEmulator(api_key="cal_example")
    emulator.add_event_type(EventTypeSpec(id=7, title="Consultation", timezone="Europe/Berlin"))
    store = EXAMPLE.CrmRepository()
    settings = Settings(
        calcom_api_key=SecretStr("cal_example"),
        calcom_event_type_id=7,
        retell_api_key=SecretStr("key_example"),
        database_url="memory://",
        timezone="Europe/Berlin",
    )
    runtime = await build_runtime(settings, repository=store, calcom_transport=emulator.transport)
    try:
        async with RetellSimulator.for_app(
            create_app(runtime=runtime), api_key="key_example"
        ) as retell:
            args = {
                "customer_name": "Max Mustermann",
                "date": next_business_day().isoformat(),
                "time": "11:00",
            }
            call = retell.call_object("call_crm", from_number="+4915112345678")
            response = await retell.function_call("collect_appointment_data", args, call=call)
    finally:
        await runtime.aclose()

    assert response.json()["status"] == "booked"
    links = [entry for entry in store.activity if entry["kind"] == "link"]
    assert [(entry["call_id"], entry["relationship"]) for entry in links] == [
        ("call_crm", "original")
    ]
