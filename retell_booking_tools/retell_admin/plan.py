"""Where this package's tools live in a Retell LLM or conversation flow, and what a sync
changes there (no I/O).

A Retell LLM holds tools in ``general_tools`` and in each state's ``tools``; tool names are
unique across all of them. Each of our tools is updated where it is found, never copied
elsewhere; a missing one goes to the place the caller names (``general_tools`` unless a
state is given). Every other tool, and the order of all of them, stays exactly as Retell
returned it.

A stored tool of ours is unchanged when every field we export has our value (a field
Retell leaves out counts as its default: ``method`` POST, ``args_at_root`` false,
``parameter_type`` json) and it carries no ``headers`` or ``query_params``, which we never
set: a dashboard edit of any of these is drift, and the sync writes our definition back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from retell_booking_tools.errors import RetellSyncError
from retell_booking_tools.retell_admin.export import REQUEST_SHAPE

ChangeKind = Literal["added", "changed", "unchanged", "kept"]
GENERAL_TOOLS = "general_tools"
"""Where a Retell LLM's general tools are; a state's are at ``state:<name>``."""
FLOW_TOOLS = "tools"
"""Where a conversation flow's tools are."""
FOREIGN_FIELDS = ("headers", "query_params")
"""Fields we never export: a stored tool of ours that carries them has drifted."""


@attrs.frozen
class ToolChange:
    """What a sync does to one tool, and where the tool is.

    ``added``/``changed``/``unchanged`` are this package's tools; ``kept`` is anyone
    else's, left untouched. ``fields`` names what differs for a ``changed`` tool;
    ``location`` is ``general_tools``, ``state:<name>`` or (a conversation flow) ``tools``.
    """

    name: str
    kind: ChangeKind
    fields: tuple[str, ...] = ()
    location: str = GENERAL_TOOLS


@attrs.frozen
class ToolPlan:
    """The tools of every place after the sync, and which places change."""

    places: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]
    changes: tuple[ToolChange, ...]
    changed_places: frozenset[str]

    def tools(self, location: str) -> list[dict[str, Any]]:
        return [dict(tool) for tool in dict(self.places)[location]]


def state_location(state: str) -> str:
    return f"state:{state}"


def drift(
    stored: Mapping[str, Any], ours: Mapping[str, Any], *, ignore: Iterable[str] = ()
) -> tuple[str, ...]:
    """The fields in which a stored tool differs from our definition (empty: unchanged)."""
    skipped = set(ignore)
    differing = [
        key
        for key, value in ours.items()
        if key not in skipped and stored.get(key, REQUEST_SHAPE.get(key)) != value
    ]
    differing += [key for key in FOREIGN_FIELDS if stored.get(key) and key not in ours]
    return tuple(differing)


