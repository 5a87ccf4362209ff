"""Booking references: said in the booked message, the key for callers the call does not
identify, useless without the name on the booking, and rate-limited."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from agent_backend import CALLER, OTHER_CALLER, World
from ops_readings import SINCE, doctor_for, scrape

from retell_booking_tools.domain import REFERENCE_ALPHABET
from retell_booking_tools.ops.history import appointment_history, call_history

_DAY = timedelta(days=1)
_SPOKEN = {
    "en": re.compile(r"Your booking reference is (\w) (\w) (\w), (\w) (\w) (\w)\.$"),
    "de": re.compile(r"Ihre Buchungsnummer ist (\w) (\w) (\w), (\w) (\w) (\w)\.$"),
}


async def _tool(
    world: World, tool: str, args: dict[str, Any], *, call_id: str, from_number: str | None
) -> dict[str, Any]:
    return await world.tool(tool, args, call_id=call_id, from_number=from_number)


async def _booked(world: World) -> tuple[str, str]:
    """Max books 11:00 from his number: (booking uid, booking reference)."""
    booked = await world.book("call_1")
    assert booked["status"] == "booked"
    appointment = booked["appointment"]
    return appointment["booking_uid"], appointment["booking_reference"]


@pytest.mark.parametrize("language", ["en", "de"])
async def test_the_booked_message_reads_the_reference_out_in_two_groups(
    world: World, language: str
) -> None:
    booked = await world.book("call_1")

    match = _SPOKEN[language].search(booked["message"])

    assert match is not None, booked["message"]
    reference = booked["appointment"]["booking_reference"]
    assert "".join(match.groups()) == reference
    assert len(reference) == 6
    assert set(reference) <= set(REFERENCE_ALPHABET)


async def test_the_reference_is_stored_and_shown_with_the_call_and_the_appointment(
    world: World,
) -> None:
    uid, reference = await _booked(world)

    shown = await appointment_history(world.repository, reference)
    call = await call_history(world.repository, "call_1")

    assert shown is not None
    assert shown["appointment"]["booking_uid"] == uid
    assert shown["appointment"]["booking_reference"] == reference
    assert call is not None
    assert call["links"][0]["booking_reference"] == reference


class TestEveryToolTakesTheReference:
    """A web caller (no number) manages the appointment with its reference and name."""

    async def test_a_web_caller_finds_confirms_moves_and_cancels_with_reference_and_name(
        self, world: World
    ) -> None:
        uid, reference = await _booked(world)
        spoken = {"booking_reference": reference.lower(), "customer_name": "mustermann"}

        found = await _tool(world, "find_appointments", spoken, call_id="web", from_number=None)
        confirmed = await _tool(world, "confirm_existing", spoken, call_id="web", from_number=None)
        moved = await _tool(
            world,
            "reschedule_appointment",
            {**spoken, "date": "2025-10-10", "time": "14:00"},
            call_id="web",
            from_number=None,
        )
        new_reference = moved["appointment"]["booking_reference"]
        cancelled = await _tool(
            world,
            "cancel_appointment",
            {"booking_reference": new_reference, "customer_name": "Max Mustermann"},
            call_id="web",
            from_number=None,
        )

        assert found["status"] == "found"
        assert [a["booking_uid"] for a in found["appointments"]] == [uid]
        assert confirmed["status"] == "confirmed"
        assert moved["status"] == "rescheduled"
        assert moved["previous_booking_uid"] == uid
        assert cancelled["status"] == "cancelled"
        assert world.calcom.booking(moved["appointment"]["booking_uid"]).status == "cancelled"

    async def test_a_caller_from_another_number_cancels_with_reference_and_name(
        self, world: World
    ) -> None:
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "cancel_appointment",
            {
                "booking_reference": f"{reference[:3]} {reference[3:]}",
                "customer_name": "MUSTERMANN",
            },
            call_id="other",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] == "cancelled"
        assert world.calcom.booking(uid).status == "cancelled"

    async def test_the_caller_s_own_reference_needs_no_name(self, world: World) -> None:
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "confirm_existing",
            {"booking_reference": reference},
            call_id="again",
            from_number=CALLER,
        )

        assert answer["status"] == "confirmed"
        assert answer["appointment"]["booking_uid"] == uid

    async def test_a_lookup_by_reference_lists_that_appointment_only(self, world: World) -> None:
        """Max's other appointment stays unseen by whoever knows one reference."""
        _, reference = await _booked(world)
        other = await world.book("call_2", at="15:00")

        found = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference, "customer_name": "Max Mustermann"},
            call_id="web",
            from_number=None,
        )

        assert len(found["appointments"]) == 1
        assert other["appointment"]["booking_uid"] not in str(found)


