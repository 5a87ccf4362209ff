"""Callers without an email, booked the way Cal.com books phone-only attendees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, World

from retell_booking_tools.booking.attendees import (
    PhoneAddress,
    attendee_email,
    attendee_emails,
    legacy_attendee_email,
    parse_attendee_email,
)
from retell_booking_tools.domain import Customer, NewAppointment
from retell_booking_tools.ops.doctor import Doctor

FRIDAY_11 = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
LEGACY = f"tel-{CALLER.lstrip('+')}@phone.invalid"


async def test_a_caller_without_an_email_is_booked_with_phone_number_and_sms_cal_com(
    world: World,
) -> None:
    """Cal.com never e-mails ``@sms.cal.com``: no confirmation bounces."""
    answer = await world.book("call_1")

    assert answer["status"] == "booked"
    [create] = [r for r in world.calcom.requests if r.method == "POST"]
    assert create.json["attendee"]["phoneNumber"] == CALLER
    assert create.json["attendee"]["email"] == "4915112345678@sms.cal.com"
    assert world.calcom.emails == []


async def test_a_phone_only_repeat_is_existing(world: World) -> None:
    first = await world.book("call_1")

    again = await world.book("call_2")

    assert again["status"] == "existing"
    assert again["appointment"]["booking_uid"] == first["appointment"]["booking_uid"]
    assert world.calcom.created_bookings_count() == 1


async def test_a_caller_who_gives_an_email_is_booked_with_it_and_cal_com_confirms_there(
    world: World,
) -> None:
    answer = await world.book("call_1", email="max@example.org")

    assert answer["status"] == "booked"
    [create] = [r for r in world.calcom.requests if r.method == "POST"]
    assert create.json["attendee"]["email"] == "max@example.org"
    assert create.json["attendee"]["phoneNumber"] == CALLER
    assert [(mail.to, mail.kind) for mail in world.calcom.emails] == [
        ("max@example.org", "scheduled")
    ]


async def test_a_legacy_booking_in_store_and_cal_com_is_still_existing_and_doctor_reports_it(
    world: World,
) -> None:
    """Made under ``tel-<digits>@phone.invalid`` before the address changed."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=FRIDAY_11,
        attendee_name="Max Mustermann",
        attendee_email=LEGACY,
        created_at=world.clock() - timedelta(days=1),
    )
    customer = await world.repository.upsert_customer(name="Max", phone=CALLER, email=None)
    await world.repository.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid=seeded.uid,
            event_type_id=EVENT_TYPE_ID,
            start=FRIDAY_11,
            end=FRIDAY_11 + timedelta(hours=1),
            timezone="Europe/Berlin",
        )
    )

    again = await world.book("call_2")
    report = await Doctor(
        repository=world.repository,
        calcom=world.runtime.calcom,
        event_type_ids=[EVENT_TYPE_ID],
        timezone="Europe/Berlin",
        attendee_email_domain=world.runtime.settings.attendee_email_domain,
        phone_region="DE",
        clock=world.clock,
    ).run(since=world.clock() - timedelta(days=1))

    assert again["status"] == "existing"
    assert again["appointment"]["booking_uid"] == seeded.uid
    assert world.calcom.created_bookings_count() == 0
    assert [(p.kind, p.booking_uid) for p in report.problems] == [
        ("legacy_attendee_email", seeded.uid)
    ]


async def test_a_legacy_booking_only_cal_com_holds_is_found_and_existing(world: World) -> None:
    """The look-up matches every address the caller may have booked under, in one request."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=FRIDAY_11,
        attendee_name="Max Mustermann",
        attendee_email=LEGACY,
        created_at=world.clock() - timedelta(days=1),
    )

    again = await world.book("call_2")

    assert again["status"] == "existing"
    assert again["appointment"]["booking_uid"] == seeded.uid
    look_ups = [r for r in world.calcom.requests if r.method == "GET" and r.path == "/v2/bookings"]
    assert len(look_ups) == 1


class TestTheAttendeeAddressCodec:
    """One function builds and one parses the addresses derived from a phone."""

    def test_the_address_is_the_e164_digits_at_sms_cal_com(self) -> None:
        assert attendee_email("+4915112345678") == "4915112345678@sms.cal.com"

    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            ("4915112345678@sms.cal.com", PhoneAddress("+4915112345678", legacy=False)),
            ("4915112345678@SMS.cal.com", PhoneAddress("+4915112345678", legacy=False)),
            ("tel-4915112345678@phone.invalid", PhoneAddress("+4915112345678", legacy=True)),
            ("tel-4915112345678@calls.example", PhoneAddress("+4915112345678", legacy=True)),
            ("4915112345678@calls.example", PhoneAddress("+4915112345678", legacy=False)),
            ("4915112345678@gmail.com", None),
            ("tel-4915112345678@gmail.com", None),
            ("max@sms.cal.com", None),
            ("12@sms.cal.com", None),
        ],
    )
    def test_derived_addresses_are_read_back_and_real_ones_are_not(
        self, address: str, expected: PhoneAddress | None
    ) -> None:
        """Known domains only: a real address that starts with digits is nobody's phone."""
        assert parse_attendee_email(address, domain="calls.example") == expected

    def test_every_address_built_parses_back_to_its_phone(self) -> None:
        for built in (attendee_email(CALLER), legacy_attendee_email(CALLER)):
            parsed = parse_attendee_email(built)
            assert parsed is not None
            assert parsed.phone == CALLER

    def test_the_address_to_book_with_comes_first_and_the_legacy_ones_after(self) -> None:
        customer = Customer(id=1, name="Max", phone=CALLER)

        assert attendee_emails(customer, given=None, domain="sms.cal.com") == (
            "4915112345678@sms.cal.com",
            LEGACY,
        )
        assert attendee_emails(customer, given="max@example.org", domain="sms.cal.com")[0] == (
            "max@example.org"
        )
