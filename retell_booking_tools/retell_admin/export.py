"""Retell custom-tool definitions, generated from each tool's pydantic argument model.

The output is what Retell's API takes in a Retell LLM's ``general_tools`` or
``states[].tools`` (``format="general-tools"``) or a conversation flow's ``tools``
(``format="conversation-flow"``, which adds a ``tool_id`` equal to the name so nodes can
refer to it). Schemas are never written by hand: the argument model is the single source,
reduced to plain JSON Schema (no ``title``, ``$defs``/``$ref`` or ``additionalProperties``;
optional fields are their non-null type and simply not required), or, with ``strict``,
to the subset OpenAI's strict structured outputs accept (see :mod:`.strict`).

For one business of a businesses file (``business=``), the tools that book, check or move
name the business in their description, and their ``service`` parameter lists its services
(an ``enum`` plus a description naming them); without it the export names no business.

How Retell calls the tool is written out even where it is Retell's default (``method:
"POST"``, ``args_at_root: false``, ``parameter_type: "json"``), so a dashboard edit of
any of them shows up as drift and the next sync repairs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs
from pydantic import BaseModel

from retell_booking_tools.errors import UnknownToolName
from retell_booking_tools.retell_admin.strict import plain_string, strict_object, strict_string
from retell_booking_tools.tools import ALL_TOOLS, Tool

if TYPE_CHECKING:
    from retell_booking_tools.businesses import Business

ExportFormat = Literal["general-tools", "conversation-flow"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("general-tools", "conversation-flow")
FUNCTIONS_PATH = "/retell/functions/"

TIMEOUT_MS = 30_000
"""Per attempt: long enough for Cal.com's retried requests, short enough to move on."""
MAX_RETRY = 2
"""Safe because a repeated delivery of a function call replays its first result."""
EXECUTION_MESSAGE = (
    "Say briefly, in the caller's language, that you are checking, e.g. 'One moment, "
    "let me check that.' Never say it is booked, changed or cancelled before the result."
)
HONESTY_NOTE = (
    " Every result has a 'status' and a 'message' that matches it: speak the message and "
    "never claim more than the status says."
)
REQUEST_SHAPE: Mapping[str, Any] = {
    "method": "POST",
    "args_at_root": False,
    "parameter_type": "json",
}
"""How the server expects to be called: a JSON POST of ``{"call", "name", "args"}``."""
_DROPPED_KEYWORDS = frozenset({"title", "$defs", "definitions", "additionalProperties"})
SERVICE_PARAMETER = "service"
"""The argument naming what the appointment is for, in the tools that book, check or move."""