class TestTheReferenceAlone:
    """Without the matching name a reference opens nothing."""

    async def test_a_reference_with_another_name_is_not_found_and_changes_nothing(
        self, world: World
    ) -> None:
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "cancel_appointment",
            {"booking_reference": reference, "customer_name": "Erika Musterfrau"},
            call_id="web",
            from_number=None,
        )

        assert answer["status"] == "not_found"
        assert uid not in str(answer)
        assert world.calcom.booking(uid).status == "accepted"

    async def test_a_reference_without_a_name_asks_for_the_name(self, world: World) -> None:
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference},
            call_id="web",
            from_number=None,
        )

        assert answer["status"] == "invalid"
        assert answer["field"] == "customer_name"
        assert uid not in str(answer)

    async def test_without_a_name_a_known_and_an_unknown_reference_sound_alike(
        self, world: World
    ) -> None:
        """Nothing tells a guesser that a reference exists; asking for the name is no miss."""
        _, reference = await _booked(world)

        known, unknown = [
            await _tool(
                world,
                "cancel_appointment",
                {"booking_reference": guess},
                call_id="web",
                from_number=None,
            )
            for guess in (reference, "ZZZZZZ")
        ]

        assert known == unknown
        assert known["field"] == "customer_name"
        assert await world.repository.reference_misses(since=world.clock() - _DAY) == 0

    async def test_a_web_caller_acts_by_uid_on_what_this_call_booked_only(
        self, world: World
    ) -> None:
        booked = await _tool(
            world,
            "collect_appointment_data",
            {"customer_name": "Ann Lee", "date": "2025-10-10", "time": "12:00", "phone": CALLER},
            call_id="web",
            from_number=None,
        )
        uid = {"booking_uid": booked["appointment"]["booking_uid"]}

        stranger = await _tool(world, "cancel_appointment", uid, call_id="web_2", from_number=None)
        own = await _tool(world, "cancel_appointment", uid, call_id="web", from_number=None)

        assert stranger["status"] == "invalid"
        assert own["status"] == "cancelled"

    async def test_a_web_caller_without_a_reference_is_asked_for_it(self, world: World) -> None:
        await _booked(world)

        answer = await _tool(world, "find_appointments", {}, call_id="web", from_number=None)

        assert answer["status"] == "invalid"
        assert answer["field"] == "booking_reference"
        assert "booking reference" in answer["message"]


class TestGuessing:
    """Three misses in a call, or from a number, and references are refused."""

    async def test_after_three_misses_in_a_call_even_the_right_reference_is_refused(
        self, world: World
    ) -> None:
        uid, reference = await _booked(world)
        answers = [
            await _tool(
                world,
                "find_appointments",
                {"booking_reference": guess, "customer_name": "Max Mustermann"},
                call_id="web",
                from_number=None,
            )
            for guess in ("AAAAAA", "BBBBBB", "CCCCCC", reference)
        ]

        assert [a["status"] for a in answers] == ["not_found", "not_found", "invalid", "invalid"]
        assert answers[-1]["field"] == "booking_reference"
        assert "from the phone number you booked with" in answers[-1]["message"]
        assert uid not in str(answers)

    async def test_misses_from_one_number_count_across_calls(self, world: World) -> None:
        _, reference = await _booked(world)
        for n, guess in enumerate(("AAAAAA", "BBBBBB", "CCCCCC")):
            await _tool(
                world,
                "find_appointments",
                {"booking_reference": guess, "customer_name": "Max"},
                call_id=f"guess_{n}",
                from_number=OTHER_CALLER,
            )

        answer = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference, "customer_name": "Max Mustermann"},
            call_id="fresh_call",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] == "invalid"
        assert answer["field"] == "booking_reference"

    async def test_every_miss_is_counted_in_metrics(self, world: World) -> None:
        _, reference = await _booked(world)
        for guess, name in (("AAAAAA", "Max"), (reference, "Erika Musterfrau")):
            await _tool(
                world,
                "find_appointments",
                {"booking_reference": guess, "customer_name": name},
                call_id="web",
                from_number=None,
            )

        samples = await scrape(world)

        assert (
            samples[("retell_booking_reference_misses_total", frozenset({("business", "default")}))]
            == 2
        )


