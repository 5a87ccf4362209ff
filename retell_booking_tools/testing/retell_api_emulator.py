"""An emulated Retell API for the Retell LLM routes retell-sdk's ``llm.retrieve`` and
``llm.update`` call, so tool sync can be tested (and recorded) without a Retell account.

    emulator = RetellApiEmulator(api_key="key_test")
    emulator.add_llm("llm_demo", general_tools=[{"type": "end_call", "name": "end_call"}])
    async with serve_asgi(emulator.asgi_app) as url:
        client = AsyncRetell(api_key="key_test", base_url=url)

Routes (paths and methods as in retell-sdk 6.x ``resources/llm.py``):
``GET /get-retell-llm/{llm_id}`` and ``PATCH /update-retell-llm/{llm_id}``, authorised by
``Authorization: Bearer <api key>``. PATCH replaces exactly the fields it is given and
bumps ``last_modification_timestamp``; ``general_tools`` is checked against retell-sdk's
tool types and for unique names. What Retell answers on errors is not documented in
detail: here 401, 404 and 400/422 carry ``{"status": "error", "message": ...}``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retell_booking_tools.clock import Clock, system_clock

_READ_ONLY = frozenset({"llm_id", "version", "last_modification_timestamp", "is_published"})


@attrs.frozen
class RetellApiRequest:
    """One request the emulator received, for assertions (the API key is not kept)."""

    method: str
    path: str
    body: dict[str, Any] | None = attrs.field(hash=False, default=None)


class RetellApiEmulator:
    """Retell LLMs in memory, served as Retell's HTTP API (see the module docstring)."""

    def __init__(self, *, api_key: str, clock: Clock = system_clock) -> None:
        self._api_key = api_key
        self._clock = clock
        self._llms: dict[str, dict[str, Any]] = {}
        self.requests: list[RetellApiRequest] = []
        self.asgi_app = Starlette(
            routes=[
                Route("/get-retell-llm/{llm_id}", self._retrieve, methods=["GET"]),
                Route("/update-retell-llm/{llm_id}", self._update, methods=["PATCH"]),
            ]
        )

    def add_llm(self, llm_id: str, **fields: Any) -> dict[str, Any]:
        """Create a Retell LLM (``general_tools``, ``general_prompt``, ... as given)."""
        llm = {
            "llm_id": llm_id,
            "version": 0,
            "is_published": False,
            "model": "gpt-4.1",
            "start_speaker": "agent",
            "general_prompt": None,
            "general_tools": None,
            **copy.deepcopy(fields),
            "last_modification_timestamp": self._millis(),
        }
        self._llms[llm_id] = llm
        return copy.deepcopy(llm)

    def llm(self, llm_id: str) -> dict[str, Any]:
        """The stored LLM as the API would return it."""
        return copy.deepcopy(self._llms[llm_id])

    def _millis(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self._api_key}"

    async def _retrieve(self, request: Request) -> Response:
        llm_id = request.path_params["llm_id"]
        self.requests.append(RetellApiRequest("GET", request.url.path))
        if not self._authorised(request):
            return _error(401, "Unauthorized")
        if llm_id not in self._llms:
            return _error(404, "Not Found")
        return JSONResponse(self._llms[llm_id])

    async def _update(self, request: Request) -> Response:
        llm_id = request.path_params["llm_id"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        self.requests.append(
            RetellApiRequest("PATCH", request.url.path, body if isinstance(body, dict) else None)
        )
        if not self._authorised(request):
            return _error(401, "Unauthorized")
        if llm_id not in self._llms:
            return _error(404, "Not Found")
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object")
        problem = _tools_problem(body.get("general_tools"))
        if problem:
            return _error(422, problem)
        llm = self._llms[llm_id]
        llm.update({key: value for key, value in body.items() if key not in _READ_ONLY})
        llm["last_modification_timestamp"] = self._millis()
        return JSONResponse(llm)


def _tools_problem(tools: Any) -> str | None:
    """Why Retell would refuse these ``general_tools``, or None."""
    if tools is None:
        return None
    from pydantic import TypeAdapter, ValidationError
    from retell.types.llm_update_params import GeneralTool

    try:
        TypeAdapter(list[GeneralTool]).validate_python(tools)
    except ValidationError as exc:
        return f"general_tools is invalid: {exc.error_count()} problem(s)"
    names = [tool.get("name") for tool in tools]
    if len(names) != len(set(names)):
        return "general_tools: tool names must be unique"
    return None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status)
