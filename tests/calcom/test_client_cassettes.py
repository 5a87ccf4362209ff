"""CalcomClient against recorded HTTP: the contract a user relies on, replayed offline.

Each test names its cassette in ``tests/cassettes/calcom``; ``tests/cassettes/README.md``
says what they were recorded against and how to re-record. Tests take their inputs
(event type, window, attendee) from the ``recording`` fixture, so the same code records
against the emulator or a real account and replays what it recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from vcr.request import Request as VcrRequest

from retell_booking_tools.calcom import (
    CalcomClient,
    CalcomNotFound,
    CalcomSlotUnavailable,
    CreateBooking,
    NewAttendee,
)

if TYPE_CHECKING:
    from conftest import PersonalDataScrubber, Recording

Recorded = Callable[[str], AbstractAsyncContextManager[CalcomClient]]

PLACEHOLDER_EMAIL = re.compile(r"^(attendee|host|guest|someone)\d*@example\.com$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CAL_KEY = re.compile(r"cal_[A-Za-z0-9_]{6,}")


def _new_booking(recording: Recording, start: datetime) -> CreateBooking:
    return CreateBooking(
        start=start,
        event_type_id=recording.event_type_id,
        attendee=NewAttendee(
            name=recording.attendee_name,
            email=recording.attendee_email,
            time_zone=recording.time_zone,
        ),
    )


async def _free_starts(client: CalcomClient, recording: Recording) -> list[datetime]:
    return await client.get_slots(
        event_type_id=recording.event_type_id,
        start=recording.window_start,
        end=recording.window_end,
        time_zone=recording.time_zone,
    )


# -- replayed behaviour -----------------------------------------------------------------------


async def test_slots_are_aware_sorted_and_in_the_business_time_zone(
    recorded: Recorded, recording: Recording
) -> None:
    """Cal.com answers in local time with offsets; the client keeps them, sorted, in range."""
    async with recorded("slots") as client:
        slots = await _free_starts(client, recording)

    zone = ZoneInfo(recording.time_zone)
    assert slots, "the recorded window has free slots"
    assert slots == sorted(slots)
    for slot in slots:
        assert slot.tzinfo is not None
        assert slot.utcoffset() == slot.astimezone(zone).utcoffset()
        assert recording.window_start <= slot <= recording.window_end


async def test_booking_a_free_slot_then_asking_again_is_refused_and_findable(
    recorded: Recorded, recording: Recording
) -> None:
    """The first create is 201; the identical repeat is CalcomSlotUnavailable, the booking is
    found by attendee and by uid."""
    async with recorded("book_then_repeat") as client:
        start = (await _free_starts(client, recording))[0]
        booking = await client.create_booking(_new_booking(recording, start))
        with pytest.raises(CalcomSlotUnavailable) as repeat:
            await client.create_booking(_new_booking(recording, start))
        listed = await client.list_bookings(
            attendee_email=recording.attendee_email,
            event_type_id=recording.event_type_id,
            after_start=recording.window_start,
            before_end=recording.window_end,
        )
        fetched = await client.get_booking(booking.uid)

    assert booking.start == start
    assert booking.is_active
    assert booking.event_type_id == recording.event_type_id
    assert booking.has_attendee(recording.attendee_email)
    assert repeat.value.status_code in (400, 409)
    assert [b.uid for b in listed if b.start == start] == [booking.uid]
    assert fetched.uid == booking.uid
    assert fetched.start == booking.start
    assert fetched.created_at == booking.created_at


async def test_an_unknown_uid_is_not_found(recorded: Recorded) -> None:
    async with recorded("unknown_booking") as client:
        with pytest.raises(CalcomNotFound) as caught:
            await client.get_booking("no-such-booking-uid")
    assert caught.value.status_code == 404


async def test_listing_by_attendee_follows_every_page(
    recorded: Recorded, recording: Recording
) -> None:
    """Three bookings listed two at a time come back complete, in start order."""
    async with recorded("list_by_attendee_pages") as client:
        starts = (await _free_starts(client, recording))[:3]
        made = [await client.create_booking(_new_booking(recording, start)) for start in starts]
        listed = await client.list_bookings(
            attendee_email=recording.attendee_email,
            event_type_id=recording.event_type_id,
            after_start=recording.window_start,
            before_end=recording.window_end,
            take=2,
        )

    assert [b.uid for b in listed] == [b.uid for b in made]
    assert all(b.has_attendee(recording.attendee_email) for b in listed)


async def test_cancelling_frees_the_slot_and_keeps_the_reason(
    recorded: Recorded, recording: Recording
) -> None:
    async with recorded("cancel") as client:
        start = (await _free_starts(client, recording))[0]
        booking = await client.create_booking(_new_booking(recording, start))
        cancelled = await client.cancel_booking(booking.uid, reason="Caller cancelled by phone")
        fetched = await client.get_booking(booking.uid)
        free_again = await _free_starts(client, recording)

    assert cancelled.uid == booking.uid
    assert cancelled.status == "cancelled"
    assert not fetched.is_active
    assert fetched.cancellation_reason == "Caller cancelled by phone"
    assert start in free_again


async def test_rescheduling_makes_a_new_booking_and_links_both_ways(
    recorded: Recorded, recording: Recording
) -> None:
    """The new booking points back with rescheduled_from_uid, the old one forward."""
    async with recorded("reschedule") as client:
        first, later = (await _free_starts(client, recording))[:2]
        original = await client.create_booking(_new_booking(recording, first))
        moved = await client.reschedule_booking(original.uid, later, reason="Caller asked")
        old = await client.get_booking(original.uid)

    assert moved.uid != original.uid
    assert moved.start == later
    assert moved.is_active
    assert moved.rescheduled_from_uid == original.uid
    assert old.rescheduled_to_uid == moved.uid
    assert not old.is_active


# -- cassette hygiene -------------------------------------------------------------------------


def _committed_cassettes() -> list[Path]:
    return sorted((Path(__file__).resolve().parents[1] / "cassettes" / "calcom").glob("*.yaml"))


def test_cassettes_are_committed_for_every_replayed_scenario() -> None:
    names = {path.stem for path in _committed_cassettes()}
    assert {
        "slots",
        "book_then_repeat",
        "unknown_booking",
        "list_by_attendee_pages",
        "cancel",
        "reschedule",
    } <= names


@pytest.mark.parametrize("path", _committed_cassettes(), ids=lambda path: path.name)
def test_committed_cassette_holds_no_credentials_or_personal_data(path: Path) -> None:
    """No auth header, nothing shaped like a Cal.com key, only placeholder e-mails."""
    text = path.read_text()
    cassette = yaml.safe_load(text)

    for interaction in cassette["interactions"]:
        for side in ("request", "response"):
            headers = {name.lower() for name in interaction[side].get("headers", {})}
            assert not headers & {"authorization", "cookie", "set-cookie"}
    assert not CAL_KEY.search(text)
    assert "bearer" not in text.lower()
    unscrubbed = {email for email in EMAIL.findall(text) if not PLACEHOLDER_EMAIL.match(email)}
    assert not unscrubbed


def test_recording_notes_hold_only_placeholders() -> None:
    path = Path(__file__).resolve().parents[1] / "cassettes" / "calcom" / "recording.json"
    notes = json.loads(path.read_text())
    assert PLACEHOLDER_EMAIL.match(notes["attendee_email"])
    assert not CAL_KEY.search(path.read_text())


# -- the scrubber itself ----------------------------------------------------------------------


def test_scrubber_replaces_attendee_details_in_query_body_and_title(
    scrubber: PersonalDataScrubber,
) -> None:
    """A real recording must not keep who called: e-mail, name and phone become placeholders,
    also inside free text such as the booking title."""
    request = VcrRequest(
        "POST",
        "https://api.cal.com/v2/bookings?attendeeEmail=erika.mustermann%40mail.de&take=10",
        json.dumps(
            {
                "start": "2050-09-05T09:00:00.000Z",
                "attendee": {
                    "name": "Erika Mustermann",
                    "email": "erika.mustermann@mail.de",
                    "phoneNumber": "+49 170 1234567",
                    "timeZone": "Europe/Berlin",
                },
            }
        ).encode(),
        {"Content-Type": "application/json"},
    )
    response: dict[str, Any] = {
        "status": {"code": 201, "message": "Created"},
        "headers": {"content-length": ["999"]},
        "body": {
            "string": json.dumps(
                {
                    "status": "success",
                    "data": {
                        "title": "Beratung between Dr. Hans Host and Erika Mustermann",
                        "hosts": [{"name": "Dr. Hans Host", "email": "hans@praxis.de"}],
                        "attendees": [
                            {"name": "Erika Mustermann", "email": "erika.mustermann@mail.de"}
                        ],
                        "rescheduledByEmail": "front-desk@praxis.de",
                    },
                }
            ).encode()
        },
    }

    scrubbed_request = scrubber.request(request)
    scrubbed_response = scrubber.response(response)

    stored = scrubbed_request.uri + scrubbed_request.body.decode()
    stored += scrubbed_response["body"]["string"].decode()
    for personal in ("erika", "Mustermann", "1234567", "Hans", "praxis.de"):
        assert personal not in stored
    data = json.loads(scrubbed_response["body"]["string"])["data"]
    assert data["attendees"] == [{"name": "Alex Example", "email": "attendee@example.com"}]
    assert data["hosts"] == [{"name": "Host 1", "email": "host@example.com"}]
    assert data["title"] == "Beratung between Host 1 and Alex Example"
    assert "attendeeEmail=attendee%40example.com" in scrubbed_request.uri
    assert scrubbed_response["headers"]["content-length"] == [
        str(len(scrubbed_response["body"]["string"]))
    ]


def test_scrubber_maps_the_same_person_to_the_same_placeholder(
    scrubber: PersonalDataScrubber,
) -> None:
    """Replayed requests are scrubbed too; stable placeholders are what lets them match."""
    assert scrubber.text("a@mail.de, b@mail.de, a@mail.de") == (
        "someone@example.com, someone2@example.com, someone@example.com"
    )
    assert scrubber.text("attendee@example.com") == "attendee@example.com"