def export_tools(
    base_url: str,
    *,
    format: ExportFormat = "general-tools",
    tools: Iterable[str] | None = None,
    strict: bool = False,
    business: Business | None = None,
) -> list[dict[str, Any]]:
    """One Retell custom-tool definition per tool, in ``ALL_TOOLS`` order.

    ``base_url`` is where Retell reaches this backend (``https://agent.example.com``);
    ``tools`` picks tools by name (UnknownToolName for a name not served); ``strict``
    gives parameter schemas for an LLM with ``tool_call_strict_mode`` on; ``business``
    tailors the tools to one business of a businesses file (its name, its services).
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    return [
        tool_definition(tool, base_url, format=format, strict=strict, business=business)
        for tool in select_tools(tools)
    ]


def select_tools(names: Iterable[str] | None = None) -> list[Tool[Any]]:
    """The served tools with these names (all of them for ``None``), in ``ALL_TOOLS`` order."""
    if names is None:
        return list(ALL_TOOLS)
    wanted = list(dict.fromkeys(names))
    served = {tool.name for tool in ALL_TOOLS}
    unknown = [name for name in wanted if name not in served]
    if unknown:
        raise UnknownToolName(
            f"unknown tool(s): {', '.join(unknown)}; served: {', '.join(sorted(served))}"
        )
    return [tool for tool in ALL_TOOLS if tool.name in wanted]


def tool_definition(
    tool: Tool[Any],
    base_url: str,
    *,
    format: ExportFormat = "general-tools",
    strict: bool = False,
    business: Business | None = None,
) -> dict[str, Any]:
    """The Retell custom-tool definition of one tool (``business``: see :func:`export_tools`)."""
    overrides = service_parameter(business) if business is not None else {}
    description = tool.description + HONESTY_NOTE
    if business is not None and not business.implicit:
        description += f" The appointments are with {business.name}."
    definition: dict[str, Any] = {
        "type": "custom",
        "name": tool.name,
        "description": description,
        "url": function_url(base_url, tool.name),
        **REQUEST_SHAPE,
        "parameters": parameters_schema(tool.args_model, strict=strict, overrides=overrides),
        "speak_during_execution": True,
        "execution_message_description": EXECUTION_MESSAGE,
        "speak_after_execution": True,
        "timeout_ms": TIMEOUT_MS,
        "max_retry": MAX_RETRY,
    }
    if format == "conversation-flow":
        definition["tool_id"] = tool.name
    return definition


def function_url(base_url: str, tool_name: str) -> str:
    """``<base_url>/retell/functions/<tool_name>``, whatever trailing slashes the base has."""
    base = base_url.strip()
    if not base.startswith(("http://", "https://")):
        raise ValueError("base_url must be an http(s) URL, e.g. https://agent.example.com")
    return base.rstrip("/") + FUNCTIONS_PATH + tool_name


def service_parameter(business: Business) -> dict[str, dict[str, Any]]:
    """The ``service`` property naming the services of ``business``: an ``enum`` of their
    names and a description listing them. Nothing for the business made from the
    environment, whose one service takes whatever the caller says."""
    if business.implicit or not business.services:
        return {}
    names = [service.name for service in business.services]
    if len(names) == 1:
        choice = f"{business.name} offers one service: {names[0]}."
    else:
        choice = f"Which of the services of {business.name}: {', '.join(names)}."
    return {
        SERVICE_PARAMETER: {
            "type": "string",
            "enum": names,
            "description": (
                f"What the appointment is for. {choice} Pick the one the caller means, even "
                "if they word it differently; leave it out if they have not said."
            ),
        }
    }


def parameters_schema(
    model: type[BaseModel],
    *,
    strict: bool = False,
    overrides: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{"type": "object", "properties": ..., "required": [...]}`` for an argument model.

    With ``strict``, the schema OpenAI's strict structured outputs accept instead: every
    property required, optional ones nullable, ``additionalProperties: false``.
    ``overrides`` replace the plain schema of properties the model has (others are ignored).
    """
    schema = model.model_json_schema()
    definitions: Mapping[str, Any] = schema.get("$defs", {})
    reducer = _Reducer(definitions, strip=_strips_whitespace(model), strict=strict)
    properties: dict[str, Any] = {
        name: reducer.reduce(node, seen=()) for name, node in schema.get("properties", {}).items()
    }
    for name, node in (overrides or {}).items():
        if name in properties:
            properties[name] = dict(node)
    plain = {
        "type": "object",
        "properties": properties,
        "required": list(schema.get("required", [])),
    }
    return strict_object(plain) if strict else plain


def _strips_whitespace(model: type[BaseModel]) -> bool:
    return bool(model.model_config.get("str_strip_whitespace"))


@attrs.frozen
class _Reducer:
    """Inline ``$ref``s, collapse ``T | None`` to ``T`` and drop keywords Retell has no use for.

    String constraints are then stated as the export needs them (see :mod:`.strict`): a
    string the model strips must not be blank when it has a minimum length, so the schema
    says so instead of promising what validation would refuse.
    """

    definitions: Mapping[str, Any]
    strip: bool
    strict: bool

    def reduce(self, node: Any, *, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self.reduce(item, seen=seen) for item in node]
        if not isinstance(node, dict):
            return node
        node = dict(node)
        reference = node.pop("$ref", None)
        if isinstance(reference, str):
            name = reference.rsplit("/", 1)[-1]
            if name in seen:
                raise ValueError(f"recursive argument model {name!r} cannot be exported")
            node = {**self.definitions[name], **node}
            seen = (*seen, name)
        variants = node.get("anyOf")
        if isinstance(variants, list):
            kept = [variant for variant in variants if variant != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(variants):
                del node["anyOf"]
                if node.get("default", ...) is None:
                    del node["default"]
                return self.reduce({**kept[0], **node}, seen=seen)
        reduced: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYWORDS:
                continue
            if key == "properties" and isinstance(value, dict):
                reduced[key] = {
                    name: self.reduce(child, seen=seen) for name, child in value.items()
                }
            else:
                reduced[key] = self.reduce(value, seen=seen)
        if reduced.get("type") != "string":
            return reduced
        if self.strict:
            return strict_string(reduced, stripped=self.strip)
        return plain_string(reduced, stripped=self.strip)
