"""Plays Retell's side of custom-function calls and call events: signs and posts like Retell.

Point it at an ASGI app (in-process) or a running server to test an agent backend end to
end without a Retell account. :meth:`RetellSimulator.start_call` plays a whole call: its
call object grows turn by turn as Retell's does (``transcript``, ``transcript_object`` with
every word's timing, ``transcript_with_tool_calls`` with each ``tool_call_invocation`` and
``tool_call_result`` and their ids, scrubbed copies when PII scrubbing is on), tools are
invoked and retried like Retell does, and :meth:`SimulatedCall.talk` makes a call of any
length. Without transcripts it plays a call whose object lists none (a custom LLM
websocket server, older calls).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp

from retell_booking_tools.clock import Clock, system_clock
from retell_booking_tools.retell.signature import SIGNATURE_HEADER, sign

Role = Literal["agent", "user"]

SECONDS_PER_WORD = 0.4
"""Speech rate of the simulated talk: 150 words a minute."""
PAUSE_SECONDS = 0.8
"""Silence between two turns."""

_PII = re.compile(r"\S*[\d@]\S*")
_SMALL_TALK: tuple[tuple[Role, str], ...] = (
    ("agent", "Thank you for calling, how can I help you today?"),
    ("user", "I would like to talk about my appointment and a few other things first."),
    ("agent", "Of course, take your time and tell me everything you need."),
    ("user", "Well, last week I called about the consultation and we spoke about the options."),
)


class SimulatedInvocation:
    """One ``tool_call_invocation`` of a :class:`SimulatedCall`; deliver it as often as Retell."""

    def __init__(self, call: SimulatedCall, tool: str, args: dict[str, Any], tool_call_id: str):
        self.call = call
        self.tool = tool
        self.args = args
        self.tool_call_id = tool_call_id
        self.answered = False

    async def deliver(self, *, args_at_root: bool = False) -> httpx.Response:
        """One signed delivery with the call object as it is now (a retry is another one).

        ``args_at_root`` sends what a tool set to "Payload: args only" sends: the bare
        arguments, no ``call``, no ``name``.
        """
        return await self.call.require_simulator().function_call(
            self.tool, self.args, call=self.call.call_object(), args_at_root=args_at_root
        )

    def retried_with_new_id(self) -> SimulatedInvocation:
        """Retell's retry listed as an invocation of its own (same tool and arguments)."""
        return self.call.invoke(self.tool, self.args)

    def answer(self, response: httpx.Response) -> None:
        """Record Retell's ``tool_call_result``: the response text, successful if 2xx."""
        self.call.record_result(self.tool_call_id, response.text, successful=response.is_success)
        self.answered = True


