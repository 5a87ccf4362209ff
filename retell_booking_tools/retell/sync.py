"""Push the exported tools into a Retell LLM's ``general_tools`` with retell-sdk.

Only the tools this package serves (matched by name) are written: each is replaced in
place, or appended when the LLM lacks it. Every other tool, and the order of all of them,
stays exactly as Retell returned it. Nothing is written when nothing changed, or on a dry
run. ``import retell`` builds the whole API client and takes seconds, so the SDK is only
imported when a sync runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from retell_booking_tools.errors import ConfigurationError, RetellBookingError
from retell_booking_tools.retell.export import export_tools

if TYPE_CHECKING:
    from retell import AsyncRetell

ChangeKind = Literal["added", "changed", "unchanged", "kept"]
_MARKS: dict[ChangeKind, str] = {"added": "+", "changed": "~", "unchanged": "=", "kept": " "}


class RetellSyncError(RetellBookingError):
    """Retell could not be read or updated; the message says why, never the API key."""


@attrs.frozen
class ToolChange:
    """What a sync does to one entry of ``general_tools``.

    ``added``/``changed``/``unchanged`` are this package's tools; ``kept`` is anyone
    else's, left untouched. ``fields`` names what differs for a ``changed`` tool.
    """

    name: str
    kind: ChangeKind
    fields: tuple[str, ...] = ()


@attrs.frozen
class SyncReport:
    """The plan for one LLM and whether it was written."""

    llm_id: str
    changes: tuple[ToolChange, ...]
    general_tools: tuple[dict[str, Any], ...] = attrs.field(repr=False)
    """The complete ``general_tools`` after the sync."""
    updated: bool = False
    dry_run: bool = False

    @property
    def has_changes(self) -> bool:
        return any(change.kind in ("added", "changed") for change in self.changes)

    def diff_lines(self) -> list[str]:
        """A readable diff, one line per tool, then what happened."""
        lines = [f"Retell LLM {self.llm_id}: general_tools"]
        for change in self.changes:
            detail = f" ({', '.join(change.fields)})" if change.fields else ""
            lines.append(f"  {_MARKS[change.kind]} {change.name}: {change.kind}{detail}")
        counts = {kind: sum(c.kind == kind for c in self.changes) for kind in _MARKS}
        summary = ", ".join(f"{counts[kind]} {kind}" for kind in _MARKS)
        if self.dry_run:
            outcome = "dry run: nothing was written"
        elif self.updated:
            outcome = "updated"
        else:
            outcome = "already up to date: nothing was written"
        lines.append(f"{summary}; {outcome}")
        return lines


def plan_general_tools(
    current: Sequence[Mapping[str, Any]] | None,
    ours: Sequence[Mapping[str, Any]],
    *,
    owned: Iterable[str] | None = None,
) -> tuple[list[dict[str, Any]], list[ToolChange]]:
    """The merged ``general_tools`` and the change for each entry (no I/O).

    ``owned`` are the names this package claims (default: those in ``ours``). A stored tool
    of ours counts as unchanged when every field we define has our value; fields Retell
    adds on its side do not make it differ.
    """
    wanted = {str(tool["name"]): dict(tool) for tool in ours}
    claimed = set(owned) if owned is not None else set(wanted)
    claimed |= set(wanted)
    merged: list[dict[str, Any]] = []
    changes: list[ToolChange] = []
    seen: set[str] = set()
    for stored in current or []:
        name = str(stored.get("name", ""))
        if name not in claimed:
            merged.append(dict(stored))
            changes.append(ToolChange(name or f"<{stored.get('type', 'unnamed')}>", "kept"))
            continue
        if name in seen:
            raise RetellSyncError(f"the LLM holds two tools named {name!r}; remove one in Retell")
        seen.add(name)
        if name not in wanted:
            merged.append(dict(stored))
            changes.append(ToolChange(name, "kept"))
            continue
        differing = tuple(key for key, value in wanted[name].items() if stored.get(key) != value)
        if differing:
            merged.append(wanted[name])
            changes.append(ToolChange(name, "changed", differing))
        else:
            merged.append(dict(stored))
            changes.append(ToolChange(name, "unchanged"))
    for name, tool in wanted.items():
        if name not in seen:
            merged.append(tool)
            changes.append(ToolChange(name, "added"))
    return merged, changes


async def sync_tools(
    llm_id: str,
    base_url: str,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    dry_run: bool = False,
    tools: Iterable[str] | None = None,
    client: AsyncRetell | None = None,
) -> SyncReport:
    """Read the LLM, merge this package's tools into ``general_tools``, write if changed.

    ``api_key`` defaults to ``RETELL_API_KEY``; ``api_url`` to retell-sdk's default (or
    ``RETELL_BASE_URL``). ``tools`` limits the sync to those names (the LLM's copies of
    the others are kept as they are). Pass ``client`` to reuse your own ``AsyncRetell``.
    Raises RetellSyncError when Retell refuses or cannot be reached.
    """
    from retell_booking_tools.tools import ALL_TOOLS

    ours = export_tools(base_url, tools=tools)
    owned_client = client is None
    if client is None:
        client = _client(api_key, api_url)
    try:
        current = await _general_tools(client, llm_id)
        merged, changes = plan_general_tools(current, ours, owned=[tool.name for tool in ALL_TOOLS])
        report = SyncReport(
            llm_id=llm_id, changes=tuple(changes), general_tools=tuple(merged), dry_run=dry_run
        )
        if dry_run or not report.has_changes:
            return report
        await _call(client.llm.update(llm_id, general_tools=merged), llm_id)  # type: ignore[arg-type]
        return attrs.evolve(report, updated=True)
    finally:
        if owned_client:
            await client.close()


def _client(api_key: str | None, api_url: str | None) -> AsyncRetell:
    key = api_key or os.environ.get("RETELL_API_KEY")
    if not key:
        raise ConfigurationError("RETELL_API_KEY is not set: it is needed to update the Retell LLM")
    from retell import AsyncRetell

    return AsyncRetell(api_key=key, base_url=api_url, max_retries=2)


async def _general_tools(client: AsyncRetell, llm_id: str) -> list[dict[str, Any]]:
    """The LLM's tools exactly as Retell sent them (raw JSON, no SDK model in between)."""
    response = await _call(client.llm.with_raw_response.retrieve(llm_id), llm_id)
    document = await response.json()
    tools = document.get("general_tools") if isinstance(document, dict) else None
    if tools is not None and not isinstance(tools, list):
        raise RetellSyncError(f"Retell returned general_tools of LLM {llm_id!r} in an odd shape")
    return [tool for tool in tools or [] if isinstance(tool, dict)]


async def _call(awaitable: Any, llm_id: str) -> Any:
    """Await a retell-sdk request, turning its errors into RetellSyncError."""
    import retell

    try:
        return await awaitable
    except retell.AuthenticationError:
        raise RetellSyncError("Retell refused the API key (401): check RETELL_API_KEY") from None
    except retell.NotFoundError:
        raise RetellSyncError(f"Retell has no LLM {llm_id!r} (404)") from None
    except retell.APIStatusError as exc:
        raise RetellSyncError(
            f"Retell answered {exc.status_code} for LLM {llm_id!r}: {_message(exc.body)}"
        ) from None
    except retell.APIConnectionError as exc:
        raise RetellSyncError(f"could not reach Retell: {type(exc).__name__}") from None


def _message(body: object) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error_message") or "no details")[:200]
    return "no details"
