"""``check_availability`` over a range of days and a part of the day: the soonest few starts.

The world opens on Wednesday, October 8, 2025 at 22:21 in Berlin; the event type is free
on weekdays from 9:00 to 17:00, one hour each (mornings 9, 10 and 11; afternoons 12 to 16;
no evenings).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from agent_backend import CALLER, OTHER_CALLER, World

from retell_booking_tools.messages import CATALOG
from retell_booking_tools.testing import Fault, FaultKind

THURSDAY = "2025-10-09"
FRIDAY = "2025-10-10"
SATURDAY = "2025-10-11"
SUNDAY = "2025-10-12"
NEXT_WEDNESDAY = "2025-10-15"
TWO_WEEKS_AFTER_THURSDAY = "2025-10-23"


def _slot_requests(world: World) -> int:
    return sum(1 for r in world.calcom.requests if r.path == "/v2/slots")


async def _check(world: World, call_id: str = "call_1", **args: Any) -> dict[str, Any]:
    return await world.tool("check_availability", args, call_id=call_id)


def _start(day: str, hour: int) -> str:
    return f"{day}T{hour:02d}:00:00+02:00"


class TestSoonestStartsOfARange:
    """The soonest free starts of the range (and part of day), spread over its days."""

    async def test_a_range_question_with_a_part_of_day_answers_the_soonest_matching_starts_over_several_days_with_one_slots_request(  # noqa: E501
        self, world: World
    ) -> None:
        """Mornings from Thursday to next Wednesday: two each of Thursday, Friday, Monday."""
        answer = await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")

        assert answer["status"] == "available"
        assert answer["slots"] == [
            _start(THURSDAY, 9),
            _start(THURSDAY, 10),
            _start(FRIDAY, 9),
            _start(FRIDAY, 10),
            _start("2025-10-13", 9),
            _start("2025-10-13", 10),
        ]
        assert _slot_requests(world) == 1
        assert world.calcom_writes() == []

    async def test_without_a_part_of_day_the_soonest_are_spread_over_the_days(
        self, world: World
    ) -> None:
        """Thursday alone has the six soonest; the answer gives Friday a share of them."""
        answer = await _check(world, date=THURSDAY, date_to=FRIDAY)

        assert answer["slots"] == [
            _start(THURSDAY, 9),
            _start(THURSDAY, 10),
            _start(THURSDAY, 11),
            _start(FRIDAY, 9),
            _start(FRIDAY, 10),
            _start(FRIDAY, 11),
        ]

    async def test_a_day_with_few_free_starts_leaves_its_share_to_the_others(
        self, world: World
    ) -> None:
        """Thursday keeps one free afternoon start: Friday fills the six."""
        for hour in (12, 13, 14, 15):
            await world.book(
                f"call_{hour}", from_number=OTHER_CALLER, date=THURSDAY, at=f"{hour:02d}:00"
            )

        answer = await _check(world, date=THURSDAY, date_to=FRIDAY, part_of_day="afternoon")

        assert answer["slots"] == [_start(THURSDAY, 16)] + [
            _start(FRIDAY, hour) for hour in (12, 13, 14, 15, 16)
        ]

    async def test_a_range_of_fourteen_days_is_one_slots_request(self, world: World) -> None:
        answer = await _check(world, date=THURSDAY, date_to=TWO_WEEKS_AFTER_THURSDAY)

        assert answer["status"] == "available"
        assert len({slot[:10] for slot in answer["slots"]}) == 3
        assert _slot_requests(world) == 1

    async def test_a_part_of_day_alone_filters_the_one_day(self, world: World) -> None:
        """Friday afternoon: every free start of it, the morning's counted as left out."""
        answer = await _check(world, date=FRIDAY, part_of_day="afternoon")

        assert answer["status"] == "available"
        assert answer["slots"] == [_start(FRIDAY, hour) for hour in range(12, 17)]
        assert answer["more_slots"] == 3
        assert answer["message"] == (
            "On Friday, October 10 in the afternoon I have 12 PM, 1 PM, 2 PM, 3 PM and 4 PM "
            "free. Which would suit you?"
        )
        assert _slot_requests(world) == 1

    async def test_a_part_of_day_is_understood_in_any_case(self, world: World) -> None:
        answer = await _check(world, date=FRIDAY, part_of_day=" Morning ")

        assert answer["slots"] == [_start(FRIDAY, hour) for hour in (9, 10, 11)]

    async def test_a_time_asks_about_that_start_alone(self, world: World) -> None:
        """With ``time`` the range and part of day change nothing: that start is the question."""
        answer = await _check(
            world, date=FRIDAY, time="14:00", date_to=NEXT_WEDNESDAY, part_of_day="morning"
        )

        assert answer["status"] == "available"
        assert answer["message"] == (
            "Friday, October 10, 2025 at 2:00 PM is free. Shall I book it for you?"
        )