class SimulatedCall:
    """A Retell call in progress, whose call object grows as the call goes on."""

    def __init__(
        self,
        call_id: str,
        *,
        simulator: RetellSimulator | None = None,
        from_number: str | None = None,
        to_number: str | None = "+4930123456",
        direction: str = "inbound",
        transcripts: bool = True,
        scrub_pii: bool = False,
        start_timestamp: int | None = None,
        **fields: Any,
    ) -> None:
        self.call_id = call_id
        self.transcripts = transcripts
        self.scrub_pii = scrub_pii
        self._simulator = simulator
        self._fields = RetellSimulator.call_object(
            call_id,
            from_number=from_number,
            to_number=to_number,
            direction=direction,
            start_timestamp=start_timestamp,
            **fields,
        )
        self._lines: list[str] = []
        self._utterances: list[dict[str, Any]] = []
        self._with_tool_calls: list[dict[str, Any]] = []
        self._scrubbed_utterances: list[dict[str, Any]] = []
        self._scrubbed_with_tool_calls: list[dict[str, Any]] = []
        self._seconds = 0.0
        self._responses = itertools.count(1)
        self.invocations: list[SimulatedInvocation] = []

    @property
    def seconds(self) -> float:
        """Audio time so far, as the word timings count it."""
        return self._seconds

    def require_simulator(self) -> RetellSimulator:
        if self._simulator is None:
            raise RuntimeError("this call was built without a simulator and cannot be delivered")
        return self._simulator

    def agent_says(self, text: str) -> None:
        self._utter("agent", text)

    def user_says(self, text: str) -> None:
        self._utter("user", text)

    def talk(self, minutes: float) -> None:
        """About ``minutes`` of conversation, turn by turn, at 150 words a minute."""
        until = self._seconds + minutes * 60
        for role, text in itertools.cycle(_SMALL_TALK):
            if self._seconds >= until:
                return
            self._utter(role, text)

    def invoke(self, tool: str, args: dict[str, Any]) -> SimulatedInvocation:
        """The agent decides to call ``tool``: Retell lists the invocation with a new id."""
        invocation = SimulatedInvocation(self, tool, args, f"tool_call_{uuid.uuid4().hex[:16]}")
        entry = {
            "role": "tool_call_invocation",
            "tool_call_id": invocation.tool_call_id,
            "name": tool,
            "arguments": json.dumps(args),
            "type": "custom",
        }
        self._with_tool_calls.append(entry)
        self._scrubbed_with_tool_calls.append(entry)
        self.invocations.append(invocation)
        return invocation

    def record_result(self, tool_call_id: str, content: str, *, successful: bool) -> None:
        entry = {
            "role": "tool_call_result",
            "tool_call_id": tool_call_id,
            "content": content,
            "successful": successful,
        }
        self._with_tool_calls.append(entry)
        self._scrubbed_with_tool_calls.append(entry)

    async def function_call(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        max_retry: int = 0,
        retry_reuses_id: bool = True,
        args_at_root: bool = False,
    ) -> httpx.Response:
        """Invoke a tool as Retell does: deliver, retry a failure up to ``max_retry`` times
        (as the same invocation, or listed under a new id), then record the result."""
        invocation = self.invoke(tool, args)
        response = await invocation.deliver(args_at_root=args_at_root)
        for _ in range(max_retry):
            if response.is_success:
                break
            if not retry_reuses_id:
                invocation = invocation.retried_with_new_id()
            response = await invocation.deliver(args_at_root=args_at_root)
        invocation.answer(response)
        return response

    async def event(self, event: str) -> httpx.Response:
        """A signed call event (``call_started``, ``call_ended``...) with the call object now."""
        call = self.call_object()
        if event in ("call_ended", "call_analyzed"):
            call["call_status"] = "ended"
            start = call.get("start_timestamp")
            if isinstance(start, int):
                call["end_timestamp"] = start + int(self._seconds * 1000)
        return await self.require_simulator().call_event(event, call=call)

    def call_object(self) -> dict[str, Any]:
        """The call object Retell would send now (a snapshot: later turns do not change it)."""
        call = dict(self._fields)
        if self.transcripts:
            call["transcript"] = "".join(self._lines)
            call["transcript_object"] = list(self._utterances)
            call["transcript_with_tool_calls"] = list(self._with_tool_calls)
            if self.scrub_pii:
                call["scrubbed_transcript"] = "".join(
                    f"{u['role'].capitalize()}: {u['content']}\n" for u in self._scrubbed_utterances
                )
                call["scrubbed_transcript_object"] = list(self._scrubbed_utterances)
                call["scrubbed_transcript_with_tool_calls"] = list(self._scrubbed_with_tool_calls)
        return call

    def _utter(self, role: Role, text: str) -> None:
        words: list[dict[str, Any]] = []
        for word in text.split():
            start = self._seconds
            self._seconds += SECONDS_PER_WORD
            words.append({"word": word, "start": round(start, 3), "end": round(self._seconds, 3)})
        self._seconds += PAUSE_SECONDS
        metadata = {"response_id": next(self._responses)} if role == "agent" else {}
        utterance = {"role": role, "content": text, "words": words, "metadata": metadata}
        self._lines.append(f"{role.capitalize()}: {text}\n")
        self._utterances.append(utterance)
        self._with_tool_calls.append(utterance)
        if self.scrub_pii:
            scrubbed_words = [{**w, "word": _PII.sub("[PII]", str(w["word"]))} for w in words]
            scrubbed = {**utterance, "content": _PII.sub("[PII]", text), "words": scrubbed_words}
            self._scrubbed_utterances.append(scrubbed)
            self._scrubbed_with_tool_calls.append(scrubbed)


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
        """A Retell ``call`` object with the fields the tools read (no transcripts)."""
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

    def start_call(
        self,
        call_id: str,
        *,
        from_number: str | None = None,
        to_number: str | None = "+4930123456",
        direction: str = "inbound",
        transcripts: bool = True,
        scrub_pii: bool = False,
        **fields: Any,
    ) -> SimulatedCall:
        """A call that starts now; its object carries transcripts unless ``transcripts=False``."""
        return SimulatedCall(
            call_id,
            simulator=self,
            from_number=from_number,
            to_number=to_number,
            direction=direction,
            transcripts=transcripts,
            scrub_pii=scrub_pii,
            start_timestamp=int(self._clock().timestamp() * 1000),
            **fields,
        )

    @staticmethod
    def long_call_object(
        call_id: str, *, minutes: float, scrub_pii: bool = True, **fields: Any
    ) -> dict[str, Any]:
        """The call object of a call after ``minutes`` of talk, with every transcript form
        (and, by default, their scrubbed copies): an hour is about 2 MiB."""
        call = SimulatedCall(call_id, scrub_pii=scrub_pii, **fields)
        call.talk(minutes)
        return call.call_object()

    def body(self, tool: str, args: dict[str, Any], call: dict[str, Any]) -> bytes:
        return json.dumps({"call": call, "name": tool, "args": args}).encode()

    @staticmethod
    def args_only_body(args: dict[str, Any]) -> bytes:
        """What a tool set to ``args_at_root`` ("Payload: args only") sends: the bare args."""
        return json.dumps(args).encode()

    async def post(
        self, tool: str, body: bytes, *, signature: str | None = None, signed: bool = True
    ) -> httpx.Response:
        """Post raw bytes; ``signature`` overrides the computed one, ``signed=False`` omits it."""
        headers = {"content-type": "application/json"}
        if signed:
            headers[SIGNATURE_HEADER] = signature or sign(body, self._api_key, at=self._clock())
        return await self._client.post(f"/retell/functions/{tool}", content=body, headers=headers)

    async def function_call(
        self, tool: str, args: dict[str, Any], *, call: dict[str, Any], args_at_root: bool = False
    ) -> httpx.Response:
        """One signed function call, as Retell would deliver it (``args_at_root``: args only)."""
        if args_at_root:
            return await self.post(tool, self.args_only_body(args))
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
