"""Caller identity: nothing a caller says makes the tools read or change another's booking.

Each attack of the issue "Who is calling" is one test here, as an attacker would try it
with a phone and a few spoken words; plus caller IDs that are facts, not input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, OTHER_CALLER, World

from retell_booking_tools.domain import AppointmentStatus

ELEVEN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
"""11:00 in Berlin on the day the tests book."""

NEW_RANGE = "+4915312345678"
"""Possible, but not in phonenumbers' validity tables (a German 0153 mobile number)."""


async def _tool(
    world: World,
    tool: str,
    args: dict[str, Any],
    *,
    call_id: str,
    from_number: str | None = CALLER,
    **call_fields: Any,
) -> dict[str, Any]:
    """One signed function call with the call object's extra fields (metadata...)."""
    call = world.retell.call_object(call_id, from_number=from_number, **call_fields)
    response = await world.retell.function_call(tool, args, call=call)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _booking(at: str = "11:00", **extra: Any) -> dict[str, Any]:
    return {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": at, **extra}


async def _owner_phone(world: World, booking_uid: str) -> str | None:
    appointment = await world.repository.get_appointment_by_uid(booking_uid)
    assert appointment is not None
    customer = await world.repository.get_customer(appointment.customer_id)
    assert customer is not None
    return customer.phone


class TestImpersonationThroughPhone:
    """Calling from B's number and saying A's number gets B nothing of A's."""

    async def test_saying_anothers_number_for_their_start_is_not_existing(
        self, world: World
    ) -> None:
        """B never hears A's booking uid or time, and B's call is not linked to it."""
        mine = await world.book("call_a")
        uid = mine["appointment"]["booking_uid"]

        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(phone=CALLER),
            call_id="call_b",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] in ("conflict", "unavailable")
        assert uid not in str(answer)
        assert "appointment" not in answer
        assert await world.links_of(uid) == {"call_a": "original"}

    async def test_a_booking_made_saying_anothers_number_is_the_callers_own(
        self, world: World
    ) -> None:
        """The new booking is stored under B's number, and A does not find it as theirs."""
        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(at="14:00", phone=CALLER),
            call_id="call_b",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] == "booked"
        assert await _owner_phone(world, answer["appointment"]["booking_uid"]) == OTHER_CALLER
        found = await world.tool("find_appointments", {}, call_id="call_a_find")
        assert found["status"] == "none"

    async def test_a_lookup_saying_anothers_number_lists_only_the_callers_own(
        self, world: World
    ) -> None:
        await world.book("call_a")

        answer = await world.tool(
            "find_appointments", {"phone": CALLER}, call_id="call_b", from_number=OTHER_CALLER
        )

        assert answer["status"] == "none"


class TestNumberlessLookups:
    """A web call or a withheld number names nobody by saying a phone or an email."""

    @pytest.mark.parametrize("said", [{"phone": CALLER}, {"email": "max@example.com"}])
    async def test_a_numberless_lookup_by_phone_or_email_lists_nothing(
        self, world: World, said: dict[str, str]
    ) -> None:
        booked = await world.book("call_a", email="max@example.com")

        answer = await world.tool("find_appointments", said, call_id="call_web", from_number=None)

        assert answer["status"] == "invalid"
        assert answer["field"] == "booking_reference"
        assert booked["appointment"]["booking_uid"] not in str(answer)

    async def test_a_web_caller_saying_wendys_email_cannot_find_move_or_cancel_hers(
        self, world: World
    ) -> None:
        """Wendy booked on the website (her identity in the call's metadata); an anonymous
        web caller who knows her email and even her booking uid changes nothing."""
        wendy = {"booking_customer_email": "wendy@example.com"}
        booked = await _tool(
            world,
            "collect_appointment_data",
            _booking(customer_name="Wendy Example"),
            call_id="call_wendy",
            from_number=None,
            metadata=wendy,
        )
        assert booked["status"] == "booked"
        uid = booked["appointment"]["booking_uid"]
        said = {"email": "wendy@example.com", "booking_uid": uid}

        found = await _tool(world, "find_appointments", said, call_id="web_1", from_number=None)
        moved = await _tool(
            world,
            "reschedule_appointment",
            {**said, "date": "2025-10-10", "time": "14:00"},
            call_id="web_1",
            from_number=None,
        )
        cancelled = await _tool(
            world, "cancel_appointment", said, call_id="web_1", from_number=None
        )

        assert [found["status"], moved["status"], cancelled["status"]] == ["invalid"] * 3
        assert world.calcom.booking(uid).status == "accepted"
        assert world.calcom.booking(uid).start == ELEVEN
        assert await world.links_of(uid) == {"call_wendy": "original"}

    async def test_wendy_herself_finds_hers_on_a_web_call_that_carries_her_identity(
        self, world: World
    ) -> None:
        """The backend that created the web call vouches for her: no reference needed."""
        wendy = {"booking_customer_email": "wendy@example.com"}
        booked = await _tool(
            world,
            "collect_appointment_data",
            _booking(),
            call_id="call_1",
            from_number=None,
            retell_llm_dynamic_variables=wendy,
        )

        found = await _tool(
            world, "find_appointments", {}, call_id="call_2", from_number=None, metadata=wendy
        )

        assert found["status"] == "found"
        assert found["appointments"][0]["booking_uid"] == booked["appointment"]["booking_uid"]


