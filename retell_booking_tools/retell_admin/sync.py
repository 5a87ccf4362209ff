"""Keep a Retell LLM's or conversation flow's copies of this package's tools in step.

A sync reads the latest version (raw JSON, no SDK model in between), plans the change
(:mod:`.plan`), and writes only the fields that change (``general_tools``, ``states`` or
a flow's ``tools``) to exactly the version it read. Retell keeps versions: a published
one cannot be changed, so a sync refuses to write it, and a write to a draft reaches
callers only once the agent is published (``publish_agent``) or through a phone number
that uses the agent's latest version. The report says which version was read and
written and whether the agent was published; after publishing it lists the phone numbers
bound to the agent and says which of them still reach another version (a number pinned
to an older version or a tag), and says ``updated`` only when a caller can reach the new
tools. Nothing is written on a dry run.

``import retell`` builds the whole API client and takes seconds, so the SDK is only
imported when a sync runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from retell_booking_tools.errors import ConfigurationError, RetellSyncError
from retell_booking_tools.ops.history import masked_number
from retell_booking_tools.retell_admin.export import export_tools
from retell_booking_tools.retell_admin.plan import (
    FLOW_TOOLS,
    GENERAL_TOOLS,
    ToolChange,
    ToolPlan,
    plan_llm,
    plan_places,
    states_after,
)
from retell_booking_tools.tools import ALL_TOOLS

if TYPE_CHECKING:
    from retell import AsyncRetell

ResourceKind = Literal["llm", "conversation-flow"]
_MARKS = {"added": "+", "changed": "~", "unchanged": "=", "kept": " "}
_NAMES: dict[ResourceKind, str] = {"llm": "Retell LLM", "conversation-flow": "conversation flow"}
PUBLISH_HINT = "publish the agent to make it live (tools sync --publish-agent AGENT_ID)"


@attrs.frozen
class AgentPublication:
    """An agent version a sync published (with the LLM or flow version it uses)."""

    agent_id: str
    version: int


@attrs.frozen
class PinnedNumber:
    """A phone number (masked) bound to the agent at a version other than the one published.

    ``pin`` is its ``agent_version``: a version number, or a tag this sync cannot resolve.
    """

    number: str
    pin: int | str

    @property
    def label(self) -> str:
        return f"version {self.pin}" if isinstance(self.pin, int) else f"tag {self.pin!r}"


@attrs.frozen
class SyncReport:
    """The plan for one Retell LLM or conversation flow, and what was done.

    ``updated`` is True when Retell was written; ``published`` names the agent version
    published afterwards. Only then do callers of a published agent reach the new tools,
    and only through the phone numbers in ``live_numbers`` (or web and API calls when no
    number uses the agent).
    """

    llm_id: str | None
    changes: tuple[ToolChange, ...]
    general_tools: tuple[dict[str, Any], ...] = attrs.field(repr=False)
    """The complete ``general_tools`` after the sync (a conversation flow's ``tools``)."""
    updated: bool = False
    dry_run: bool = False
    conversation_flow_id: str | None = None
    states: tuple[dict[str, Any], ...] | None = attrs.field(default=None, repr=False)
    """The LLM's ``states`` after the sync (None when it has none, or for a flow)."""
    version: int | None = None
    """The version read, and written when ``updated``."""
    is_published: bool = False
    """The version read is published, so it cannot be changed."""
    strict: bool = False
    """The LLM (or flow) has ``tool_call_strict_mode`` on: strict schemas were planned."""
    publish_agent: str | None = None
    published: AgentPublication | None = None
    numbers_checked: bool = False
    """The agent's phone numbers were read (after publishing, or for a dry run's plan)."""
    live_numbers: tuple[str, ...] = ()
    """Numbers (masked) whose callers reach the published (or to be published) version."""
    pinned_numbers: tuple[PinnedNumber, ...] = ()
    """Numbers (masked) bound to the agent that keep reaching another version."""

    @property
    def reaches_callers(self) -> bool:
        """A number reaches the published version, or no number uses the agent at all."""
        return bool(self.live_numbers) or not self.pinned_numbers

    @property
    def kind(self) -> ResourceKind:
        return "conversation-flow" if self.conversation_flow_id is not None else "llm"

    @property
    def resource_id(self) -> str:
        return self.conversation_flow_id or self.llm_id or ""

    @property
    def has_changes(self) -> bool:
        return any(change.kind in ("added", "changed") for change in self.changes)

    @property
    def refused(self) -> bool:
        """Writing is not possible: the version read is published and tools would change."""
        return self.has_changes and self.is_published

    def diff_lines(self) -> list[str]:
        """A readable diff, one line per tool under the place it is in, then the outcome."""
        state = "published" if self.is_published else "draft"
        version = "" if self.version is None else f" version {self.version} ({state})"
        strict = ", strict schemas" if self.strict else ""
        lines = [f"{_NAMES[self.kind]} {self.resource_id}{version}{strict}"]
        location = None
        for change in self.changes:
            if change.location != location:
                location = change.location
                lines.append(f"  {location}")
            detail = f" ({', '.join(change.fields)})" if change.fields else ""
            lines.append(f"    {_MARKS[change.kind]} {change.name}: {change.kind}{detail}")
        counts = {kind: sum(c.kind == kind for c in self.changes) for kind in _MARKS}
        summary = ", ".join(f"{counts[kind]} {kind}" for kind in _MARKS)
        lines.append(f"{summary}; {self.outcome()}")
        return lines

    def outcome(self) -> str:
        """What happened, or on a dry run what a sync would do."""
        version = "the latest version" if self.version is None else f"version {self.version}"
        agent = f" and publish agent {self.publish_agent}" if self.publish_agent else ""
        if self.dry_run:
            if self.refused:
                return (
                    f"dry run: nothing was written; a sync would be refused: {version} is published"
                )
            numbers = self._numbers_note(would=True)
            if self.has_changes:
                return f"dry run: nothing was written; a sync would write {version}{agent}{numbers}"
            if self.publish_agent and not self.is_published:
                return (
                    "dry run: nothing was written; up to date, a sync would publish agent "
                    f"{self.publish_agent}{numbers}"
                )
            return "dry run: nothing was written; already up to date"
        published = ""
        if self.published is not None:
            published = (
                f"published agent {self.published.agent_id} version {self.published.version}"
            )
        numbers = self._numbers_note(would=False)
        if not self.updated:
            if published:
                return f"already up to date: nothing was written; {published}{numbers}"
            return "already up to date: nothing was written"
        if published and self.reaches_callers:
            return f"updated: wrote {version} and {published}{numbers}"
        if published:
            return f"wrote {version} and {published}, but no caller reaches it{numbers}"
        return (
            f"wrote {version}, a draft: callers reach it only through a phone number on the "
            f"agent's latest version; {PUBLISH_HINT}"
        )

    def _numbers_note(self, *, would: bool) -> str:
        """Which phone numbers reach the new tools and which keep the old ones."""
        if not self.numbers_checked:
            return ""
        if not self.live_numbers and not self.pinned_numbers:
            return "; no phone number uses this agent"
        notes = []
        if self.live_numbers:
            verb = "would reach" if would else "reach"
            notes.append(f"callers {verb} it through {', '.join(self.live_numbers)}")
        groups: dict[str, list[str]] = {}
        for pinned in self.pinned_numbers:
            groups.setdefault(pinned.label, []).append(pinned.number)
        for label, numbers in groups.items():
            if label.startswith("tag "):  # a tag is not resolved: it may be the new version
                verb = "may still reach"
            else:
                verb = "would still reach" if would else "still reach"
            notes.append(
                f"{len(numbers)} number(s) pinned to {label} {verb} the old tools: "
                + ", ".join(numbers)
            )
        return "; " + "; ".join(notes)


async def sync_tools(
    llm_id: str,
    base_url: str,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    dry_run: bool = False,
    tools: Iterable[str] | None = None,
    client: AsyncRetell | None = None,
    state: str | None = None,
    publish_agent: str | None = None,
) -> SyncReport:
    """Read the LLM's latest version, update our tools where they are, write if changed.

    ``api_key`` defaults to ``RETELL_API_KEY``; ``api_url`` to retell-sdk's default (or
    ``RETELL_BASE_URL``). ``tools`` limits the sync to those names (the LLM's copies of
    the others are kept as they are); ``state`` is where missing tools go (default
    ``general_tools``); ``publish_agent`` publishes that agent (which must use this LLM's
    version) after the sync, then reads which phone numbers reach the version published.
    Pass ``client`` to reuse your own ``AsyncRetell``. Raises RetellSyncError when Retell
    refuses, cannot be reached, or the version is published; one raised after a write
    (publishing, or listing the phone numbers, failed) says what was written.
    """
    return await _sync(
        _Target("llm", llm_id),
        base_url,
        api_key=api_key,
        api_url=api_url,
        dry_run=dry_run,
        tools=tools,
        client=client,
        state=state,
        publish_agent=publish_agent,
    )


async def sync_conversation_flow_tools(
    conversation_flow_id: str,
    base_url: str,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    dry_run: bool = False,
    tools: Iterable[str] | None = None,
    client: AsyncRetell | None = None,
    publish_agent: str | None = None,
) -> SyncReport:
    """:func:`sync_tools` for a conversation flow's ``tools``; nodes are never touched.

    A stored tool of ours keeps its ``tool_id``, so the nodes that refer to it still do.
    """
    return await _sync(
        _Target("conversation-flow", conversation_flow_id),
        base_url,
        api_key=api_key,
        api_url=api_url,
        dry_run=dry_run,
        tools=tools,
        client=client,
        state=None,
        publish_agent=publish_agent,
    )


@attrs.frozen
class _Target:
    kind: ResourceKind
    id: str

    @property
    def label(self) -> str:
        return f"{_NAMES[self.kind]} {self.id!r}"


async def _sync(
    target: _Target,
    base_url: str,
    *,
    api_key: str | None,
    api_url: str | None,
    dry_run: bool,
    tools: Iterable[str] | None,
    client: AsyncRetell | None,
    state: str | None,
    publish_agent: str | None,
) -> SyncReport:
    names = list(tools) if tools is not None else None
    export_tools(base_url, tools=names)  # a bad URL or tool name fails before any request
    owned_client = client is None
    if client is None:
        client = _client(api_key, api_url)
    try:
        document = await _retrieve(client, target)
        version = document.get("version")
        strict = bool(document.get("tool_call_strict_mode"))
        plan, fields = _plan(target, document, base_url, names, strict=strict, state=state)
        report = SyncReport(
            llm_id=target.id if target.kind == "llm" else None,
            conversation_flow_id=target.id if target.kind == "conversation-flow" else None,
            changes=plan.changes,
            general_tools=tuple(plan.tools(plan.places[0][0])),
            states=tuple(fields["states"]) if "states" in fields else _states_of(document),
            dry_run=dry_run,
            version=version if isinstance(version, int) else None,
            is_published=document.get("is_published") is True,
            strict=strict,
            publish_agent=publish_agent,
        )
        agent_version = None
        if publish_agent is not None:
            agent_version = await _publishable_agent(client, publish_agent, target, report)
        if report.refused and not dry_run:
            raise RetellSyncError(
                f"version {report.version} of {target.label} is published and cannot be "
                "changed; nothing was written. Make a new draft version in Retell (edit the "
                "agent in the dashboard, or agent.create_version) and sync again"
            )
        if dry_run:
            if agent_version is not None and publish_agent is not None and not report.refused:
                report = await _with_numbers(client, report, publish_agent, agent_version)
            return report
        if report.has_changes:
            await _update(client, target, report.version, fields)
            report = attrs.evolve(report, updated=True)
        if agent_version is not None and publish_agent is not None:
            try:
                await _call(
                    client.agent.publish(publish_agent, version=agent_version),
                    "agent",
                    publish_agent,
                )
            except RetellSyncError as exc:
                written = (
                    f"wrote {_version_text(report.version)} (a draft)"
                    if report.updated
                    else "nothing was written"
                )
                raise RetellSyncError(
                    f"{written}; publishing agent {publish_agent!r} failed: {exc}"
                ) from None
            report = attrs.evolve(report, published=AgentPublication(publish_agent, agent_version))
            try:
                report = await _with_numbers(client, report, publish_agent, agent_version)
            except RetellSyncError as exc:
                written = f"wrote {_version_text(report.version)} and " if report.updated else ""
                raise RetellSyncError(
                    f"{written}published agent {publish_agent} version {agent_version}; listing "
                    f"the phone numbers failed, so which callers reach it is unknown: {exc}"
                ) from None
        return report
    finally:
        if owned_client:
            await client.close()


def _plan(
    target: _Target,
    document: Mapping[str, Any],
    base_url: str,
    names: list[str] | None,
    *,
    strict: bool,
    state: str | None,
) -> tuple[ToolPlan, dict[str, Any]]:
    """The plan and the fields to send (only those that change)."""
    owned = [tool.name for tool in ALL_TOOLS]
    fields: dict[str, Any] = {}
    if target.kind == "conversation-flow":
        ours = export_tools(base_url, tools=names, format="conversation-flow", strict=strict)
        tools = document.get(FLOW_TOOLS)
        if tools is not None and not isinstance(tools, list):
            raise RetellSyncError(f"Retell returned the tools of {target.label} in an odd shape")
        plan = plan_places([(FLOW_TOOLS, tools)], ours, owned=owned, keep=("tool_id",))
        if plan.changed_places:
            fields[FLOW_TOOLS] = plan.tools(FLOW_TOOLS)
        return plan, fields
    ours = export_tools(base_url, tools=names, strict=strict)
    plan = plan_llm(document, ours, owned=owned, state=state)
    if GENERAL_TOOLS in plan.changed_places:
        fields[GENERAL_TOOLS] = plan.tools(GENERAL_TOOLS)
    if plan.changed_places - {GENERAL_TOOLS}:
        fields["states"] = states_after(document, plan)
    return plan, fields


def _states_of(document: Mapping[str, Any]) -> tuple[dict[str, Any], ...] | None:
    states = document.get("states")
    return tuple(states) if isinstance(states, list) else None


async def _publishable_agent(
    client: AsyncRetell, agent_id: str, target: _Target, report: SyncReport
) -> int | None:
    """The agent version to publish after the sync, or None when it is already published.

    The agent's latest version must use exactly the version the sync reads, or publishing
    it would not make our tools live.
    """
    response = await _call(client.agent.with_raw_response.retrieve(agent_id), "agent", agent_id)
    agent = await response.json()
    engine = agent.get("response_engine") if isinstance(agent, dict) else None
    engine = engine if isinstance(engine, dict) else {}
    key = "llm_id" if target.kind == "llm" else "conversation_flow_id"
    if engine.get(key) != target.id:
        uses = engine.get(key) or engine.get("type") or "another response engine"
        raise RetellSyncError(f"agent {agent_id!r} does not use {target.label} (it uses {uses})")
    agent_version = agent.get("version")
    engine_version = engine.get("version")
    if isinstance(engine_version, float) and engine_version.is_integer():
        engine_version = int(engine_version)
    if (
        engine_version is not None
        and report.version is not None
        and engine_version != report.version
    ):
        raise RetellSyncError(
            f"the latest version of agent {agent_id!r} uses version {engine_version} of "
            f"{target.label}, not version {report.version}; nothing was written"
        )
    if agent.get("is_published") is True:
        if report.has_changes:
            raise RetellSyncError(
                f"the latest version of agent {agent_id!r} is already published; nothing "
                "was written. Make a new draft version in Retell and sync again"
            )
        return None
    if not isinstance(agent_version, int):
        raise RetellSyncError(f"Retell returned agent {agent_id!r} without a version")
    return agent_version


def _version_text(version: int | None) -> str:
    return "the latest version" if version is None else f"version {version}"


async def _with_numbers(
    client: AsyncRetell, report: SyncReport, agent_id: str, published: int
) -> SyncReport:
    """The report with the agent's phone numbers: which reach version ``published``.

    A binding without ``agent_version``, or on ``"latest"`` or ``"latest_published"``,
    reaches it (the version published is the agent's latest); a number reaches it only
    if it equals ``published``; a tag is not resolved here, so it counts as pinned.
    """
    live: list[str] = []
    pinned: list[PinnedNumber] = []
    for number in await _phone_numbers(client):
        masked = masked_number(str(number.get("phone_number") or "")) or "***"
        pins = _pins(number, agent_id)
        reaches = False
        for pin in pins:
            resolved = _resolved(pin, published)
            if resolved is None:
                reaches = True
            elif PinnedNumber(masked, resolved) not in pinned:
                pinned.append(PinnedNumber(masked, resolved))
        if reaches and masked not in live:
            live.append(masked)
    return attrs.evolve(
        report, numbers_checked=True, live_numbers=tuple(live), pinned_numbers=tuple(pinned)
    )


def _pins(number: Mapping[str, Any], agent_id: str) -> list[object]:
    """The ``agent_version`` of each of the number's bindings to the agent.

    retell-sdk 6.x binds agents in ``inbound_agents`` and ``outbound_agents``; a number
    without those lists may still carry the older single binding
    (``inbound_agent_id`` / ``inbound_agent_version``, the same for outbound).
    """
    pins: list[object] = []
    for direction in ("inbound", "outbound"):
        bindings = number.get(f"{direction}_agents")
        if isinstance(bindings, list):
            pins += [
                binding.get("agent_version")
                for binding in bindings
                if isinstance(binding, dict) and binding.get("agent_id") == agent_id
            ]
        elif number.get(f"{direction}_agent_id") == agent_id:
            pins.append(number.get(f"{direction}_agent_version"))
    return pins


def _resolved(pin: object, published: int) -> int | str | None:
    """None when ``pin`` reaches version ``published``, else the version or tag it keeps."""
    if pin is None or pin in ("latest", "latest_published"):
        return None
    if isinstance(pin, float) and pin.is_integer():
        pin = int(pin)
    if isinstance(pin, str) and pin.isdigit():
        pin = int(pin)
    if isinstance(pin, int) and not isinstance(pin, bool):
        return None if pin == published else pin
    return str(pin)


async def _phone_numbers(client: AsyncRetell) -> list[dict[str, Any]]:
    """Every phone number of the account, exactly as Retell sent them, page by page."""
    numbers: list[dict[str, Any]] = []
    pagination_key: str | None = None
    while True:
        options: dict[str, Any] = {}
        if pagination_key is not None:
            options["pagination_key"] = pagination_key
        response = await _call(
            client.phone_number.with_raw_response.list(**options), "phone numbers", "list"
        )
        page = await response.json()
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise RetellSyncError("Retell returned the phone numbers in an odd shape")
        numbers += [item for item in items if isinstance(item, dict)]
        next_key = page.get("pagination_key")
        if page.get("has_more") is not True or not isinstance(next_key, str):
            return numbers
        if not next_key or next_key == pagination_key:
            return numbers
        pagination_key = next_key


def _client(api_key: str | None, api_url: str | None) -> AsyncRetell:
    key = api_key or os.environ.get("RETELL_API_KEY")
    if not key:
        raise ConfigurationError("RETELL_API_KEY is not set: it is needed to update the Retell LLM")
    from retell import AsyncRetell

    return AsyncRetell(api_key=key, base_url=api_url, max_retries=2)


async def _retrieve(client: AsyncRetell, target: _Target) -> dict[str, Any]:
    """The latest version exactly as Retell sent it."""
    resource = client.llm if target.kind == "llm" else client.conversation_flow
    response = await _call(resource.with_raw_response.retrieve(target.id), *_what(target))
    document = await response.json()
    if not isinstance(document, dict):
        raise RetellSyncError(f"Retell returned {target.label} in an odd shape")
    return document


async def _update(
    client: AsyncRetell, target: _Target, version: int | None, fields: Mapping[str, Any]
) -> None:
    """Write the changed fields to exactly the version read."""
    options: dict[str, Any] = dict(fields)
    if version is not None:
        options["version"] = version
    if target.kind == "llm":
        await _call(client.llm.update(target.id, **options), *_what(target))
    else:
        await _call(client.conversation_flow.update(target.id, **options), *_what(target))


def _what(target: _Target) -> tuple[str, str]:
    return ("LLM" if target.kind == "llm" else "conversation flow"), target.id


async def _call(awaitable: Any, what: str, identifier: str) -> Any:
    """Await a retell-sdk request, turning its errors into RetellSyncError."""
    import retell

    try:
        return await awaitable
    except retell.AuthenticationError:
        raise RetellSyncError("Retell refused the API key (401): check RETELL_API_KEY") from None
    except retell.NotFoundError:
        raise RetellSyncError(f"Retell has no {what} {identifier!r} (404)") from None
    except retell.APIStatusError as exc:
        raise RetellSyncError(
            f"Retell answered {exc.status_code} for {what} {identifier!r}: {_message(exc.body)}"
        ) from None
    except retell.APIConnectionError as exc:
        raise RetellSyncError(f"could not reach Retell: {type(exc).__name__}") from None


def _message(body: object) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error_message") or "no details")[:200]
    return "no details"