class TestTheRangeSpokenAsPeopleSayIt:
    """Each start with its day: tomorrow, a weekday of the week ahead, later the date."""

    async def test_english_names_each_start_with_its_day(self, world: World) -> None:
        answer = await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")

        assert answer["message"] == (
            "The soonest I can offer is tomorrow at 9 AM, tomorrow at 10 AM, Friday at 9 AM, "
            "Friday at 10 AM, Monday at 9 AM or Monday at 10 AM. Which would suit you?"
        )

    @pytest.mark.parametrize("language", ["de"])
    async def test_german_names_each_start_with_its_day(self, world: World) -> None:
        answer = await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")

        assert answer["message"] == (
            "Als Nächstes könnte ich Ihnen morgen um 9 Uhr, morgen um 10 Uhr, Freitag um 9 Uhr, "
            "Freitag um 10 Uhr, Montag um 9 Uhr oder Montag um 10 Uhr anbieten. "
            "Was passt Ihnen?"
        )

    async def test_a_day_a_week_or_more_ahead_is_said_with_its_date(self, world: World) -> None:
        for hour in (9, 10, 11):
            await world.book(
                f"call_{hour}", from_number=OTHER_CALLER, date="2025-10-14", at=f"{hour:02d}:00"
            )

        answer = await _check(
            world, date="2025-10-14", date_to=NEXT_WEDNESDAY, part_of_day="morning"
        )

        assert answer["message"] == (
            "The soonest I can offer is Wednesday, October 15 at 9 AM, "
            "Wednesday, October 15 at 10 AM or Wednesday, October 15 at 11 AM. "
            "Which would suit you?"
        )

    @pytest.mark.parametrize("language", ["de"])
    async def test_german_speaks_a_part_of_the_one_day(self, world: World) -> None:
        answer = await _check(world, date=FRIDAY, part_of_day="morning")

        assert answer["message"] == (
            "Am Freitag, 10. Oktober habe ich vormittags um 9, 10 und 11 Uhr frei. Was passt Ihnen?"
        )


class TestARangeWithNothingFree:
    """Nothing free in the range: ``unavailable``, nothing listed, the nearest offered."""

    async def test_a_closed_weekend_offers_the_starts_nearest_to_it(self, world: World) -> None:
        answer = await _check(world, date=SATURDAY, date_to=SUNDAY)

        assert answer["status"] == "unavailable"
        assert "slots" not in answer
        assert answer["alternatives"] == [
            _start(FRIDAY, 15),
            _start(FRIDAY, 16),
            _start("2025-10-13", 9),
        ]
        assert answer["message"] == (
            "I have nothing free between Saturday, October 11 and Sunday, October 12. "
            "I could offer Friday, October 10 at 3:00 PM, 4:00 PM and Monday, October 13 at "
            "9:00 AM. Would one of those suit you?"
        )
        assert _slot_requests(world) == 1

    async def test_no_evenings_anywhere_offers_the_range_s_other_times(self, world: World) -> None:
        answer = await _check(world, date=THURSDAY, date_to=FRIDAY, part_of_day="evening")

        assert answer["status"] == "unavailable"
        assert answer["alternatives"] == [_start(THURSDAY, hour) for hour in (9, 10, 11)]
        assert answer["message"].startswith(
            "I have nothing free in the evenings between Thursday, October 9 and "
            "Friday, October 10. I could offer"
        )

    async def test_a_part_of_day_taken_elsewhere_offers_that_part_on_other_days(
        self, world: World
    ) -> None:
        """Friday's mornings are booked: the nearest mornings, not Friday's afternoon."""
        for hour in (9, 10, 11):
            await world.book(f"call_{hour}", from_number=OTHER_CALLER, at=f"{hour:02d}:00")

        answer = await _check(world, date=FRIDAY, part_of_day="morning")

        assert answer["status"] == "unavailable"
        assert all(int(slot[11:13]) < 12 for slot in answer["alternatives"])
        assert answer["message"].startswith(
            "I have nothing free on Friday, October 10 in the morning. I could offer"
        )

    @pytest.mark.parametrize("language", ["de"])
    async def test_german_says_the_range_and_part_it_looked_at(self, world: World) -> None:
        answer = await _check(world, date=SATURDAY, date_to=SUNDAY, part_of_day="afternoon")

        assert answer["message"].startswith(
            "Zwischen Samstag, 11. Oktober und Sonntag, 12. Oktober ist nachmittags nichts frei. "
            "Ich könnte Ihnen Freitag, 10. Oktober um 14:00 Uhr"
        )

    async def test_cal_com_failing_is_error_and_offers_nothing(self, world: World) -> None:
        world.calcom.inject(
            Fault(kind=FaultKind.SERVER_ERROR, method="GET", path="/v2/slots", times=3)
        )

        answer = await _check(world, date=THURSDAY, date_to=FRIDAY)

        assert answer["status"] == "error"
        assert "slots" not in answer


