"""Retell tool definitions: what Retell accepts, what the model reads, where Retell calls."""

from __future__ import annotations

import re
from typing import Any, get_type_hints

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from json_schema_strategy import from_schema
from pydantic import TypeAdapter, ValidationError
from retell.types import conversation_flow_create_params, llm_response, llm_update_params

from retell_booking_tools.retell import UnknownToolName, export_tools
from retell_booking_tools.tools import ALL_TOOLS, Tool

BASE_URL = "https://agent.example.com"
TOOL_NAMES = [tool.name for tool in ALL_TOOLS]
RETELL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _tool(name: str) -> Tool[Any]:
    return next(tool for tool in ALL_TOOLS if tool.name == name)


def _exported(name: str, **options: Any) -> dict[str, Any]:
    (definition,) = export_tools(BASE_URL, tools=[name], **options)
    return definition


def _assert_only_known_keys(value: dict[str, Any], typed_dict: Any) -> None:
    """TypedDict validation ignores unknown keys; Retell's API would not."""
    assert set(value) <= set(get_type_hints(typed_dict)), set(value) - set(
        get_type_hints(typed_dict)
    )


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_general_tool_is_accepted_by_retell_sdk_types(name: str) -> None:
    """Each definition validates as the SDK's update parameter and as what the API returns."""
    definition = _exported(name)

    TypeAdapter(llm_update_params.GeneralToolCustomTool).validate_python(definition, strict=True)
    llm_response.GeneralToolCustomTool.model_validate(definition)
    _assert_only_known_keys(definition, llm_update_params.GeneralToolCustomTool)
    _assert_only_known_keys(
        definition["parameters"], llm_update_params.GeneralToolCustomToolParameters
    )
    assert RETELL_NAME.match(definition["name"])
    assert 1_000 <= definition["timeout_ms"] <= 600_000
    assert 1 <= definition["max_retry"] <= 5


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_conversation_flow_tool_is_accepted_by_retell_sdk_types(name: str) -> None:
    """Conversation flows take the same definition plus a tool id nodes can refer to."""
    definition = _exported(name, format="conversation-flow")

    TypeAdapter(conversation_flow_create_params.ToolCustomTool).validate_python(
        definition, strict=True
    )
    _assert_only_known_keys(definition, conversation_flow_create_params.ToolCustomTool)
    assert definition["tool_id"] == name


def test_the_whole_export_is_a_valid_general_tools_update() -> None:
    """The array can be passed as is to ``llm.update(general_tools=...)``."""
    exported = export_tools(BASE_URL)

    TypeAdapter(llm_update_params.LlmUpdateParams).validate_python({"general_tools": exported})
    assert [tool["name"] for tool in exported] == TOOL_NAMES


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_tool_is_called_at_its_own_function_url(name: str) -> None:
    """Retell posts to the route the server serves for that tool."""
    assert _exported(name)["url"] == f"{BASE_URL}/retell/functions/{name}"


@pytest.mark.parametrize("base_url", [BASE_URL, BASE_URL + "/", BASE_URL + "//"])
def test_trailing_slashes_of_the_base_url_do_not_double(base_url: str) -> None:
    """A base URL pasted with a slash still yields one clean URL."""
    (definition,) = export_tools(base_url, tools=["confirm_existing"])

    assert definition["url"] == f"{BASE_URL}/retell/functions/confirm_existing"


def test_a_base_url_under_a_path_keeps_the_path() -> None:
    """A backend mounted under a prefix is reached under that prefix."""
    (definition,) = export_tools("https://example.com/booking/", tools=["confirm_existing"])

    assert definition["url"] == "https://example.com/booking/retell/functions/confirm_existing"


