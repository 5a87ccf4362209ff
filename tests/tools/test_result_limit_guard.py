"""The runner's last guard: every result stays under the characters Retell hands the model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from retell_booking_tools.domain import ToolStatus
from retell_booking_tools.tools.base import MAX_RESULT_CHARS, AppointmentView, ToolResult
from retell_booking_tools.tools.runner import within_result_limit

START = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


def _chars(result: ToolResult) -> int:
    return len(json.dumps(result.to_json()))


def _appointment(index: int) -> AppointmentView:
    start = START + timedelta(hours=index)
    return AppointmentView(
        id=index,
        booking_uid=f"uid-{index:05d}",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="UTC",
        booking_reference="K7F2QX",
    )


class TestWithinResultLimit:
    """Lists are shortened from the end and counted; status and message never change."""

    def test_a_result_under_the_limit_is_left_as_it_is(self) -> None:
        result = ToolResult(status=ToolStatus.AVAILABLE, message="9 AM is free.", slots=[START])

        assert within_result_limit(result) == result

    def test_too_many_slots_are_cut_to_a_prefix_and_counted_in_more_slots(self) -> None:
        slots = [START + timedelta(minutes=minute) for minute in range(2000)]
        result = ToolResult(status=ToolStatus.AVAILABLE, message="Plenty is free.", slots=slots)

        fitted = within_result_limit(result)

        assert _chars(result) > MAX_RESULT_CHARS
        assert _chars(fitted) < MAX_RESULT_CHARS
        assert (fitted.status, fitted.message) == (result.status, result.message)
        assert fitted.slots is not None
        assert fitted.slots == slots[: len(fitted.slots)]
        assert len(fitted.slots) > 100
        assert len(fitted.slots) + (fitted.more_slots or 0) == 2000

    def test_left_out_appointments_are_added_to_those_already_counted(self) -> None:
        appointments = [_appointment(index) for index in range(400)]
        result = ToolResult(
            status=ToolStatus.FOUND,
            message="You have many appointments.",
            appointments=appointments,
            more_appointments=5,
        )

        fitted = within_result_limit(result)

        assert _chars(fitted) < MAX_RESULT_CHARS
        assert fitted.appointments is not None
        assert fitted.appointments == appointments[: len(fitted.appointments)]
        assert len(fitted.appointments) + (fitted.more_appointments or 0) == 405

    def test_the_longest_list_gives_way_first(self) -> None:
        slots = [START + timedelta(minutes=minute) for minute in range(1000)]
        alternatives = slots[:3]
        result = ToolResult(
            status=ToolStatus.UNAVAILABLE,
            message="That time is taken.",
            slots=slots,
            alternatives=alternatives,
        )

        fitted = within_result_limit(result)

        assert _chars(fitted) < MAX_RESULT_CHARS
        assert fitted.alternatives == alternatives

    def test_a_message_is_never_cut_even_when_it_alone_is_too_long(self) -> None:
        message = "word " * 4000
        result = ToolResult(status=ToolStatus.AVAILABLE, message=message, slots=[START] * 50)

        fitted = within_result_limit(result)

        assert fitted.message == message
        assert fitted.slots == []
        assert fitted.more_slots == 50