class TestInvalidRanges:
    """A range that cannot be meant is ``invalid`` on its field, and Cal.com is not asked."""

    @pytest.mark.parametrize(
        ("args", "field"),
        [
            ({"date": THURSDAY, "date_to": "next friday"}, "date_to"),
            ({"date": THURSDAY, "date_to": "2025-10-9"}, "date_to"),
            ({"date": FRIDAY, "date_to": THURSDAY}, "date_to"),
            ({"date": THURSDAY, "date_to": "2025-10-24"}, "date_to"),
            ({"date": THURSDAY, "part_of_day": "night"}, "part_of_day"),
            ({"date": THURSDAY, "date_to": FRIDAY, "part_of_day": "lunch"}, "part_of_day"),
        ],
    )
    async def test_unusable_range_is_invalid_naming_the_field(
        self, world: World, args: dict[str, str], field: str
    ) -> None:
        answer = await _check(world, **args)

        assert answer["status"] == "invalid"
        assert answer["field"] == field
        assert world.calcom.requests == []

    @pytest.mark.parametrize("language", sorted(CATALOG))
    @pytest.mark.parametrize(
        ("args", "field"),
        [
            ({"date": THURSDAY, "date_to": "2025-10-24"}, "date_to"),
            ({"date": THURSDAY, "part_of_day": "night"}, "part_of_day"),
        ],
    )
    async def test_every_language_asks_for_the_field_again(
        self, world: World, language: str, args: dict[str, str], field: str
    ) -> None:
        answer = await _check(world, **args)

        assert answer["message"] == CATALOG[language][f"invalid.{field}"]  # type: ignore[index]
        assert answer["message"].endswith("?")


