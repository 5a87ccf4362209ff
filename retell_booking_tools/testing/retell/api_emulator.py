"""An emulated Retell API: LLMs, conversation flows and agents, with their versions, as
retell-sdk 6.x calls them, so tool sync can be tested (and recorded) without an account.

    emulator = RetellApiEmulator(api_key="key_test")
    emulator.add_llm("llm_demo", general_tools=[{"type": "end_call", "name": "end_call"}])
    emulator.add_agent("agent_demo", llm_id="llm_demo")
    async with serve_asgi(emulator.asgi_app) as url:
        client = AsyncRetell(api_key="key_test", base_url=url)

Routes (paths and methods as in retell-sdk's ``resources/llm.py``,
``conversation_flow.py`` and ``agent.py``), authorised by ``Authorization: Bearer <key>``:
``GET /get-retell-llm/{id}``, ``PATCH /update-retell-llm/{id}``,
``GET /get-conversation-flow/{id}``, ``PATCH /update-conversation-flow/{id}``,
``GET /get-agent/{id}``, ``POST /publish-agent-version/{id}`` (body ``{"version"}``) and
``POST /create-agent-version/{id}`` (body ``{"base_version"}``) and
``GET /v2/list-phone-numbers`` (``limit``, ``pagination_key``, ``sort_order``; answers
``{"items", "has_more", "pagination_key"}`` as retell-sdk's ``PhoneNumberListResponse``).
Reads and updates take ``?version=N`` (default: the latest version).

Kept as Retell keeps them (retell-sdk's docstrings): every resource has numbered versions;
a PATCH replaces exactly the fields it is given in one version and bumps
``last_modification_timestamp``; a published version cannot be changed; publishing an
agent version publishes it in place, with the LLM or flow version it uses; a new agent
version is a draft copied from a base version, with a new draft of its response engine;
phone numbers bind agents through ``inbound_agents`` / ``outbound_agents``, each entry an
``agent_id``, a ``weight`` and an ``agent_version`` (a number, a tag, ``"latest"`` or
``"latest_published"``), as retell-sdk's ``PhoneNumberResponse`` has them.
Refused as Retell refuses: tools that do not match retell-sdk's tool types (422), tool
names that repeat across general tools, state tools and state edges (a state edge is a
tool named ``transition_to_<state>``), states without a valid ``starting_state``, a flow
node whose ``tool_id`` names no tool, updates of a published version (400).

Not documented by Retell, so guessed: the wording and shape of error bodies
(``{"status": "error", "message": ...}``) and status codes other than 401/404, whether a
conversation flow's JSON carries ``is_published`` (here it does), which fields Retell
adds to stored tools (here none), the phone number list's page size (here 50) and what its
``pagination_key`` is (here the last number of the page). ``refuse_next`` makes the next
request to a route fail, for the failures Retell gives no way to provoke.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import TYPE_CHECKING, Any, Literal

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.errors import RetellBookingError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

ResourceKind = Literal["llm", "conversation-flow", "agent"]
_READ_ONLY = frozenset(
    {
        "llm_id",
        "conversation_flow_id",
        "agent_id",
        "version",
        "last_modification_timestamp",
        "is_published",
    }
)
_ID_FIELDS: dict[ResourceKind, str] = {
    "llm": "llm_id",
    "conversation-flow": "conversation_flow_id",
    "agent": "agent_id",
}


class RetellApiRefusal(RetellBookingError):
    """What the emulated API answers instead of doing what was asked (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class RetellApiRequest:
    """One request the emulator received, for assertions (the API key is not kept)."""

    method: str
    path: str
    body: dict[str, Any] | None = attrs.field(hash=False, default=None)
    query: str = ""


class RetellApiEmulator:
    """Retell LLMs, conversation flows and agents in memory, served as Retell's HTTP API."""

    def __init__(self, *, api_key: str, clock: Clock = system_clock) -> None:
        self._api_key = api_key
        self._clock = clock
        self._versions: dict[ResourceKind, dict[str, list[dict[str, Any]]]] = {
            "llm": {},
            "conversation-flow": {},
            "agent": {},
        }
        self._phone_numbers: dict[str, dict[str, Any]] = {}
        self._refusals: dict[str, RetellApiRefusal] = {}
        self.requests: list[RetellApiRequest] = []
        self.asgi_app = Starlette(
            routes=[
                Route("/get-retell-llm/{id}", self._get_llm, methods=["GET"]),
                Route("/update-retell-llm/{id}", self._update_llm, methods=["PATCH"]),
                Route("/get-conversation-flow/{id}", self._get_flow, methods=["GET"]),
                Route("/update-conversation-flow/{id}", self._update_flow, methods=["PATCH"]),
                Route("/get-agent/{id}", self._get_agent, methods=["GET"]),
                Route("/publish-agent-version/{id}", self._publish, methods=["POST"]),
                Route("/create-agent-version/{id}", self._create_version, methods=["POST"]),
                Route("/v2/list-phone-numbers", self._list_phone_numbers, methods=["GET"]),
            ]
        )

    # -- setting up -----------------------------------------------------------------------

    def add_llm(self, llm_id: str, **fields: Any) -> dict[str, Any]:
        """Create a Retell LLM at version 0, a draft (``general_tools``, ``states``, ...)."""
        return self._add(
            "llm",
            llm_id,
            {
                "model": "gpt-4.1",
                "start_speaker": "agent",
                "general_prompt": None,
                "general_tools": None,
                **fields,
            },
        )

    def add_conversation_flow(self, conversation_flow_id: str, **fields: Any) -> dict[str, Any]:
        """Create a conversation flow at version 0, a draft (``nodes``, ``tools``, ...)."""
        return self._add(
            "conversation-flow",
            conversation_flow_id,
            {"start_speaker": "agent", "nodes": [], "tools": None, **fields},
        )

    def add_agent(
        self,
        agent_id: str,
        *,
        llm_id: str | None = None,
        conversation_flow_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an agent at version 0, a draft using the latest version of its engine."""
        if (llm_id is None) == (conversation_flow_id is None):
            raise ValueError("an agent uses exactly one of llm_id and conversation_flow_id")
        if llm_id is not None:
            engine: dict[str, Any] = {"type": "retell-llm", "llm_id": llm_id}
            engine["version"] = self._latest("llm", llm_id)["version"]
        else:
            flow_id = str(conversation_flow_id)
            engine = {"type": "conversation-flow", "conversation_flow_id": flow_id}
            engine["version"] = self._latest("conversation-flow", flow_id)["version"]
        return self._add(
            "agent",
            agent_id,
            {
                "agent_name": agent_id,
                "voice_id": "11labs-Adrian",
                "response_engine": engine,
                **fields,
            },
        )

    def publish_agent(self, agent_id: str, version: int | None = None) -> None:
        """Publish an agent version (default: the latest) and the engine version it uses."""
        if version is None:
            version = int(self._latest("agent", agent_id)["version"])
        self._publish_version(agent_id, version)

    def new_agent_version(self, agent_id: str, base_version: int | None = None) -> dict[str, Any]:
        """A new draft agent version (and engine version) copied from ``base_version``."""
        base = self._latest("agent", agent_id)["version"] if base_version is None else base_version
        return self._new_agent_version(agent_id, base)

    def add_phone_number(
        self,
        phone_number: str,
        *,
        inbound_agents: list[dict[str, Any]] | None = None,
        outbound_agents: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A Retell phone number (E.164) bound to agents: ``{"agent_id", "agent_version"}``.

        ``weight`` defaults to an even share of the list.
        """
        document: dict[str, Any] = {
            "phone_number": phone_number,
            "phone_number_type": "retell-twilio",
            "last_modification_timestamp": self._millis(),
            **copy.deepcopy(fields),
        }
        for field, agents in (
            ("inbound_agents", inbound_agents),
            ("outbound_agents", outbound_agents),
        ):
            if agents is not None:
                document[field] = [
                    {"weight": 1 / len(agents), **copy.deepcopy(agent)} for agent in agents
                ]
        self._phone_numbers[phone_number] = document
        return copy.deepcopy(document)

    def refuse_next(self, route: str, status: int, message: str) -> None:
        """The next request to ``route`` (e.g. ``"publish-agent-version"``) is refused."""
        self._refusals[route] = RetellApiRefusal(status, message)

    # -- reading, for assertions ----------------------------------------------------------

    def llm(self, llm_id: str, version: int | None = None) -> dict[str, Any]:
        """A stored LLM version (default: the latest) as the API would return it."""
        return copy.deepcopy(self._version("llm", llm_id, version))

    def conversation_flow(self, flow_id: str, version: int | None = None) -> dict[str, Any]:
        return copy.deepcopy(self._version("conversation-flow", flow_id, version))

    def agent(self, agent_id: str, version: int | None = None) -> dict[str, Any]:
        return copy.deepcopy(self._version("agent", agent_id, version))

    # -- the store --------------------------------------------------------------------------

    def _add(self, kind: ResourceKind, identifier: str, fields: dict[str, Any]) -> dict[str, Any]:
        problem = _problem(kind, fields)
        if problem:
            raise ValueError(problem)
        document = {
            _ID_FIELDS[kind]: identifier,
            "version": 0,
            "is_published": False,
            **copy.deepcopy(fields),
            "last_modification_timestamp": self._millis(),
        }
        self._versions[kind][identifier] = [document]
        return copy.deepcopy(document)

    def _latest(self, kind: ResourceKind, identifier: str) -> dict[str, Any]:
        return self._version(kind, identifier, None)

    def _version(self, kind: ResourceKind, identifier: str, version: int | None) -> dict[str, Any]:
        versions = self._versions[kind].get(identifier)
        if not versions:
            raise RetellApiRefusal(404, "Not Found")
        if version is None:
            return versions[-1]
        if not 0 <= version < len(versions):
            raise RetellApiRefusal(404, f"version {version} not found")
        return versions[version]

    def _publish_version(self, agent_id: str, version: int) -> None:
        agent = self._version("agent", agent_id, version)
        if agent["is_published"]:
            raise RetellApiRefusal(400, f"version {version} of the agent is already published")
        kind, identifier, engine_version_number = _engine(agent)
        engine_version = self._version(kind, identifier, engine_version_number)
        agent["is_published"] = True
        engine_version["is_published"] = True

    def _new_agent_version(self, agent_id: str, base_version: int) -> dict[str, Any]:
        base = self._version("agent", agent_id, base_version)
        engine = dict(base["response_engine"])
        kind, identifier, engine_version_number = _engine(base)
        engine_versions = self._versions[kind][identifier]
        source = self._version(kind, identifier, engine_version_number)
        engine_versions.append(
            {
                **copy.deepcopy(source),
                "version": len(engine_versions),
                "is_published": False,
                "last_modification_timestamp": self._millis(),
            }
        )
        engine["version"] = engine_versions[-1]["version"]
        versions = self._versions["agent"][agent_id]
        versions.append(
            {
                **copy.deepcopy(base),
                "version": len(versions),
                "is_published": False,
                "response_engine": engine,
                "last_modification_timestamp": self._millis(),
            }
        )
        return copy.deepcopy(versions[-1])

    def _millis(self) -> int:
        return int(self._clock().timestamp() * 1000)

    # -- HTTP -------------------------------------------------------------------------------

    async def _get_llm(self, request: Request) -> Response:
        return await self._serve(request, lambda: self._read("llm", request))

    async def _get_flow(self, request: Request) -> Response:
        return await self._serve(request, lambda: self._read("conversation-flow", request))

    async def _get_agent(self, request: Request) -> Response:
        return await self._serve(request, lambda: self._read("agent", request))

    async def _update_llm(self, request: Request) -> Response:
        body = await _json_body(request)
        return await self._serve(request, lambda: self._write("llm", request, body), body)

    async def _update_flow(self, request: Request) -> Response:
        body = await _json_body(request)
        return await self._serve(
            request, lambda: self._write("conversation-flow", request, body), body
        )

    async def _publish(self, request: Request) -> Response:
        body = await _json_body(request)

        def publish() -> Response:
            self._publish_version(request.path_params["id"], _required_int(body, "version"))
            return Response(status_code=200)

        return await self._serve(request, publish, body)

    async def _create_version(self, request: Request) -> Response:
        body = await _json_body(request)

        def create() -> Response:
            base = _required_int(body, "base_version")
            return JSONResponse(self._new_agent_version(request.path_params["id"], base), 201)

        return await self._serve(request, create, body)

    async def _list_phone_numbers(self, request: Request) -> Response:
        def page() -> Response:
            query = request.query_params
            try:
                limit = int(query.get("limit", "50"))
            except ValueError:
                raise RetellApiRefusal(400, "limit must be an integer") from None
            numbers = sorted(self._phone_numbers, reverse=query.get("sort_order") == "descending")
            after = query.get("pagination_key")
            if after in numbers:
                numbers = numbers[numbers.index(after) + 1 :]
            items = [copy.deepcopy(self._phone_numbers[n]) for n in numbers[:limit]]
            has_more = len(numbers) > limit
            body: dict[str, Any] = {"items": items, "has_more": has_more}
            if has_more:
                body["pagination_key"] = items[-1]["phone_number"]
            return JSONResponse(body)

        return await self._serve(request, page)

    async def _serve(self, request: Request, action: Any, body: Any = None) -> Response:
        self.requests.append(
            RetellApiRequest(
                request.method,
                request.url.path,
                body if isinstance(body, dict) else None,
                request.url.query,
            )
        )
        if request.headers.get("authorization") != f"Bearer {self._api_key}":
            return _error(401, "Unauthorized")
        route = request.url.path.strip("/").removeprefix("v2/").split("/")[0]
        queued = self._refusals.pop(route, None)
        if queued is not None:
            return _error(queued.status, queued.message)
        try:
            response: Response = action()
        except RetellApiRefusal as refusal:
            return _error(refusal.status, refusal.message)
        return response

    def _read(self, kind: ResourceKind, request: Request) -> Response:
        version = _version_query(request)
        return JSONResponse(self._version(kind, request.path_params["id"], version))

    def _write(self, kind: ResourceKind, request: Request, body: Any) -> Response:
        version = _version_query(request)
        stored = self._version(kind, request.path_params["id"], version)
        if not isinstance(body, dict):
            raise RetellApiRefusal(400, "Request body must be a JSON object")
        if stored["is_published"]:
            raise RetellApiRefusal(
                400, f"version {stored['version']} is published and cannot be updated"
            )
        changes = {key: value for key, value in body.items() if key not in _READ_ONLY}
        candidate = {**stored, **copy.deepcopy(changes)}
        problem = _problem(kind, candidate)
        if problem:
            raise RetellApiRefusal(422 if problem.startswith("invalid") else 400, problem)
        stored.update(candidate, last_modification_timestamp=self._millis())
        return JSONResponse(stored)


def _engine(agent: dict[str, Any]) -> tuple[ResourceKind, str, int]:
    """The kind, id and version of the engine an agent version uses."""
    engine = agent["response_engine"]
    if engine["type"] == "retell-llm":
        return "llm", engine["llm_id"], int(engine["version"])
    return "conversation-flow", engine["conversation_flow_id"], int(engine["version"])


def _problem(kind: ResourceKind, document: dict[str, Any]) -> str | None:
    """What Retell would refuse in an LLM or a conversation flow; agents are not checked."""
    if kind == "llm":
        return _llm_problem(document)
    if kind == "conversation-flow":
        return _flow_problem(document)
    return None


def _llm_problem(llm: dict[str, Any]) -> str | None:
    """Why Retell would refuse an LLM with these fields, or None."""
    from retell.types.llm_update_params import GeneralTool, State

    general = llm.get("general_tools")
    states = llm.get("states")
    invalid = _invalid(list[GeneralTool], general, "general_tools") or _invalid(
        list[State], states, "states"
    )
    if invalid:
        return invalid
    names = [tool.get("name") for tool in general or []]
    for state in states or []:
        names += [tool.get("name") for tool in state.get("tools") or []]
        names += [
            f"transition_to_{edge.get('destination_state_name')}"
            for edge in state.get("edges") or []
        ]
    repeated = sorted({str(name) for name in names if names.count(name) > 1})
    if repeated:
        return (
            "tool names must be unique across general tools, state tools and state edges: "
            + ", ".join(repeated)
        )
    if states:
        state_names = [state.get("name") for state in states]
        if len(set(state_names)) < len(state_names):
            return "state names must be unique"
        if llm.get("starting_state") not in state_names:
            return "starting_state must name one of the states"
    return None


def _flow_problem(flow: dict[str, Any]) -> str | None:
    """Why Retell would refuse a conversation flow with these fields, or None."""
    from retell.types.conversation_flow_update_params import Tool

    tools = flow.get("tools")
    invalid = _invalid(list[Tool], tools, "tools")
    if invalid:
        return invalid
    names = [tool.get("name") for tool in tools or []]
    ids = [tool.get("tool_id") for tool in tools or [] if tool.get("tool_id") is not None]
    if len(set(names)) < len(names) or len(set(ids)) < len(ids):
        return "tool names and tool ids must be unique"
    known = set(ids)
    for node in flow.get("nodes") or []:
        if (
            isinstance(node, dict)
            and node.get("tool_id") is not None
            and node["tool_id"] not in known
        ):
            return (
                f"node {node.get('id')!r} refers to tool_id {node['tool_id']!r}, which no tool has"
            )
    return None


def _invalid(shape: Any, value: Any, field: str) -> str | None:
    if value is None:
        return None
    from pydantic import ValidationError

    try:
        _adapter(shape).validate_python(value)
    except ValidationError as exc:
        return f"invalid {field}: {exc.error_count()} problem(s)"
    return None


@functools.cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    """The validator of ``shape``, built once: building one costs more than validating."""
    from pydantic import TypeAdapter

    return TypeAdapter(shape)


def _version_query(request: Request) -> int | None:
    text = request.query_params.get("version")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise RetellApiRefusal(400, "version must be an integer") from None


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RetellApiRefusal(400, "Request body must be a JSON object")
    return body


def _required_int(body: Any, key: str) -> int:
    value = _body(body).get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RetellApiRefusal(400, f"{key} is required and must be an integer")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status)
