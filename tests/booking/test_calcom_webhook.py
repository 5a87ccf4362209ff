"""``POST /calcom/webhook``: the store follows Cal.com, only on Cal.com's signature, in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from agent_backend import CALLER, EVENT_TYPE_ID, WEBHOOK_SECRET, World, make_settings

from retell_booking_tools.calcom.webhooks import SIGNATURE_HEADER, sign_webhook
from retell_booking_tools.domain import AppointmentStatus
from retell_booking_tools.server import create_app
from retell_booking_tools.testing import Fault, FaultKind, WebhookDelivery

MONDAY_10 = datetime(2025, 10, 13, 8, 0, tzinfo=UTC)


async def _booked_uid(world: World, call_id: str = "call_1", at: str = "11:00") -> str:
    booked = await world.book(call_id, at=at)
    assert booked["status"] == "booked"
    uid: str = booked["appointment"]["booking_uid"]
    return uid


async def _status(world: World, uid: str) -> AppointmentStatus | None:
    stored = await world.repository.get_appointment_by_uid(uid)
    return None if stored is None else stored.status


def _signed(body: bytes) -> WebhookDelivery:
    return WebhookDelivery(
        body=body,
        headers={
            "content-type": "application/json",
            SIGNATURE_HEADER: sign_webhook(body, WEBHOOK_SECRET),
        },
    )


async def test_a_cancellation_made_in_cal_com_is_applied_and_the_slot_books_anew(
    world: World,
) -> None:
    """After the webhook the appointment is cancelled: never `existing`, bookable again."""
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid, reason="closed")

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)
    )

    assert response.status_code == 200
    assert response.json() == {"status": "applied"}
    assert await _status(world, uid) is AppointmentStatus.CANCELLED
    again = await world.book("call_2")
    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] != uid


async def test_a_cancelled_appointment_is_already_cancelled_for_the_tool(world: World) -> None:
    """The cancel tool answers from the store the webhook updated, without a Cal.com write."""
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid)
    await world.deliver(world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET))

    answer = await world.tool("cancel_appointment", {"booking_uid": uid}, call_id="call_2")

    assert answer["status"] == "already_cancelled"
    assert world.calcom_writes() == ["/v2/bookings"]


async def test_a_repeated_delivery_changes_nothing_the_second_time(world: World) -> None:
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid)
    delivery = world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)

    first = await world.deliver(delivery)
    second = await world.deliver(delivery)

    assert (first.json(), second.json()) == ({"status": "applied"}, {"status": "unchanged"})
    assert await _status(world, uid) is AppointmentStatus.CANCELLED


async def test_an_older_created_event_arriving_late_never_revives_a_cancellation(
    world: World,
) -> None:
    """Out of order: CANCELLED first, then the booking's CREATED from before it."""
    uid = await _booked_uid(world)
    created = world.calcom.webhook("BOOKING_CREATED", uid, secret=WEBHOOK_SECRET)
    world.clock.advance(timedelta(minutes=5))
    world.calcom.cancel_booking(uid)
    cancelled = world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)

    await world.deliver(cancelled)
    late = await world.deliver(created)

    assert late.json() == {"status": "unchanged"}
    assert await _status(world, uid) is AppointmentStatus.CANCELLED


async def test_a_reschedule_made_in_cal_com_stores_the_new_booking_for_the_same_caller(
    world: World,
) -> None:
    """Old one `rescheduled`, new one stored and related; the caller finds the new time."""
    old_uid = await _booked_uid(world)
    new = world.calcom.reschedule_booking(old_uid, MONDAY_10)

    response = await world.deliver(
        world.calcom.webhook("BOOKING_RESCHEDULED", new.uid, secret=WEBHOOK_SECRET)
    )

    assert response.json() == {"status": "applied"}
    old = await world.repository.get_appointment_by_uid(old_uid)
    stored_new = await world.repository.get_appointment_by_uid(new.uid)
    assert old is not None
    assert stored_new is not None
    assert old.status is AppointmentStatus.RESCHEDULED
    assert stored_new.status is AppointmentStatus.ACTIVE
    assert stored_new.rescheduled_from_uid == old_uid
    assert stored_new.customer_id == old.customer_id
    found = await world.tool("find_appointments", {}, call_id="call_2")
    assert [a["booking_uid"] for a in found["appointments"]] == [new.uid]