class TestWhatARangeAnswerIsRememberedAs:
    """Only what was listed counts as offered; a day listed in part is never listed whole."""

    async def test_an_unlisted_free_start_of_a_partly_listed_day_is_booked_by_cal_com(
        self, world: World
    ) -> None:
        """Thursday 11:00 was free but not among the six: Cal.com books it."""
        offered = await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")
        before = len(world.calcom.requests)

        booked = await world.book("call_1", date=THURSDAY, at="11:00")

        assert _start(THURSDAY, 11) not in offered["slots"]
        assert offered["more_slots"] > 0
        assert booked["status"] == "booked", booked
        assert [r.path for r in world.calcom.requests[before:]] == ["/v2/bookings"]

    async def test_a_start_outside_the_part_of_day_is_booked_by_cal_com(self, world: World) -> None:
        """Only Friday's mornings were asked for: its afternoon is Cal.com's to decide."""
        await _check(world, date=FRIDAY, part_of_day="morning")

        booked = await world.book("call_1", date=FRIDAY, at="14:00")

        assert booked["status"] == "booked", booked

    async def test_a_taken_unlisted_start_is_refused_by_cal_com_not_by_the_list(
        self, world: World
    ) -> None:
        """Taken since the range was read: the create reaches Cal.com, which refuses it."""
        await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")
        world.calcom.seed_booking(
            event_type_id=world.runtime.core.policy.event_type_id,
            start=datetime(2025, 10, 9, 9, 0, tzinfo=UTC),
            attendee_name="Someone",
            attendee_email="someone@example.org",
        )
        before = len(world.calcom.requests)

        refused = await world.book("call_1", date=THURSDAY, at="11:00")

        assert refused["status"] == "unavailable"
        assert "/v2/bookings" in [r.path for r in world.calcom.requests[before:]]
        assert world.calcom.created_bookings_count() == 0

    async def test_a_listed_start_costs_only_the_create(self, world: World) -> None:
        await _check(world, date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning")
        before = len(world.calcom.requests)

        booked = await world.book("call_1", date=FRIDAY, at="10:00")

        assert booked["status"] == "booked"
        assert [r.path for r in world.calcom.requests[before:]] == ["/v2/bookings"]

    async def test_a_day_whose_every_free_start_was_listed_refuses_the_others_from_memory(
        self, world: World
    ) -> None:
        """Friday afternoon is booked out in Cal.com, so its morning is all of it: 14:00 was
        not free, and nothing but the list says so."""
        for hour in range(10, 15):
            world.calcom.seed_booking(
                event_type_id=world.runtime.core.policy.event_type_id,
                start=datetime(2025, 10, 10, hour, 0, tzinfo=UTC),
                attendee_name="Someone",
                attendee_email="someone@example.org",
            )
        offered = await _check(world, date=FRIDAY, part_of_day="morning")
        before = len(world.calcom.requests)

        refused = await world.book("call_1", at="14:00")

        assert "more_slots" not in offered
        assert refused["status"] == "unavailable"
        assert world.calcom.requests[before:] == []


class TestTheCallersOwnAppointmentInTheRange:
    """Named like a day's, never offered as free, never called "not available"."""

    async def test_an_appointment_in_the_range_is_named_with_the_soonest_others(
        self, world: World
    ) -> None:
        own = await world.book("call_0", at="10:00")

        answer = await _check(
            world, "call_1", date=THURSDAY, date_to=NEXT_WEDNESDAY, part_of_day="morning"
        )

        assert answer["status"] == "available"
        assert answer["appointment"]["booking_uid"] == own["appointment"]["booking_uid"]
        assert _start(FRIDAY, 10) not in answer["slots"]
        assert answer["message"] == (
            "You already have an appointment on Friday, October 10 at 10:00 AM. Apart from "
            "that, the soonest I can offer is tomorrow at 9 AM, tomorrow at 10 AM, Friday at "
            "9 AM, Friday at 11 AM, Monday at 9 AM or Monday at 10 AM. Which would suit you?"
        )
        assert "not available" not in answer["message"]

    async def test_the_only_start_left_being_theirs_is_named_not_refused(
        self, world: World
    ) -> None:
        """Friday morning: 9 and 11 taken by others, 10 the caller's own."""
        await world.book("call_9", from_number=OTHER_CALLER, at="09:00")
        await world.book("call_11", from_number=OTHER_CALLER, at="11:00")
        own = await world.book("call_0", from_number=CALLER, at="10:00")

        answer = await _check(world, "call_1", date=FRIDAY, part_of_day="morning")

        assert answer["appointment"]["booking_uid"] == own["appointment"]["booking_uid"]
        assert answer["message"] == (
            "On Friday, October 10 you already have an appointment at 10:00 AM."
        )
        assert "not available" not in answer["message"]


class TestRangeReadsAreShared:
    """A range is one read, shared and reused like a day's, on every store."""

    async def test_concurrent_questions_about_one_range_share_one_request(
        self, world: World
    ) -> None:
        answers = await asyncio.gather(
            *(_check(world, f"call_{n}", date=THURSDAY, date_to=NEXT_WEDNESDAY) for n in range(4))
        )

        assert len({tuple(answer["slots"]) for answer in answers}) == 1
        assert _slot_requests(world) == 1

    async def test_a_booking_made_here_leaves_its_start_out_of_the_reused_range(
        self, world: World
    ) -> None:
        before = await _check(world, "call_1", date=THURSDAY, date_to=FRIDAY)
        booked = await world.book("call_1", date=THURSDAY, at="09:00")

        after = await _check(world, "call_2", date=THURSDAY, date_to=FRIDAY)

        assert booked["status"] == "booked"
        assert _start(THURSDAY, 9) in before["slots"]
        assert _start(THURSDAY, 9) not in after["slots"]
        assert _slot_requests(world) == 1

    async def test_a_part_of_one_day_shares_that_day_s_read(self, world: World) -> None:
        await _check(world, "call_1", date=FRIDAY)
        await _check(world, "call_2", date=FRIDAY, part_of_day="afternoon")

        assert _slot_requests(world) == 1
