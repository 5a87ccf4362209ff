"""String constraints and strict schemas: what each export says a tool accepts.

Argument models strip whitespace, limit lengths and may restrict characters. The plain
export keeps ``minLength``/``maxLength`` and adds a pattern that rules out blank values.
OpenAI's strict structured outputs (Retell's ``tool_call_strict_mode``) accept only a
subset of JSON Schema: every property listed in ``required`` (optional ones as a union
with ``null``), ``additionalProperties: false`` on every object, strings limited by
``pattern``/``format`` alone, and patterns without lookaround or backreferences. So in a
strict export the lengths, the stripping and the character set of a string are folded
into one pattern, which accepts exactly what the argument model accepts.

A field restricts characters with a pattern of the form ``^[^...]*$`` (the characters it
refuses). Any other pattern is passed on as it is; a strict export cannot add length limits
to it, so such a pattern should bound the length itself (``^[A-Z0-9]{6,12}$``).
"""

from __future__ import annotations

import re
from typing import Any

WHITESPACE = r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""What pydantic strips from a string (Unicode White_Space), as a character-class body.
Python's ``\\s`` differs (it also matches U+001C to U+001F, which pydantic keeps)."""
_REFUSED_CHARACTERS = re.compile(r"^\^\[\^((?:[^\]\\]|\\.)*)\]\*\$$")


def refused_characters(pattern: object) -> str | None:
    """The class body of a ``^[^...]*$`` pattern (the characters it refuses), else None."""
    if not isinstance(pattern, str):
        return None
    match = _REFUSED_CHARACTERS.match(pattern)
    return match.group(1) if match else None


def plain_string(node: dict[str, Any], *, stripped: bool) -> dict[str, Any]:
    """A stripped string with a minimum length must not be blank; the pattern says so."""
    if not stripped or node.get("minLength", 0) < 1:
        return node
    pattern = node.get("pattern")
    refused = refused_characters(pattern)
    if pattern is None:
        return {**node, "pattern": r"\S"}
    if refused is None:
        return node
    allowed, solid = _classes(refused, stripped=True)
    return {**node, "pattern": f"^{allowed}*{solid}{allowed}*$"}


def strict_string(node: dict[str, Any], *, stripped: bool) -> dict[str, Any]:
    """The same string with its lengths, stripping and characters in one pattern."""
    node = dict(node)
    pattern = node.pop("pattern", None)
    low = int(node.pop("minLength", 0))
    high = node.pop("maxLength", None)
    refused = "" if pattern is None else refused_characters(pattern)
    if refused is None:
        node["pattern"] = pattern  # bounds its length itself, or the model refuses the excess
        return node
    if refused or low or high is not None:
        node["pattern"] = bounded_pattern(refused, low, high, stripped=stripped)
    return node


def bounded_pattern(refused: str, low: int, high: int | None, *, stripped: bool) -> str:
    """Strings of allowed characters whose length (after stripping) is within the bounds."""
    allowed, solid = _classes(refused, stripped=stripped)
    upper = "" if high is None else str(high)
    if not stripped:
        return f"^{allowed}{{{low},{upper}}}$"
    padding = f"[{WHITESPACE}]*"
    if high == 0:
        return f"^{padding}$"
    if high == 1:
        core = solid
    else:
        inner = f"{allowed}{{{max(low - 2, 0)},{'' if high is None else high - 2}}}"
        core = f"{solid}{inner}{solid}" if low >= 2 else f"{solid}(?:{inner}{solid})?"
    if low == 0:
        core = f"(?:{core})?"
    return f"^{padding}{core}{padding}$"


def _classes(refused: str, *, stripped: bool) -> tuple[str, str]:
    """Any allowed character, and an allowed one that stripping would not remove."""
    allowed = f"[^{refused}]" if refused else r"[\s\S]"
    solid = f"[^{refused}{WHITESPACE}]" if stripped else allowed
    return allowed, solid


def strict_object(node: dict[str, Any]) -> dict[str, Any]:
    """Every property required, optional ones nullable, no other properties."""
    required = set(node.get("required", []))
    properties = {
        name: strict_node(child, nullable=name not in required)
        for name, child in node.get("properties", {}).items()
    }
    rest = {key: value for key, value in node.items() if key not in ("properties", "required")}
    return {
        **rest,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def strict_node(node: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    """A property schema in strict form; ``nullable`` adds ``null`` to its type."""
    node = {key: value for key, value in node.items() if key != "default"}
    kind = node.get("type")
    if kind == "object":
        node = strict_object(node)
    elif kind == "array" and isinstance(node.get("items"), dict):
        node["items"] = strict_node(node["items"])
    if "anyOf" in node:
        node["anyOf"] = [strict_node(variant) for variant in node["anyOf"]]
    if not nullable:
        return node
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    if isinstance(kind, str):
        node["type"] = [kind, "null"]
    elif "anyOf" in node:
        node["anyOf"] = [*node["anyOf"], {"type": "null"}]
    return node