class TestCalcomOnlyBookings:
    """A booking Cal.com holds and the store does not is adopted only by its own attendee."""

    @pytest.mark.parametrize("requires_confirmation", [False, True])
    async def test_saying_karls_email_for_the_start_karl_holds_is_not_existing(
        self, world: World
    ) -> None:
        """Whether Cal.com refuses the repeat (400) or hands Karl's booking back (201)."""
        karl = world.calcom.seed_booking(
            event_type_id=EVENT_TYPE_ID,
            start=ELEVEN,
            attendee_name="Karl Klammer",
            attendee_email="karl@example.com",
        )

        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(email="karl@example.com"),
            call_id="call_b",
            from_number=OTHER_CALLER,
        )
        cancel = await _tool(
            world,
            "cancel_appointment",
            {"booking_uid": karl.uid},
            call_id="call_b2",
            from_number=OTHER_CALLER,
        )

        assert answer["status"] in ("conflict", "unavailable")
        assert karl.uid not in str(answer)
        assert await world.repository.get_appointment_by_uid(karl.uid) is None
        assert cancel["status"] == "not_found"
        assert world.calcom.booking(karl.uid).status == "accepted"


class TestSpokenEmails:
    """A spoken email belongs to the booking it was given for, and to nothing else."""

    async def test_a_spoken_email_does_not_stick_to_later_bookings(self, world: World) -> None:
        first = await world.book("call_1", at="11:00", email="first@example.com")
        second = await world.book("call_2", at="14:00")

        emails = [
            world.calcom.booking(r["appointment"]["booking_uid"]).attendees[0].email
            for r in (first, second)
        ]

        assert emails[0] == "first@example.com"
        assert emails[1] != "first@example.com"
        customer = await world.repository.find_customer(phone=CALLER, email=None)
        assert customer is not None
        assert customer.email is None

    async def test_a_corrected_email_is_the_one_the_next_booking_gets(self, world: World) -> None:
        await world.book("call_1", at="11:00", email="typo@exampel.com")
        corrected = await world.book("call_2", at="14:00", email="right@example.com")

        booking = world.calcom.booking(corrected["appointment"]["booking_uid"])

        assert booking.attendees[0].email == "right@example.com"
        stored = await world.repository.get_appointment_by_uid(booking.uid)
        assert stored is not None
        assert stored.contact_email == "right@example.com"

    async def test_a_lookup_with_an_email_stores_no_email(self, world: World) -> None:
        await world.tool("find_appointments", {"email": "someone@example.com"}, call_id="c")

        customer = await world.repository.find_customer(phone=CALLER, email=None)
        assert customer is not None
        assert customer.email is None


class TestCallersWithoutIdentity:
    """Without a trusted identity a caller may book, but hears of nobody's appointment."""

    async def test_a_numberless_caller_books_with_a_spoken_email(self, world: World) -> None:
        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(email="anna@example.com"),
            call_id="web_1",
            from_number=None,
        )

        assert answer["status"] == "booked"
        booking = world.calcom.booking(answer["appointment"]["booking_uid"])
        assert booking.attendees[0].email == "anna@example.com"

    async def test_two_numberless_callers_saying_one_email_are_two_customers(
        self, world: World
    ) -> None:
        """The second hears `unavailable` for the first one's start, with the reference hint."""
        first = await _tool(
            world,
            "collect_appointment_data",
            _booking(email="shared@example.com"),
            call_id="web_1",
            from_number=None,
        )
        second = await _tool(
            world,
            "collect_appointment_data",
            _booking(email="shared@example.com"),
            call_id="web_2",
            from_number=None,
        )

        assert first["status"] == "booked"
        assert second["status"] == "unavailable"
        assert first["appointment"]["booking_uid"] not in str(second)
        assert second["alternatives"]
        assert "booking reference" in second["message"]

    async def test_a_start_held_by_a_phone_caller_is_unavailable_to_a_numberless_one(
        self, world: World
    ) -> None:
        await world.book("call_a")

        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(phone=CALLER),
            call_id="web_1",
            from_number=None,
        )

        assert answer["status"] == "unavailable"
        assert "appointment" not in answer
        assert "booking reference" in answer["message"]


