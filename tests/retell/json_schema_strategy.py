"""Hypothesis strategies for the plain JSON Schema the exporter emits.

Covers the keywords pydantic produces for tool arguments; anything else fails loudly, so a
new keyword in an argument model is noticed instead of silently untested.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

_ANNOTATIONS = {"description", "default", "examples", "format", "title"}
_STRING_FORMATS: dict[str, st.SearchStrategy[str]] = {
    "date": st.dates().map(lambda d: d.isoformat()),
    "date-time": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "time": st.times().map(lambda t: t.isoformat()),
    "email": st.emails(),
}


class UnsupportedSchema(Exception):
    """The schema uses a keyword these strategies do not generate for."""


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        return st.one_of([from_schema(variant) for variant in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum"),
            max_value=schema.get("maximum"),
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {"type": "string"})),
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems", 5),
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


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    known = _ANNOTATIONS | {"type", "minLength", "maxLength", "pattern"}
    unknown = set(schema) - known
    if unknown:
        raise UnsupportedSchema(f"string keywords {sorted(unknown)}")
    if schema.get("format") in _STRING_FORMATS:
        base = _STRING_FORMATS[schema["format"]]
    else:
        sizes = {"min_size": schema.get("minLength", 0)}
        sizes["max_size"] = min(schema.get("maxLength", 60), 60)
        # Blank and padded strings are where stripping models and schemas disagree.
        base = st.one_of(st.text(**sizes), st.text(alphabet=" \t\nab", **sizes))
    pattern = schema.get("pattern")
    if pattern is not None:
        compiled = re.compile(pattern)
        base = base.filter(lambda text: compiled.search(text) is not None)
    limit = schema.get("maxLength")
    lowest = schema.get("minLength", 0)
    return base.filter(lambda text: lowest <= len(text) <= (limit or len(text)))
