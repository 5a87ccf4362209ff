"""Hypothesis strategies for the plain JSON Schema the exporter emits.

Covers the keywords pydantic produces for tool arguments; anything else fails loudly
(UnsupportedSchema), so a new keyword in an argument model is noticed instead of silently
untested. Every generated value is also checked against the schema by the caller.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import jsonschema
from hypothesis import strategies as st

_ANNOTATIONS = {"description", "default", "examples", "title"}
_STRING_FORMATS: dict[str, st.SearchStrategy[str]] = {
    "date": st.dates().map(lambda d: d.isoformat()),
    "date-time": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "time": st.times().map(lambda t: t.isoformat()),
    "email": st.from_regex(r"[a-z]{1,12}(\.[a-z]{1,8})?@[a-z]{2,12}\.(com|de|org)", fullmatch=True),
    "uuid": st.uuids().map(str),
}


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern as ECMA-262 reads it: a final ``$`` is the end of the text
    (Python's also matches before a trailing newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def schema_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator of ``schema`` for many values: ``jsonschema.validate`` checks the schema
    itself against its metaschema on every call, which costs more than the value."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


class UnsupportedSchema(Exception):
    """The schema uses a keyword these strategies do not generate for."""


def _only(schema: dict[str, Any], *allowed: str) -> None:
    unknown = set(schema) - _ANNOTATIONS - {"type", *allowed}
    if unknown:
        raise UnsupportedSchema(f"keywords {sorted(unknown)} in {schema!r}")


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        _only(schema, "anyOf")
        return st.one_of([from_schema(variant) for variant in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": each}) for each in kind])
    if kind == "null":
        return st.none()
    if kind == "object":
        if schema.get("additionalProperties", False) is not False:
            raise UnsupportedSchema(f"additionalProperties in {schema!r}")
        _only(schema, "properties", "required", "additionalProperties")
        return _object(schema)
    if kind == "string":
        _only(schema, "minLength", "maxLength", "pattern", "format")
        return _string(schema)
    if kind in ("integer", "number"):
        _only(schema, "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        _only(schema)
        return st.booleans()
    if kind == "array":
        _only(schema, "items", "minItems", "maxItems", "uniqueItems")
        return st.lists(
            from_schema(schema.get("items", {"type": "string"})),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 5), 5),
            unique_by=(lambda value: repr(value)) if schema.get("uniqueItems") else None,
        )
    raise UnsupportedSchema(f"no strategy for {schema!r}")


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {name: from_schema(child) for name, child in properties.items() if name in required},
        optional={
            name: from_schema(child) for name, child in properties.items() if name not in required
        },
    )


def _number(schema: dict[str, Any], *, integer: bool) -> st.SearchStrategy[Any]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if integer:
        if "exclusiveMinimum" in schema:
            low = int(schema["exclusiveMinimum"]) + 1
        if "exclusiveMaximum" in schema:
            high = int(schema["exclusiveMaximum"]) - 1
        return st.integers(min_value=low, max_value=high)
    return st.floats(
        min_value=schema.get("exclusiveMinimum", low),
        max_value=schema.get("exclusiveMaximum", high),
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
        allow_infinity=False,
    )


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "format" in schema:
        if schema["format"] not in _STRING_FORMATS:
            raise UnsupportedSchema(f"string format {schema['format']!r}")
        base = _STRING_FORMATS[schema["format"]]
    else:
        sizes = {"min_size": schema.get("minLength", 0)}
        sizes["max_size"] = max(min(schema.get("maxLength", 60), 60), sizes["min_size"])
        # Blank and padded strings are where stripping models and schemas disagree; long
        # ones are where a length limit folded into a pattern would.
        longest = max(schema.get("maxLength", 400), sizes["min_size"])
        base = st.one_of(
            st.text(**sizes),
            st.text(alphabet=" \t\nab", **sizes),
            st.integers(sizes["min_size"], longest).flatmap(
                lambda size: st.text(alphabet=" ab", min_size=size, max_size=size)
            ),
        )
    pattern = schema.get("pattern")
    if pattern is not None:
        compiled = ecma_pattern(pattern)
        if "format" not in schema:
            # A strict export folds lengths into the pattern: generate from it directly.
            base = st.one_of(base, st.from_regex(compiled))
        base = base.filter(lambda text: compiled.search(text) is not None)
    limit = schema.get("maxLength")
    lowest = schema.get("minLength", 0)
    return base.filter(lambda text: lowest <= len(text) <= (limit or len(text)))
