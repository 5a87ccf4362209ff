"""Plays Retell's side of custom-function calls and call events: signs and posts like Retell.

Point it at an ASGI app (in-process) or a running server to test an agent backend end to
end without a Retell account.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import ASGIApp

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign


class RetellSimulator:
    """Sends signed ``POST /retell/functions/<tool>`` and ``POST /retell/webhook`` requests."""

    def __init__(
        self, client: httpx.AsyncClient, *, api_key: str, clock: Clock = system_clock
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._clock = clock

    @classmethod
    def for_app(cls, app: ASGIApp, *, api_key: str, clock: Clock = system_clock) -> RetellSimulator:
        """A simulator talking to an ASGI app in-process."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")
        return cls(client, api_key=api_key, clock=clock)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> RetellSimulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @staticmethod
    def call_object(
        call_id: str,
        *,
        from_number: str | None = None,
        to_number: str | None = "+4930123456",
        direction: str = "inbound",
        **fields: Any,
    ) -> dict[str, Any]:
        """A Retell ``call`` object with the fields the tools read."""
        call: dict[str, Any] = {
            "call_id": call_id,
            "agent_id": "agent_simulated",
            "call_type": "phone_call",
            "direction": direction,
            "call_status": "ongoing",
            "from_number": from_number,
            "to_number": to_number,
        }
        call.update(fields)
        return {key: value for key, value in call.items() if value is not None}

    def body(self, tool: str, args: dict[str, Any], call: dict[str, Any]) -> bytes:
        return json.dumps({"call": call, "name": tool, "args": args}).encode()

    async def post(
        self, tool: str, body: bytes, *, signature: str | None = None, signed: bool = True
    ) -> httpx.Response:
        """Post raw bytes; ``signature`` overrides the computed one, ``signed=False`` omits it."""
        headers = {"content-type": "application/json"}
        if signed:
            headers[SIGNATURE_HEADER] = signature or sign(body, self._api_key, at=self._clock())
        return await self._client.post(f"/retell/functions/{tool}", content=body, headers=headers)

    async def function_call(
        self, tool: str, args: dict[str, Any], *, call: dict[str, Any]
    ) -> httpx.Response:
        """One signed function call, as Retell would deliver it."""
        return await self.post(tool, self.body(tool, args, call))

    async def post_event(
        self, body: bytes, *, signature: str | None = None, signed: bool = True
    ) -> httpx.Response:
        """Post raw bytes to the call events webhook, signed unless told otherwise."""
        headers = {"content-type": "application/json"}
        if signed:
            headers[SIGNATURE_HEADER] = signature or sign(body, self._api_key, at=self._clock())
        return await self._client.post("/retell/webhook", content=body, headers=headers)

    async def call_event(self, event: str, *, call: dict[str, Any]) -> httpx.Response:
        """One signed call event (``call_started``, ``call_ended``, ``call_analyzed``)."""
        return await self.post_event(json.dumps({"event": event, "call": call}).encode())