async def test_the_slot_left_by_a_cal_com_reschedule_books_anew(world: World) -> None:
    old_uid = await _booked_uid(world)
    new = world.calcom.reschedule_booking(old_uid, MONDAY_10)
    await world.deliver(world.calcom.webhook("BOOKING_RESCHEDULED", new.uid, secret=WEBHOOK_SECRET))

    again = await world.book("call_2")

    assert again["status"] == "booked"
    assert again["appointment"]["booking_uid"] not in (old_uid, new.uid)


async def test_events_about_the_old_booking_after_a_reschedule_leave_it_rescheduled(
    world: World,
) -> None:
    """Neither its late CREATED nor a CANCELLED (a reschedule cancels the old one) undo it."""
    old_uid = await _booked_uid(world)
    created = world.calcom.webhook("BOOKING_CREATED", old_uid, secret=WEBHOOK_SECRET)
    world.clock.advance(timedelta(minutes=5))
    new = world.calcom.reschedule_booking(old_uid, MONDAY_10)
    await world.deliver(world.calcom.webhook("BOOKING_RESCHEDULED", new.uid, secret=WEBHOOK_SECRET))

    cancelled = await world.deliver(
        world.calcom.webhook("BOOKING_CANCELLED", old_uid, secret=WEBHOOK_SECRET)
    )
    late = await world.deliver(created)

    assert (cancelled.json(), late.json()) == ({"status": "unchanged"}, {"status": "unchanged"})
    assert await _status(world, old_uid) is AppointmentStatus.RESCHEDULED
    assert await _status(world, new.uid) is AppointmentStatus.ACTIVE


@pytest.mark.parametrize("requires_confirmation", [True])
async def test_an_older_pending_event_does_not_undo_a_newer_acceptance(world: World) -> None:
    """Between active and pending only the newer event counts."""
    uid = await _booked_uid(world)
    assert await _status(world, uid) is AppointmentStatus.PENDING
    pending = world.calcom.webhook("BOOKING_CREATED", uid, secret=WEBHOOK_SECRET)
    world.clock.advance(timedelta(minutes=5))
    world.calcom.confirm_booking(uid)
    accepted = world.calcom.webhook("BOOKING_CREATED", uid, secret=WEBHOOK_SECRET)

    first = await world.deliver(accepted)
    late = await world.deliver(pending)

    assert (first.json(), late.json()) == ({"status": "applied"}, {"status": "unchanged"})
    assert await _status(world, uid) is AppointmentStatus.ACTIVE


async def test_a_booking_made_in_cal_com_for_a_known_caller_is_stored_for_them(
    world: World,
) -> None:
    """The attendee address derived from the caller's phone names them."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_10,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
    )

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CREATED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    assert response.json() == {"status": "applied"}
    found = await world.tool("find_appointments", {}, call_id="call_2")
    assert [a["booking_uid"] for a in found["appointments"]] == [seeded.uid]


async def test_a_booking_for_an_unknown_attendee_is_acknowledged_and_not_stored(
    world: World,
) -> None:
    """Nobody to attribute it to: nothing stored, nobody can be told about it."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_10,
        attendee_name="Someone",
        attendee_email="someone@example.org",
    )

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CREATED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await world.repository.get_appointment_by_uid(seeded.uid) is None


async def test_a_cancellation_of_a_booking_we_do_not_hold_stores_nothing(world: World) -> None:
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_10,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
    )
    world.calcom.cancel_booking(seeded.uid)

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CANCELLED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    assert response.json() == {"status": "ignored"}
    assert await world.repository.get_appointment_by_uid(seeded.uid) is None