class TestTheNameOnTheBooking:
    """The surname alone or the whole name, spelt leniently; never a list of names."""

    async def test_a_list_of_surnames_is_not_found_and_counted_as_a_miss(
        self, world: World
    ) -> None:
        uid, reference = await _booked(world)
        names = (
            "Smith Jones Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz "
            "Hoffmann Mustermann Koch Richter Klein Wolf"
        )

        answer = await _tool(
            world,
            "cancel_appointment",
            {"booking_reference": reference, "customer_name": names},
            call_id="web",
            from_number=None,
        )

        assert answer["status"] == "not_found"
        assert uid not in str(answer)
        assert world.calcom.booking(uid).status == "accepted"
        assert await world.repository.reference_misses(since=world.clock() - _DAY) == 1

    @pytest.mark.parametrize(
        "name", ["Mustermann", "max mustermann", "Max Müstermann", "Mustermann Max"]
    )
    async def test_the_surname_or_the_whole_name_spelt_leniently_finds_the_booking(
        self, world: World, name: str
    ) -> None:
        """Case, accents and word order aside (what a transcription may add or drop)."""
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference, "customer_name": name},
            call_id="web",
            from_number=None,
        )

        assert answer["status"] == "found"
        assert answer["appointments"][0]["booking_uid"] == uid

    @pytest.mark.parametrize("name", ["Max", "Max Mustermann Koch", "Mustermann Mustermann"])
    async def test_a_given_name_alone_or_an_extra_word_is_not_found(
        self, world: World, name: str
    ) -> None:
        uid, reference = await _booked(world)

        answer = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference, "customer_name": name},
            call_id="web",
            from_number=None,
        )

        assert answer["status"] == "not_found"
        assert uid not in str(answer)


async def _guess(
    world: World, reference: str, *, call_id: str, agent_id: str = "agent_simulated"
) -> dict[str, Any]:
    """One ``find_appointments`` with Max's name from a call without a number."""
    call = world.retell.call_object(call_id, from_number=None, agent_id=agent_id)
    args = {"booking_reference": reference, "customer_name": "Max Mustermann"}
    response = await world.retell.function_call("find_appointments", args, call=call)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


class TestNumberlessGuessing:
    """Calls without a number share one daily budget of misses per agent."""

    async def test_twenty_misses_of_numberless_calls_refuse_even_the_right_reference(
        self, world: World
    ) -> None:
        """Two misses a call stay below the call's limit; the agent's budget still ends."""
        uid, reference = await _booked(world)
        statuses = [
            (await _guess(world, guess, call_id=f"web_{n}"))["status"]
            for n in range(10)
            for guess in ("AAAAAA", "BBBBBB")
        ]

        answer = await _guess(world, reference, call_id="web_last")

        assert statuses == ["not_found"] * 19 + ["invalid"]

        assert answer["status"] == "invalid"
        assert answer["field"] == "booking_reference"
        assert "from the phone number you booked with" in answer["message"]
        assert uid not in str(answer)

    async def test_the_budget_is_the_agents_own_and_a_day_long(self, world: World) -> None:
        _, reference = await _booked(world)
        for n in range(10):
            for guess in ("AAAAAA", "BBBBBB"):
                await _guess(world, guess, call_id=f"web_{n}")

        other_agent = await _guess(world, reference, call_id="web_a", agent_id="agent_other")
        world.clock.advance(_DAY + timedelta(seconds=1))
        next_day = await _guess(world, reference, call_id="web_b")

        assert other_agent["status"] == "found"
        assert next_day["status"] == "found"

    async def test_numberless_misses_do_not_lock_a_caller_with_a_number(self, world: World) -> None:
        _, reference = await _booked(world)
        for n in range(10):
            for guess in ("AAAAAA", "BBBBBB"):
                await _guess(world, guess, call_id=f"web_{n}")

        answer = await _tool(
            world,
            "find_appointments",
            {"booking_reference": reference, "customer_name": "Max Mustermann"},
            call_id="phone_call",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] == "found"


