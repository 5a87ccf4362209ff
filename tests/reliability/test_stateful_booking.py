"""Random sequences of calls, retried deliveries and Cal.com faults never break the promises.

A hypothesis state machine plays several callers against the whole backend (signed HTTP,
tools, in-memory store, emulated Cal.com) and checks after every step:

- each call's links are exactly what it was told (`booked` ↔ original, `existing` ↔
  duplicate attempt, `confirmed` ↔ confirmation), nothing more, nothing less;
- no two appointments share a booking uid, and Cal.com never holds one start twice;
- `booked` only where Cal.com holds a booking that call created;
- no answer names another customer's booking;
- a retried delivery of a final answer repeats it word for word.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx
import stamina
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from reliability_world import DAY_ONE, RETELL_KEY, make_emulator, make_settings

from retell_booking_tools.booking import attendees
from retell_booking_tools.booking.records import CALL_ID_METADATA_KEY
from retell_booking_tools.domain import Relationship
from retell_booking_tools.repository import open_repository
from retell_booking_tools.runtime import Runtime, build_runtime
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import FakeClock, Fault, FaultKind, RetellSimulator

RETRY_WINDOW = timedelta(seconds=60)
"""The tool-call lease (``RETELL_BOOKING_TOOL_CALL_LEASE_SECONDS``): Retell retries a
delivery within it, and a retry within it replays the answer given."""
CALLERS = ("+4915112345678", "+4917098765432", "+4916055512345")
SLOTS = (("2025-10-10", "11:00"), ("2025-10-10", "12:00"), ("2025-10-13", "09:00"))
FAULT_KINDS = (
    FaultKind.TIMEOUT,
    FaultKind.TIMEOUT_AFTER_COMMIT,
    FaultKind.RESET_AFTER_COMMIT,
    FaultKind.SERVER_ERROR,
    FaultKind.SERVER_ERROR_AFTER_COMMIT,
    FaultKind.RATE_LIMITED,
    FaultKind.MALFORMED_JSON,
    FaultKind.CONNECT_ERROR,
)
LINK_FOR = {
    "booked": Relationship.ORIGINAL,
    "existing": Relationship.DUPLICATE_ATTEMPT,
    "confirmed": Relationship.CONFIRMATION,
}
ON_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def attendee_email(phone: str) -> str:
    return attendees.attendee_email(phone)


@attrs.frozen
class Delivery:
    """One function call as Retell sent it, and what it heard the first time it was final."""

    call_id: str
    caller: str
    tool: str
    body: bytes


@attrs.define
class Heard:
    call_id: str
    caller: str
    answer: dict[str, Any]


class BookingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.testing = stamina.set_testing(True, attempts=3)
        self.clock = FakeClock(DAY_ONE)
        self.calcom = make_emulator(self.clock)
        self.runtime: Runtime = self.run(self._start())
        self.retell = RetellSimulator.for_app(
            create_app(runtime=self.runtime, clock=self.clock), api_key=RETELL_KEY, clock=self.clock
        )
        self.deliveries: list[Delivery] = []
        self.final: dict[Delivery, tuple[dict[str, Any], datetime]] = {}
        self.heard: list[Heard] = []
        self.calls = 0

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _start(self) -> Runtime:
        return await build_runtime(
            make_settings(),
            repository=await open_repository("memory://"),
            calcom_transport=self.calcom.transport,
            clock=self.clock,
        )

    def teardown(self) -> None:
        async def close() -> None:
            await self.retell.aclose()
            await self.runtime.aclose()

        try:
            self.run(close())
        finally:
            self.loop.close()
            self.testing.__exit__(None, None, None)

    # --- what callers, Retell and Cal.com do ---------------------------------------------

    def _new_call(self) -> str:
        self.calls += 1
        return f"call_{self.calls}"

    def _deliver(self, delivery: Delivery) -> dict[str, Any]:
        response: httpx.Response = self.run(self.retell.post(delivery.tool, delivery.body))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        self.heard.append(Heard(delivery.call_id, delivery.caller, answer))
        first = self.final.get(delivery)
        if first is not None:
            answered, at = first
            if self.clock() - at <= RETRY_WINDOW:
                assert answer == answered, "a retried delivery must replay the final answer"
            else:
                # Retell retries within seconds; the same body hours later is the caller
                # asking again, which never books a second time.
                assert answer["status"] != "booked" or answer == answered
        elif answer["status"] not in ("error", "pending"):
            self.final[delivery] = (answer, self.clock())
        return answer

    def _send(self, tool: str, args: dict[str, str], caller: str, call_id: str) -> None:
        call = self.retell.call_object(call_id, from_number=caller)
        delivery = Delivery(call_id, caller, tool, self.retell.body(tool, args, call))
        self.deliveries.append(delivery)
        self._deliver(delivery)

    @rule(caller=st.sampled_from(CALLERS), slot=st.sampled_from(SLOTS))
    def book(self, caller: str, slot: tuple[str, str]) -> None:
        """A caller asks for a slot in a new call."""
        args = {"customer_name": "Max Mustermann", "date": slot[0], "time": slot[1]}
        self._send("collect_appointment_data", args, caller, self._new_call())

    @precondition(lambda self: self.deliveries)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Retell re-sends one of the deliveries made so far."""
        self._deliver(data.draw(st.sampled_from(self.deliveries)))

    @precondition(lambda self: any("appointment" in h.answer for h in self.heard))
    @rule(data=st.data(), caller=st.sampled_from(CALLERS))
    def confirm(self, data: st.DataObject, caller: str) -> None:
        """A caller keeps an appointment some answer named, their own or someone else's."""
        named = [
            h.answer["appointment"]["booking_uid"] for h in self.heard if "appointment" in h.answer
        ]
        uid = data.draw(st.sampled_from(named))
        self._send("confirm_existing", {"booking_uid": uid}, caller, self._new_call())

    @rule(kind=st.sampled_from(FAULT_KINDS), times=st.integers(1, 3))
    def fault(self, kind: FaultKind, times: int) -> None:
        """Cal.com will fail the next requests."""
        self.calcom.inject(Fault(kind, times=times))

    @rule(hours=st.integers(1, 12))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    # --- promises ---------------------------------------------------------------------

    @invariant()
    def booked_only_what_this_call_created_and_only_the_callers_own(self) -> None:
        for heard in self.heard:
            status = heard.answer["status"]
            if "appointment" not in heard.answer:
                assert status not in LINK_FOR
                continue
            booking = self.calcom.booking(heard.answer["appointment"]["booking_uid"])
            emails = {attendee.email for attendee in booking.attendees}
            assert attendee_email(heard.caller) in emails, "named another customer's booking"
            if status == "booked":
                assert booking.metadata.get(CALL_ID_METADATA_KEY) == heard.call_id

    @invariant()
    def calcom_never_holds_a_start_twice(self) -> None:
        starts = Counter(b.start for b in self.calcom.bookings if b.is_active)
        assert all(count == 1 for count in starts.values())

    @invariant()
    def links_are_exactly_what_each_call_was_told(self) -> None:
        told: dict[str, set[tuple[str, Relationship]]] = {}
        for heard in self.heard:
            relationship = LINK_FOR.get(heard.answer["status"])
            if relationship is not None:
                uid = heard.answer["appointment"]["booking_uid"]
                told.setdefault(heard.call_id, set()).add((uid, relationship))
        for number in range(1, self.calls + 1):
            call_id = f"call_{number}"
            links = self.run(self.runtime.repository.links_for_call(call_id))
            stored = set()
            for link in links:
                appointment = self.run(self.runtime.repository.get_appointment(link.appointment_id))
                assert appointment is not None
                stored.add((appointment.booking_uid, link.relationship))
            assert stored == told.get(call_id, set())

    @invariant()
    def no_two_appointments_share_a_booking_uid(self) -> None:
        uids = []
        for customer_id in range(1, len(CALLERS) + 1):
            appointments = self.run(self.runtime.repository.appointments_for_customer(customer_id))
            uids.extend(a.booking_uid for a in appointments)
        assert len(uids) == len(set(uids))


BookingMachine.TestCase.settings = settings(
    max_examples=40 if ON_CI else 25,
    stateful_step_count=15,
    deadline=None,
    derandomize=ON_CI,
    database=None if ON_CI else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookingUnderRandomCallsRetriesAndFaults = BookingMachine.TestCase