class TestCallerId:
    """The network's number is a fact; a missing one is asked for, never "repeated"."""

    async def test_a_caller_from_a_possible_but_not_valid_range_books(self, world: World) -> None:
        answer = await world.book("call_new_range", from_number=NEW_RANGE)

        assert answer["status"] == "booked"
        assert await _owner_phone(world, answer["appointment"]["booking_uid"]) == NEW_RANGE

    async def test_an_outbound_call_identifies_the_callee_by_to_number(self, world: World) -> None:
        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(),
            call_id="out_1",
            from_number="+4930123456",
            to_number=OTHER_CALLER,
            direction="outbound",
        )

        assert answer["status"] == "booked"
        assert await _owner_phone(world, answer["appointment"]["booking_uid"]) == OTHER_CALLER

    async def test_a_web_call_with_the_backends_customer_id_manages_its_own_bookings(
        self, world: World
    ) -> None:
        """``booking_customer_id`` alone is an identity; another id sees nothing of it."""
        booked = await _tool(
            world,
            "collect_appointment_data",
            _booking(email="u7@example.com"),
            call_id="web_u7",
            from_number=None,
            call_type="web_call",
            metadata={"booking_customer_id": "user-7"},
        )
        mine = await _tool(
            world,
            "find_appointments",
            {},
            call_id="web_u7_later",
            from_number=None,
            call_type="web_call",
            metadata={"booking_customer_id": "user-7"},
        )
        theirs = await _tool(
            world,
            "find_appointments",
            {},
            call_id="web_u8",
            from_number=None,
            call_type="web_call",
            metadata={"booking_customer_id": "user-8"},
        )

        assert booked["status"] == "booked"
        assert [a["booking_uid"] for a in mine["appointments"]] == [
            booked["appointment"]["booking_uid"]
        ]
        assert theirs["status"] == "none"

    @pytest.mark.parametrize("number", ["anonymous", "", None, "restricted"])
    async def test_a_caller_without_a_usable_number_is_asked_for_a_phone_or_an_email(
        self, world: World, number: str | None
    ) -> None:
        answer = await _tool(
            world, "collect_appointment_data", _booking(), call_id="c", from_number=number
        )

        assert answer["status"] == "invalid"
        assert answer["field"] == "phone"
        assert "phone number or an email" in answer["message"]
        assert "repeat" not in answer["message"]
        assert world.calcom.created_bookings_count() == 0

    @pytest.mark.parametrize("language", ["de"])
    async def test_the_question_for_a_contact_is_german_too(self, world: World) -> None:
        answer = await _tool(
            world, "collect_appointment_data", _booking(), call_id="c", from_number="anonymous"
        )

        assert answer["field"] == "phone"
        assert "Telefonnummer oder E-Mail-Adresse" in answer["message"]
        assert "wiederholen" not in answer["message"]

    async def test_a_spoken_number_is_still_checked_strictly(self, world: World) -> None:
        answer = await _tool(
            world,
            "collect_appointment_data",
            _booking(phone="+49 153 12345678"),
            call_id="c",
            from_number=None,
        )

        assert answer["status"] == "invalid"
        assert answer["field"] == "phone"
        assert world.calcom.created_bookings_count() == 0


class TestCleanText:
    """What reaches Cal.com is what the caller was read back."""

    @pytest.mark.parametrize(
        "name",
        ["Max\u202eNamremsum", "Max\u2066Mustermann\u2069", "Ma\u200bx Mustermann", "\u200b\u200d"],
    )
    async def test_names_with_bidi_controls_or_zero_width_characters_are_invalid(
        self, world: World, name: str
    ) -> None:
        answer = await world.book("call_1", customer_name=name)

        assert answer["status"] == "invalid"
        assert answer["field"] == "customer_name"
        assert world.calcom.created_bookings_count() == 0

    async def test_a_persian_name_keeps_its_zero_width_non_joiner(self, world: World) -> None:
        name = "\u0645\u0647\u200c\u0646\u0627\u0632 Ahmadi"

        answer = await world.book("call_1", customer_name=name)

        assert answer["status"] == "booked"
        booking = world.calcom.booking(answer["appointment"]["booking_uid"])
        assert booking.attendees[0].name == name

    async def test_a_decomposed_name_reaches_cal_com_composed(self, world: World) -> None:
        answer = await world.book("call_1", customer_name="Zoe\u0308 Mu\u0308ller")

        booking = world.calcom.booking(answer["appointment"]["booking_uid"])
        assert booking.attendees[0].name == "Zo\u00eb M\u00fcller"

    async def test_a_nul_in_a_cancel_reason_is_invalid_and_cancels_nothing(
        self, world: World
    ) -> None:
        """On every store, PostgreSQL included (which refuses NUL in text)."""
        booked = await world.book("call_1")
        uid = booked["appointment"]["booking_uid"]

        answer = await world.tool(
            "cancel_appointment", {"booking_uid": uid, "reason": "no\x00 thanks"}, call_id="c2"
        )

        assert answer["status"] == "invalid"
        assert answer["field"] == "reason"
        assert world.calcom.booking(uid).status == "accepted"
        stored = await world.repository.get_appointment_by_uid(uid)
        assert stored is not None
        assert stored.status is AppointmentStatus.ACTIVE
