"""What a tool's answer tells the store for later calls, beside the JSON the agent reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from retell_booking_tools.domain import ResultFacts, ToolStatus
from retell_booking_tools.tools.base import AppointmentView, ToolResult

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
APPOINTMENT = AppointmentView(
    id=1,
    booking_uid="uid-1",
    start=START,
    end=START + timedelta(hours=1),
    timezone="Europe/Berlin",
)


class TestToolResultFacts:
    """Offered starts and the touched booking come from the typed answer, not its JSON."""

    def test_listed_slots_are_offered_in_utc_and_their_days_listed_whole(self) -> None:
        slots = [(START + timedelta(hours=h)).astimezone(BERLIN) for h in range(3)]
        result = ToolResult(status=ToolStatus.AVAILABLE, message="Free.", slots=slots)

        facts = result.facts("check_availability")

        assert facts == ResultFacts(
            offered=tuple(START + timedelta(hours=h) for h in range(3)), listed_whole=True
        )
        assert all(start.tzinfo is UTC for start in facts.offered)

    def test_a_list_that_left_starts_out_did_not_list_its_days_whole(self) -> None:
        result = ToolResult(
            status=ToolStatus.AVAILABLE, message="Free.", slots=[START], more_slots=5
        )

        assert result.facts("check_availability").listed_whole is False

    def test_a_booking_answer_touched_its_appointment(self) -> None:
        result = ToolResult(status=ToolStatus.BOOKED, message="Booked.", appointment=APPOINTMENT)

        assert result.facts("collect_appointment_data") == ResultFacts(booking_uid="uid-1")

    def test_a_read_only_tool_naming_the_callers_appointment_touched_nothing(self) -> None:
        result = ToolResult(
            status=ToolStatus.EXISTING, message="Yours.", appointment=APPOINTMENT, slots=[START]
        )

        facts = result.facts("check_availability")

        assert facts.booking_uid is None
        assert facts.offered == (START,)

    def test_the_json_the_agent_reads_carries_no_facts(self) -> None:
        result = ToolResult(
            status=ToolStatus.AVAILABLE, message="Free.", slots=[START], more_slots=2
        )

        assert result.to_json() == {
            "status": "available",
            "message": "Free.",
            "slots": ["2025-10-10T09:00:00Z"],
            "more_slots": 2,
        }
