"""``tools export --business``: the tools name the business and offer its services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from json_schema_strategy import from_schema, schema_validator
from pydantic import TypeAdapter
from retell.types import llm_update_params
from strict_mode_rules import strict_mode_problems
from typer.testing import CliRunner

from retell_booking_tools.businesses import Business, Businesses, ServiceMatch, parse_businesses
from retell_booking_tools.cli import app
from retell_booking_tools.config import Settings
from retell_booking_tools.retell import export_tools
from retell_booking_tools.tools import ALL_TOOLS

BASE_URL = "https://agent.example.com"
FILE = """\
[[businesses]]
id = "praxis-spitzer"
name = "Praxis Spitzer"
agent_ids = ["agent_6f0c1d2e"]
calcom_api_key_env = "CALCOM_API_KEY_SPITZER"
timezone = "Europe/Berlin"
language = "de"

[[businesses.services]]
name = "Beratung"
aliases = ["Erstberatung"]
event_type_id = 2563193

[[businesses.services]]
name = "Nachberatung"
event_type_id = 2563194

[[businesses]]
id = "salon-ana"
name = "Salon Ana"
agent_ids = ["agent_9a8b7c6d"]
calcom_api_key_env = "CALCOM_API_KEY_ANA"
timezone = "America/New_York"
language = "en"

[[businesses.services]]
name = "Haircut"
event_type_id = 7001
"""
SERVICE_TOOLS = [tool.name for tool in ALL_TOOLS if "service" in tool.args_model.model_fields]
TOOL_NAMES = [tool.name for tool in ALL_TOOLS]


@pytest.fixture(name="spitzer")
def fixture_spitzer() -> Business:
    return parse_businesses(FILE)["praxis-spitzer"]


def _by_name(exported: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {definition["name"]: definition for definition in exported}


def test_the_tools_that_book_and_check_take_a_service() -> None:
    assert {"check_availability", "collect_appointment_data"} <= set(SERVICE_TOOLS)


@pytest.mark.parametrize("name", SERVICE_TOOLS)
def test_the_service_parameter_lists_the_businesss_services(name: str, spitzer: Business) -> None:
    (definition,) = export_tools(BASE_URL, tools=[name], business=spitzer)
    service = definition["parameters"]["properties"]["service"]

    assert service["type"] == "string"
    assert service["enum"] == ["Beratung", "Nachberatung"]
    assert "Praxis Spitzer: Beratung, Nachberatung." in service["description"]
    assert "service" not in definition["parameters"]["required"]


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_description_names_the_business(name: str, spitzer: Business) -> None:
    (plain,) = export_tools(BASE_URL, tools=[name])
    (tailored,) = export_tools(BASE_URL, tools=[name], business=spitzer)

    assert tailored["description"] == plain["description"] + (
        " The appointments are with Praxis Spitzer."
    )
    TypeAdapter(llm_update_params.GeneralToolCustomTool).validate_python(tailored, strict=True)


def test_without_a_business_the_export_is_unchanged() -> None:
    """The environment's business (no file) exports exactly what the plain export does."""
    (default,) = Businesses.from_settings(Settings(CALCOM_EVENT_TYPE_ID=42))

    assert export_tools(BASE_URL, business=default) == export_tools(BASE_URL)
    assert export_tools(BASE_URL, business=default, strict=True) == export_tools(
        BASE_URL, strict=True
    )


def test_one_service_is_offered_as_the_only_one() -> None:
    ana = parse_businesses(FILE)["salon-ana"]

    exported = _by_name(export_tools(BASE_URL, business=ana))
    service = exported["collect_appointment_data"]["parameters"]["properties"]["service"]

    assert service["enum"] == ["Haircut"]
    assert "Salon Ana offers one service: Haircut." in service["description"]


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_the_strict_export_for_a_business_passes_the_strict_mode_rules(
    name: str, spitzer: Business
) -> None:
    (definition,) = export_tools(BASE_URL, tools=[name], business=spitzer, strict=True)
    parameters = definition["parameters"]

    assert strict_mode_problems(parameters) == []
    if name in SERVICE_TOOLS:
        service = parameters["properties"]["service"]
        assert service["enum"] == ["Beratung", "Nachberatung", None]
        assert service["type"] == ["string", "null"]


@pytest.mark.parametrize("name", SERVICE_TOOLS)
def test_each_offered_service_validates_into_the_args_model(name: str, spitzer: Business) -> None:
    """What a model may send for ``service`` the tool accepts, and the business recognises."""
    tool = next(tool for tool in ALL_TOOLS if tool.name == name)
    (definition,) = export_tools(BASE_URL, tools=[name], business=spitzer, strict=True)
    parameters = definition["parameters"]
    base = {
        "customer_name": "Max Mustermann",
        "date": "2026-12-10",
        "time": "11:00",
        "booking_uid": "bT1LnExample",
    }
    for value in parameters["properties"]["service"]["enum"]:
        arguments = {field: base.get(field) for field in parameters["properties"]}
        arguments["service"] = value
        jsonschema.validate(arguments, parameters)
        parsed = tool.args_model.model_validate(arguments)
        if value is not None:
            assert spitzer.service(parsed.service) == spitzer.service(value)
            assert spitzer.service(value).service.name == value  # type: ignore[union-attr]

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**arguments, "service": "Massage"}, parameters)


@pytest.mark.parametrize("name", SERVICE_TOOLS)
def test_whatever_a_strict_model_sends_the_tool_and_the_business_accept(
    name: str, spitzer: Business
) -> None:
    tool = next(tool for tool in ALL_TOOLS if tool.name == name)
    (definition,) = export_tools(BASE_URL, tools=[name], business=spitzer, strict=True)
    parameters = definition["parameters"]
    schema = schema_validator(parameters)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(parameters))
    def round_trip(arguments: dict[str, Any]) -> None:
        schema.validate(arguments)
        parsed = tool.args_model.model_validate(arguments)
        if arguments["service"] is not None:
            chosen = spitzer.service(parsed.service)
            assert isinstance(chosen, ServiceMatch)
            assert chosen.service.name == arguments["service"]

    round_trip()


class TestCommandLine:
    """``--business ID`` reads the businesses file of RETELL_BOOKING_BUSINESSES."""

    def _run(self, tmp_path: Path, *args: str) -> tuple[int, str, str]:
        path = tmp_path / "businesses.toml"
        path.write_text(FILE, encoding="utf-8")
        result = CliRunner().invoke(
            app,
            ["tools", "export", "--base-url", BASE_URL, *args],
            env={"RETELL_BOOKING_BUSINESSES": str(path)},
        )
        return result.exit_code, result.stdout, result.stderr

    def test_the_export_for_a_business_is_the_librarys(self, tmp_path: Path) -> None:
        code, out, err = self._run(tmp_path, "--business", "salon-ana", "--strict")

        assert code == 0, err
        ana = parse_businesses(FILE)["salon-ana"]
        assert json.loads(out) == export_tools(BASE_URL, business=ana, strict=True)

    def test_without_business_the_file_changes_nothing(self, tmp_path: Path) -> None:
        code, out, _ = self._run(tmp_path)

        assert code == 0
        assert json.loads(out) == export_tools(BASE_URL)

    def test_an_unknown_business_exits_2_naming_the_businesses(self, tmp_path: Path) -> None:
        code, out, err = self._run(tmp_path, "--business", "praxis")

        assert code == 2
        assert out == ""
        assert "no business 'praxis'; businesses: praxis-spitzer, salon-ana" in err