def test_a_base_url_without_a_scheme_is_refused() -> None:
    """Retell needs an absolute URL; a bare host is a mistake worth naming."""
    with pytest.raises(ValueError, match="http"):
        export_tools("agent.example.com")


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_parameter_schema_is_plain_json_schema_from_the_args_model(name: str) -> None:
    """No pydantic titles or references, and exactly the model's fields and required ones."""
    model = _tool(name).args_model
    parameters = _exported(name)["parameters"]

    assert parameters["type"] == "object"
    assert set(parameters["properties"]) == set(model.model_fields)
    required = {field for field, info in model.model_fields.items() if info.is_required()}
    assert set(parameters["required"]) == required
    text = repr(parameters)
    for keyword in ("'title'", "$ref", "$defs", "additionalProperties", "'null'"):
        assert keyword not in text
    for field, schema in parameters["properties"].items():
        assert schema.get("description"), f"{name}.{field} tells the model nothing"


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_description_tells_the_model_to_speak_the_status_honestly(name: str) -> None:
    """The model is told that the message matches the status and not to claim more."""
    description = _exported(name)["description"]

    assert description.startswith(_tool(name).description)
    assert "status" in description
    assert "never claim more" in description


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_tool_speaks_while_waiting_and_retries_because_deliveries_are_idempotent(
    name: str,
) -> None:
    """A slow Cal.com answer is bridged by speech, and a lost answer is retried safely."""
    definition = _exported(name)

    assert definition["speak_during_execution"] is True
    assert "Never say it is booked" in definition["execution_message_description"]
    assert definition["max_retry"] >= 1


def test_collect_appointment_data_requires_name_date_and_time_only() -> None:
    """Email, phone, service and notes are optional strings, never null."""
    parameters = _exported("collect_appointment_data")["parameters"]

    assert parameters["required"] == ["customer_name", "date", "time"]
    assert parameters["properties"]["email"] == {
        "type": "string",
        "maxLength": 320,
        "description": "Email for this booking's confirmation, only if the caller gave one.",
    }
    name_pattern = re.compile(parameters["properties"]["customer_name"]["pattern"])
    assert name_pattern.search("Zoë O'Brien-Smith (Dr.)")
    assert not name_pattern.search("   ")
    assert not name_pattern.search("Robert'); DROP TABLE customers;--")
    assert not name_pattern.search("{{ caller_name }}")


def test_collect_appointment_data_description_says_existing_is_not_booked() -> None:
    """The incident's wording mistake is ruled out in the tool's own description."""
    description = _exported("collect_appointment_data")["description"]

    assert "'existing' means the caller ALREADY HAD this appointment" in description
    assert "never say it was booked" in description


def test_confirm_existing_takes_the_booking_uid_or_the_booking_reference() -> None:
    """The uid comes from the earlier ``existing`` result; a reference (and the name on the
    booking) serves a caller whose call does not identify them."""
    parameters = _exported("confirm_existing", format="conversation-flow")["parameters"]

    assert parameters.get("required", []) == []
    assert set(parameters["properties"]) == {
        "booking_uid",
        "booking_reference",
        "customer_name",
        "email",
    }


def test_tools_are_selected_by_name_in_served_order() -> None:
    """``tools=`` picks a subset; the order stays that of ``ALL_TOOLS``."""
    exported = export_tools(BASE_URL, tools=list(reversed(TOOL_NAMES)))

    assert [tool["name"] for tool in exported] == TOOL_NAMES


def test_an_unknown_tool_name_is_refused_by_name() -> None:
    """A typo is reported, not silently dropped."""
    with pytest.raises(UnknownToolName, match="book_everything"):
        export_tools(BASE_URL, tools=["confirm_existing", "book_everything"])


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_schema_valid_arguments_validate_into_the_args_model(name: str) -> None:
    """Whatever the model generates within the exported schema, the tool accepts."""
    tool = _tool(name)
    parameters = _exported(name)["parameters"]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(parameters))
    def round_trip(arguments: dict[str, Any]) -> None:
        jsonschema.validate(arguments, parameters)
        parsed = tool.args_model.model_validate(arguments)
        for field in parameters["required"]:
            assert getattr(parsed, field) is not None

    round_trip()


def test_schema_rejects_what_the_args_model_rejects_for_blank_names() -> None:
    """A blank name is outside the schema, as the model would refuse it after stripping."""
    parameters = _exported("collect_appointment_data")["parameters"]
    blank = {"customer_name": "   ", "date": "2025-10-10", "time": "11:00"}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(blank, parameters)
    with pytest.raises(ValidationError):
        _tool("collect_appointment_data").args_model.model_validate(blank)
