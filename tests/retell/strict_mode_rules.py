"""OpenAI's rules for strict structured outputs (Retell's ``tool_call_strict_mode``), as a
checker written apart from the exporter so one cannot excuse the other.

From OpenAI's Structured Outputs guide ("Supported schemas"): types string, number,
integer, boolean, object, array, null (and unions of them), ``enum``, ``const`` and
``anyOf``; strings may only carry ``pattern`` and ``format`` (date-time, time, date,
duration, email, hostname, ipv4, ipv6, uuid); numbers ``multipleOf``, ``minimum``,
``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``; arrays ``items``, ``minItems``,
``maxItems``; every object lists all its properties in ``required`` and sets
``additionalProperties: false``; optional values are unions with ``null``. Patterns
must not use lookaround or backreferences.
"""

from __future__ import annotations

import re
from typing import Any

_BY_TYPE: dict[str, frozenset[str]] = {
    "string": frozenset({"pattern", "format"}),
    "number": frozenset(
        {"multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    ),
    "integer": frozenset(
        {"multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    ),
    "boolean": frozenset(),
    "null": frozenset(),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "object": frozenset({"properties", "required", "additionalProperties"}),
}
_ALWAYS = frozenset({"type", "description", "enum", "const", "anyOf"})
_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_LOOKAROUND_OR_BACKREFERENCE = re.compile(r"\(\?<?[=!]|\\[1-9]|\\k<")


def strict_mode_problems(schema: Any, where: str = "parameters") -> list[str]:
    """Every rule this schema breaks, each naming where; empty when strict mode takes it."""
    if not isinstance(schema, dict):
        return [f"{where}: not a schema object"]
    problems: list[str] = []
    declared = schema.get("type")
    kinds = declared if isinstance(declared, list) else [] if declared is None else [declared]
    allowed = set(_ALWAYS)
    for kind in kinds:
        if kind in _BY_TYPE:
            allowed |= _BY_TYPE[kind]
        else:
            problems.append(f"{where}: type {kind!r} is not supported")
    if not kinds and not {"anyOf", "enum", "const"} & set(schema):
        problems.append(f"{where}: says nothing about its type")
    problems += [
        f"{where}: keyword {key!r} is not supported" for key in sorted(set(schema) - allowed)
    ]
    if "object" in kinds:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties is not false")
        if sorted(schema.get("required", [])) != sorted(properties):
            problems.append(f"{where}: not every property is required")
        for name, child in properties.items():
            problems += strict_mode_problems(child, f"{where}.{name}")
    pattern = schema.get("pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or _LOOKAROUND_OR_BACKREFERENCE.search(pattern):
            problems.append(f"{where}: pattern uses lookaround or a backreference")
        else:
            re.compile(pattern)
    if "format" in schema and schema["format"] not in _FORMATS:
        problems.append(f"{where}: format {schema['format']!r} is not supported")
    if "items" in schema:
        problems += strict_mode_problems(schema["items"], f"{where}[]")
    for index, variant in enumerate(schema.get("anyOf", [])):
        problems += strict_mode_problems(variant, f"{where}.anyOf[{index}]")
    return problems


def is_nullable(schema: dict[str, Any]) -> bool:
    """The schema lets the model say ``null``."""
    declared = schema.get("type")
    kinds = declared if isinstance(declared, list) else [declared]
    return "null" in kinds or any(is_nullable(variant) for variant in schema.get("anyOf", []))