def plan_places(
    places: Sequence[tuple[str, Sequence[Mapping[str, Any]] | None]],
    ours: Sequence[Mapping[str, Any]],
    *,
    owned: Iterable[str] | None = None,
    target: str | None = None,
    keep: Iterable[str] = (),
) -> ToolPlan:
    """Merge our tools into these places (``(location, tools)`` in Retell's order).

    ``owned`` are the names this package claims (default: those in ``ours``); ``target``
    is where missing tools go (default: the first place); ``keep`` are fields of a stored
    tool of ours that survive replacement (a flow's ``tool_id``, which nodes refer to).
    """
    wanted = {str(tool["name"]): dict(tool) for tool in ours}
    claimed = (set(owned) if owned is not None else set()) | set(wanted)
    kept_fields = tuple(keep)
    found: dict[str, str] = {}
    merged: list[tuple[str, list[dict[str, Any]]]] = []
    changes: list[ToolChange] = []
    changed_places: set[str] = set()
    for location, tools in places:
        result: list[dict[str, Any]] = []
        for stored in tools or []:
            name = str(stored.get("name", ""))
            if name not in claimed:
                result.append(dict(stored))
                label = name or f"<{stored.get('type', 'unnamed')}>"
                changes.append(ToolChange(label, "kept", location=location))
                continue
            if name in found:
                raise RetellSyncError(
                    f"two tools are named {name!r} ({found[name]} and {location}); "
                    "Retell needs unique names: remove one in Retell"
                )
            found[name] = location
            if name not in wanted:
                result.append(dict(stored))
                changes.append(ToolChange(name, "kept", location=location))
                continue
            fields = drift(stored, wanted[name], ignore=kept_fields)
            if fields:
                kept = {key: stored[key] for key in kept_fields if key in stored}
                result.append({**wanted[name], **kept})
                changes.append(ToolChange(name, "changed", fields, location))
                changed_places.add(location)
            else:
                result.append(dict(stored))
                changes.append(ToolChange(name, "unchanged", location=location))
        merged.append((location, result))
    if not merged:
        raise ValueError("no place to put tools in")
    destination = target if target is not None else merged[0][0]
    target_tools = dict(merged).get(destination)
    if target_tools is None:
        states = [location for location, _ in merged if location.startswith("state:")]
        known = ", ".join(location.removeprefix("state:") for location in states) or "none"
        raise RetellSyncError(
            f"there is no {destination.replace(':', ' ', 1)!r} to add tools to (states: {known})"
        )
    for name, tool in wanted.items():
        if name not in found:
            target_tools.append(tool)
            changes.append(ToolChange(name, "added", location=destination))
            changed_places.add(destination)
    order = {location: index for index, (location, _) in enumerate(merged)}
    return ToolPlan(
        places=tuple((location, tuple(tools)) for location, tools in merged),
        changes=tuple(sorted(changes, key=lambda change: order[change.location])),
        changed_places=frozenset(changed_places),
    )


def plan_general_tools(
    current: Sequence[Mapping[str, Any]] | None,
    ours: Sequence[Mapping[str, Any]],
    *,
    owned: Iterable[str] | None = None,
) -> tuple[list[dict[str, Any]], list[ToolChange]]:
    """The merged ``general_tools`` of a single-prompt LLM and the change for each entry."""
    plan = plan_places([(GENERAL_TOOLS, current)], ours, owned=owned)
    return plan.tools(GENERAL_TOOLS), list(plan.changes)


def plan_llm(
    document: Mapping[str, Any],
    ours: Sequence[Mapping[str, Any]],
    *,
    owned: Iterable[str] | None = None,
    state: str | None = None,
) -> ToolPlan:
    """The plan for a Retell LLM as retrieved: ``general_tools`` first, then every state."""
    places: list[tuple[str, Sequence[Mapping[str, Any]] | None]] = [
        (GENERAL_TOOLS, _tools(document.get(GENERAL_TOOLS), GENERAL_TOOLS))
    ]
    for entry in _states(document):
        location = state_location(str(entry.get("name", "")))
        places.append((location, _tools(entry.get("tools"), location)))
    target = None if state is None else state_location(state)
    return plan_places(places, ours, owned=owned, target=target)


def states_after(document: Mapping[str, Any], plan: ToolPlan) -> list[dict[str, Any]]:
    """The LLM's ``states`` as retrieved, each with its tools after the plan."""
    result = []
    for entry in _states(document):
        location = state_location(str(entry.get("name", "")))
        if location in plan.changed_places:
            result.append({**entry, "tools": plan.tools(location)})
        else:
            result.append(dict(entry))
    return result


def _states(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    states = document.get("states")
    if states is None:
        return []
    if not isinstance(states, list) or not all(isinstance(entry, dict) for entry in states):
        raise RetellSyncError("Retell returned the LLM's states in an odd shape")
    return states


def _tools(tools: Any, location: str) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise RetellSyncError(f"Retell returned {location} in an odd shape")
    return [tool for tool in tools if isinstance(tool, dict)]