async def test_a_created_event_arriving_after_its_cancellation_stores_nothing(
    world: World,
) -> None:
    """The booking is read back before it is stored: a cancelled one is not."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_10,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
    )
    created = world.calcom.webhook("BOOKING_CREATED", seeded.uid, secret=WEBHOOK_SECRET)
    world.calcom.cancel_booking(seeded.uid)
    await world.deliver(
        world.calcom.webhook("BOOKING_CANCELLED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    late = await world.deliver(created)

    assert late.json() == {"status": "ignored"}
    assert await world.repository.get_appointment_by_uid(seeded.uid) is None


async def test_cal_com_unreachable_while_reading_back_is_503_and_stores_nothing(
    world: World,
) -> None:
    """Cal.com is asked to deliver again later; nothing half-applied."""
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=MONDAY_10,
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
    )
    world.calcom.inject(Fault(kind=FaultKind.CONNECT_ERROR, method="GET", times=10))

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CREATED", seeded.uid, secret=WEBHOOK_SECRET)
    )

    assert response.status_code == 503
    assert await world.repository.get_appointment_by_uid(seeded.uid) is None


async def test_a_trigger_we_do_not_apply_is_acknowledged(world: World) -> None:
    response = await world.deliver(
        _signed(
            json.dumps(
                {
                    "triggerEvent": "MEETING_ENDED",
                    "createdAt": "2025-10-08T20:21:00Z",
                    "payload": {},
                }
            ).encode()
        )
    )

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: "0" * 64},
    ],
    ids=["missing", "empty", "forged"],
)
async def test_an_unsigned_or_forged_delivery_is_401_and_applies_nothing(
    world: World, headers: dict[str, str]
) -> None:
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid)
    delivery = world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)

    response = await world.http.post("/calcom/webhook", content=delivery.body, headers=headers)

    assert response.status_code == 401
    assert WEBHOOK_SECRET not in response.text
    assert await _status(world, uid) is AppointmentStatus.ACTIVE


async def test_a_delivery_signed_with_another_secret_or_altered_is_401(world: World) -> None:
    """The signature covers exactly the raw bytes, under our secret only."""
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid)
    other = world.calcom.webhook("BOOKING_CANCELLED", uid, secret="someone-elses-secret")
    genuine = world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)
    altered = genuine.body.replace(b"BOOKING_CANCELLED", b"BOOKING_CREATED")

    forged = await world.deliver(other)
    tampered = await world.http.post("/calcom/webhook", content=altered, headers=genuine.headers)

    assert (forged.status_code, tampered.status_code) == (401, 401)
    assert await _status(world, uid) is AppointmentStatus.ACTIVE


@pytest.mark.parametrize(
    "body",
    [
        b'{"triggerEvent": "BOOKING_CANCELLED", ',
        b'{"triggerEvent": "BOOKING_CANCELLED", "createdAt": "2025-10-08T20:21:00Z"}',
        b'{"triggerEvent": "BOOKING_CANCELLED", "createdAt": "2025-10-08T20:21:00Z", '
        b'"payload": {"uid": "x"}}',
        b'{"triggerEvent": "BOOKING_CANCELLED", "createdAt": "yesterday", "payload": {}}',
    ],
    ids=["truncated", "no-payload", "no-times", "bad-created-at"],
)
async def test_a_signed_but_malformed_delivery_is_400(world: World, body: bytes) -> None:
    response = await world.deliver(_signed(body))

    assert response.status_code == 400


async def test_without_a_webhook_secret_deliveries_are_refused_with_503(world: World) -> None:
    """Unconfigured, nothing is applied, signed or not; Cal.com will deliver again later."""
    uid = await _booked_uid(world)
    world.calcom.cancel_booking(uid)
    app = create_app(
        make_settings(calcom_webhook_secret=None), runtime=world.runtime, clock=world.clock
    )
    delivery = world.calcom.webhook("BOOKING_CANCELLED", uid, secret=WEBHOOK_SECRET)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://agent"
    ) as client:
        response = await client.post(
            "/calcom/webhook", content=delivery.body, headers=delivery.headers
        )

    assert response.status_code == 503
    assert "CALCOM_WEBHOOK_SECRET" in response.json()["error"]
    assert await _status(world, uid) is AppointmentStatus.ACTIVE


async def test_a_booking_whose_answer_was_lost_is_linked_to_the_call_that_made_it(
    world: World,
) -> None:
    """Cal.com names our call in the booking's metadata: that call made it.

    A retried delivery of that call then hears `booked`, not `existing`.
    """
    await world.tool("find_appointments", {}, call_id="call_9")
    seeded = world.calcom.seed_booking(
        event_type_id=EVENT_TYPE_ID,
        start=datetime(2025, 10, 10, 9, 0, tzinfo=UTC),
        attendee_name="Max Mustermann",
        attendee_email=f"tel-{CALLER.lstrip('+')}@phone.invalid",
        metadata={"retell_call_id": "call_9"},
    )

    response = await world.deliver(
        world.calcom.webhook("BOOKING_CREATED", seeded.uid, secret=WEBHOOK_SECRET)
    )
    answer = await world.book("call_9")

    assert response.json() == {"status": "applied"}
    assert await world.links_of(seeded.uid) == {"call_9": "original"}
    assert answer["status"] == "booked"
    assert answer["appointment"]["booking_uid"] == seeded.uid
    assert world.booking_posts() == 0


async def test_an_oversized_delivery_is_413_and_applies_nothing(world: World) -> None:
    body = b'{"triggerEvent": "BOOKING_CANCELLED", "pad": "' + b"x" * 300_000 + b'"}'

    response = await world.deliver(_signed(body))

    assert response.status_code == 413