class TestConcurrentGuessing:
    """Guesses delivered at once are checked and counted one after another."""

    async def test_eight_parallel_guesses_in_one_call_never_find_after_three_misses(
        self, world: World
    ) -> None:
        """Seven wrong references and the right one last: three misses at most, then
        ``invalid``; the right one is found only if it came before the third miss."""
        uid, reference = await _booked(world)
        guesses = ["AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE", "FFFFFF", "GGGGGG"]

        answers = await asyncio.gather(
            *(_guess(world, guess, call_id="web") for guess in [*guesses, reference])
        )

        statuses = [answer["status"] for answer in answers]
        assert statuses[:-1].count("not_found") == 2, statuses
        assert statuses[:-1].count("invalid") == 5, statuses
        misses = await world.repository.reference_misses(since=world.clock() - _DAY)
        assert misses == 3
        assert statuses[-1] in ("found", "invalid")
        if statuses[-1] == "invalid":
            assert uid not in str(answers[-1])

    async def test_eight_parallel_wrong_guesses_count_three_misses_and_lock_the_call(
        self, world: World
    ) -> None:
        _, reference = await _booked(world)

        answers = await asyncio.gather(
            *(_guess(world, f"{letter}{letter}{letter}222", call_id="web") for letter in "ABCDEFGH")
        )
        after = await _guess(world, reference, call_id="web")

        assert sorted(a["status"] for a in answers) == ["invalid"] * 6 + ["not_found"] * 2
        assert after["status"] == "invalid"


class TestTheCallersOwnSlot:
    """``check_availability`` never says "not available" for the caller's own appointment."""

    @pytest.mark.parametrize(
        ("language", "words"),
        [("en", "You already have an appointment"), ("de", "bereits einen Termin")],
    )
    async def test_the_slot_holder_hears_existing_with_the_other_free_starts(
        self, world: World, language: str, words: str
    ) -> None:
        uid, _ = await _booked(world)

        answer = await world.tool(
            "check_availability", {"date": "2025-10-10", "time": "11:00"}, call_id="call_2"
        )

        assert answer["status"] == "existing"
        assert words in answer["message"]
        assert answer["appointment"]["booking_uid"] == uid
        assert "2025-10-10T11:00:00+02:00" not in answer["slots"]
        assert "2025-10-10T14:00:00+02:00" in answer["slots"]

    async def test_a_day_the_caller_holds_an_appointment_on_says_so_with_the_free_starts(
        self, world: World
    ) -> None:
        uid, _ = await _booked(world)

        answer = await world.tool("check_availability", {"date": "2025-10-10"}, call_id="c2")

        assert answer["status"] == "available"
        assert answer["message"].startswith(
            "On Friday, October 10 you already have an appointment at 11:00 AM."
        )
        assert answer["appointment"]["booking_uid"] == uid
        assert len(answer["slots"]) == 7

    async def test_asking_about_ones_own_slot_is_no_duplicate_and_no_unlinked_call(
        self, world: World
    ) -> None:
        """Metrics, stats and doctor count booking attempts, not questions."""
        await _booked(world)
        await world.tool(
            "check_availability", {"date": "2025-10-10", "time": "11:00"}, call_id="call_2"
        )

        samples = await scrape(world)
        report = await doctor_for(world).run(since=SINCE)

        assert (
            samples[
                ("retell_booking_duplicate_attempts_total", frozenset({("business", "default")}))
            ]
            == 0
        )
        assert report.problems == ()

    async def test_another_caller_hears_that_the_time_is_not_available(self, world: World) -> None:
        uid, _ = await _booked(world)

        answer = await _tool(
            world,
            "check_availability",
            {"date": "2025-10-10", "time": "11:00"},
            call_id="c2",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] == "unavailable"
        assert uid not in str(answer)
