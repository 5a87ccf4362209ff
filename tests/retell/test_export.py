"""Retell tool definitions: what Retell accepts, what the model reads, where Retell calls."""

from __future__ import annotations

import json
import re
from typing import Any, get_type_hints

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_schema_strategy import ecma_pattern, from_schema, schema_validator
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from retell.types import conversation_flow_create_params, llm_response, llm_update_params
from strict_mode_rules import is_nullable, strict_mode_problems

from retell_booking_tools.retell import UnknownToolName, export_tools
from retell_booking_tools.retell_admin.export import parameters_schema
from retell_booking_tools.tools import ALL_TOOLS, Tool
from retell_booking_tools.tools.base import ToolArgs

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


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_tool_says_how_it_is_called_even_where_that_is_retells_default(name: str) -> None:
    """A JSON POST with the arguments under ``args``, written out so drift is visible."""
    for format in ("general-tools", "conversation-flow"):
        definition = _exported(name, format=format)

        assert definition["method"] == "POST"
        assert definition["args_at_root"] is False
        assert definition["parameter_type"] == "json"
        assert "headers" not in definition
        assert "query_params" not in definition


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
    schema = schema_validator(parameters)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(parameters))
    def round_trip(arguments: dict[str, Any]) -> None:
        schema.validate(arguments)
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


def test_no_exported_pattern_uses_lookaround() -> None:
    """Neither export needs a lookahead, which strict mode (and some engines) refuse."""
    for strict in (False, True):
        for definition in export_tools(BASE_URL, strict=strict):
            assert "(?" not in repr(definition["parameters"]).replace("(?:", "")


# -- strict schemas (tool_call_strict_mode) ---------------------------------------------------


@pytest.mark.parametrize("name", TOOL_NAMES)
@pytest.mark.parametrize("format", ["general-tools", "conversation-flow"])
def test_every_strict_schema_passes_the_strict_mode_rules(name: str, format: str) -> None:
    """All properties required, optional ones nullable, nothing strict mode refuses."""
    definition = _exported(name, format=format, strict=True)
    parameters = definition["parameters"]

    assert strict_mode_problems(parameters) == []
    TypeAdapter(llm_update_params.GeneralToolCustomTool).validate_python(
        {key: value for key, value in definition.items() if key != "tool_id"}, strict=True
    )
    model = _tool(name).args_model
    assert set(parameters["properties"]) == set(model.model_fields)
    for field, info in model.model_fields.items():
        assert is_nullable(parameters["properties"][field]) == (not info.is_required()), field
        assert parameters["properties"][field].get("description")


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_strict_schema_valid_arguments_validate_into_the_args_model(name: str) -> None:
    """Whatever a strict model generates, nulls included, the tool accepts as it is."""
    tool = _tool(name)
    parameters = _exported(name, strict=True)["parameters"]
    schema = schema_validator(parameters)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(parameters))
    def round_trip(arguments: dict[str, Any]) -> None:
        schema.validate(arguments)
        assert set(arguments) == set(parameters["properties"])
        parsed = tool.args_model.model_validate(arguments)
        for field, value in arguments.items():
            if value is None:
                assert getattr(parsed, field) == tool.args_model.model_fields[field].default
            else:
                assert getattr(parsed, field) is not None

    round_trip()


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_every_optional_argument_accepts_null_as_not_given(name: str) -> None:
    """Strict tool calls send ``null`` for what the caller did not say; that is no error."""
    model = _tool(name).args_model
    given_args = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}
    given_args |= {"booking_uid": "bT1LnExample"}
    arguments = {
        field: given_args.get(field, "x") if info.is_required() else None
        for field, info in model.model_fields.items()
    }

    parsed = model.model_validate(arguments)

    for field, info in model.model_fields.items():
        if not info.is_required():
            assert getattr(parsed, field) == info.default


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("Zoë O'Brien-Smith (Dr.)", True),
        ("  Max Mustermann  ", True),
        ("M", True),
        ("x" * 200, True),
        ("  " + "x" * 200 + "\t", True),
        ("x" * 201, False),
        ("   ", False),
        ("", False),
        ("Max\tMustermann", False),
        ("Robert'); DROP TABLE customers;--", False),
        ("{{ caller_name }}", False),
    ],
)
def test_the_strict_name_pattern_carries_the_models_length_and_characters(
    value: str, accepted: bool
) -> None:
    """Without ``maxLength`` in strict mode, the pattern alone says what the model takes."""
    parameters = _exported("collect_appointment_data", strict=True)["parameters"]
    schema = parameters["properties"]["customer_name"]
    model = _tool("collect_appointment_data").args_model
    arguments = {"customer_name": value, "date": "2025-10-10", "time": "11:00"}
    arguments |= {"email": None, "phone": None, "service": None, "notes": None}

    assert (re.search(schema["pattern"], value) is not None) is accepted
    try:
        model.model_validate(arguments)
    except ValidationError:
        assert not accepted
    else:
        assert accepted


def test_the_strict_export_from_the_command_line_is_the_librarys() -> None:
    """``tools export --strict`` prints what ``export_tools(strict=True)`` returns."""
    from typer.testing import CliRunner

    from retell_booking_tools.cli import app

    result = CliRunner().invoke(app, ["tools", "export", "--base-url", BASE_URL, "--strict"])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == export_tools(BASE_URL, strict=True)


class _Bounds(ToolArgs):
    """Length limits the tools do not use yet, so the strict patterns are tried on them."""

    pair: str = Field(min_length=2, max_length=5, description="Two to five characters.")
    one: str | None = Field(default=None, max_length=1, description="At most one.")
    code: str | None = Field(
        default=None, max_length=12, pattern=r"^[A-Z0-9]{6,12}$", description="A reference."
    )
    count: int = Field(ge=1, le=9, description="How many.")


class _Unstripped(BaseModel):
    """A model that keeps whitespace: its lengths count every character."""

    text: str = Field(min_length=1, max_length=3, description="One to three characters.")


@pytest.mark.parametrize("model", [_Bounds, _Unstripped])
def test_strict_patterns_accept_exactly_what_other_bounded_models_accept(
    model: type[BaseModel],
) -> None:
    """Short and long bounds, stripped or not, and a field's own pattern."""
    parameters = parameters_schema(model, strict=True)
    assert strict_mode_problems(parameters) == []

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(arguments=from_schema(parameters), text=st.text(max_size=8))
    def agree(arguments: dict[str, Any], text: str) -> None:
        model.model_validate(arguments)
        for field, schema in parameters["properties"].items():
            if "pattern" not in schema or field == "code":
                continue
            probe = {**arguments, field: text}
            matches = ecma_pattern(schema["pattern"]).search(text) is not None
            try:
                model.model_validate(probe)
            except ValidationError:
                assert not matches, (field, text)
            else:
                assert matches, (field, text)

    agree()
