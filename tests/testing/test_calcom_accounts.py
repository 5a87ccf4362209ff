"""The Cal.com emulator serves several accounts side by side, each behind its own API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from retell_booking_tools.calcom import (
    CalcomAuthError,
    CalcomClient,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomSlotUnavailable,
    CreateBooking,
    NewAttendee,
)
from retell_booking_tools.testing import CalcomEmulator, EventTypeSpec, FakeClock

PRAXIS_KEY = "cal_test_praxis_key"
SALON_KEY = "cal_test_salon_key"
NOW = datetime(2025, 10, 9, 20, 21, tzinfo=UTC)
FRIDAY_11_BERLIN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
BERATUNG = 2563193
HAARSCHNITT = 4711
BASE_URL = "https://api.cal.com/v2"
BOOKINGS = {"cal-api-version": "2024-08-13"}
SLOTS = {"cal-api-version": "2024-09-04"}


def _event_type(event_type_id: int, title: str) -> EventTypeSpec:
    return EventTypeSpec(id=event_type_id, title=title, length_minutes=60, timezone="Europe/Berlin")


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(name="emu")
def _emu(clock: FakeClock) -> CalcomEmulator:
    emu = CalcomEmulator(api_key=PRAXIS_KEY, clock=clock)
    emu.add_event_type(_event_type(BERATUNG, "Beratung"))
    emu.add_account(
        SALON_KEY, event_types=[_event_type(HAARSCHNITT, "Haarschnitt")], host_name="Salon Kamm"
    )
    return emu


def _client(emu: CalcomEmulator, api_key: str) -> CalcomClient:
    return CalcomClient(api_key=api_key, base_url=BASE_URL, transport=emu.transport)


@pytest.fixture(name="praxis")
async def _praxis(emu: CalcomEmulator) -> AsyncIterator[CalcomClient]:
    async with _client(emu, PRAXIS_KEY) as client:
        yield client


@pytest.fixture(name="salon")
async def _salon(emu: CalcomEmulator) -> AsyncIterator[CalcomClient]:
    async with _client(emu, SALON_KEY) as client:
        yield client


@pytest.fixture(name="raw")
async def _raw(emu: CalcomEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=emu.transport, base_url=BASE_URL) as client:
        yield client


def _booking(
    event_type_id: int, start: datetime = FRIDAY_11_BERLIN, email: str = "kim@example.com"
) -> CreateBooking:
    return CreateBooking(
        start=start,
        event_type_id=event_type_id,
        attendee=NewAttendee(name="Kim Kunde", email=email, time_zone="Europe/Berlin"),
    )


def _bearer(api_key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", **headers}


def _error_without(response: httpx.Response, uid: str) -> dict[str, Any]:
    """The error envelope with the uid taken out of message and path, to compare two uids."""
    body = response.json()
    assert body["status"] == "error"
    error = dict(body["error"])
    error["message"] = error["message"].replace(uid, "<uid>")
    return {"status": response.status_code, "path": body["path"].replace(uid, "<uid>"), **error}


async def _friday_starts(client: CalcomClient, event_type_id: int) -> list[datetime]:
    return await client.get_slots(
        event_type_id=event_type_id,
        start=FRIDAY_11_BERLIN - timedelta(hours=2),
        end=FRIDAY_11_BERLIN + timedelta(hours=6),
    )


class TestDeclaringAccounts:
    """Accounts are declared with their key, host and event types; ids stay Cal.com's."""

    def test_each_account_has_its_own_host_and_event_types(self, emu: CalcomEmulator) -> None:
        """The first account keeps the default host; another is named after its business."""
        first, salon = emu.host(), emu.host(SALON_KEY)
        assert first == emu.host(PRAXIS_KEY)
        assert (first.id, first.username, first.email) == (
            1,
            "emulated-host",
            "host@emulator.invalid",
        )
        assert (salon.id, salon.name, salon.username, salon.email) == (
            2,
            "Salon Kamm",
            "salon-kamm",
            "salon-kamm@emulator.invalid",
        )
        assert {spec.id for spec in emu.event_types} == {BERATUNG, HAARSCHNITT}

    def test_a_host_without_a_name_is_numbered(self, emu: CalcomEmulator) -> None:
        """A third account without a host name gets the third numbered host."""
        third = emu.add_account("cal_test_third_key")
        assert (third.id, third.name, third.username) == (3, "Emulated Host 3", "emulated-host-3")

    def test_event_types_can_be_added_to_an_account_later(self, emu: CalcomEmulator) -> None:
        """``add_event_type(..., api_key=)`` puts the event type in that account only."""
        emu.add_event_type(_event_type(4712, "Färben"), api_key=SALON_KEY)
        assert {spec.id for spec in emu.event_types} == {BERATUNG, HAARSCHNITT, 4712}

    def test_an_event_type_id_of_another_account_is_refused(self, emu: CalcomEmulator) -> None:
        """Cal.com numbers event types once: the same id cannot belong to two accounts."""
        with pytest.raises(ValueError, match="another account"):
            emu.add_event_type(_event_type(BERATUNG, "Beratung"), api_key=SALON_KEY)
        with pytest.raises(ValueError, match="another account"):
            emu.add_account("cal_test_third_key", event_types=[_event_type(HAARSCHNITT, "x")])
        assert emu.add_account("cal_test_third_key").id == 3  # the refusal left nothing behind

    def test_a_key_or_host_name_in_use_is_refused(self, emu: CalcomEmulator) -> None:
        """Two accounts never share a key or a host username."""
        with pytest.raises(ValueError, match="exists already"):
            emu.add_account(PRAXIS_KEY)
        with pytest.raises(ValueError, match="salon-kamm"):
            emu.add_account("cal_test_third_key", host_name="Salon Kamm")

    def test_an_unknown_key_names_no_account_and_not_the_key(self, emu: CalcomEmulator) -> None:
        """Asking for the host or event types of a key nobody has is a ``KeyError``."""
        with pytest.raises(KeyError) as caught:
            emu.host("cal_test_nobody_secret")
        assert "nobody_secret" not in str(caught.value)
        with pytest.raises(KeyError):
            emu.add_event_type(_event_type(9, "x"), api_key="cal_test_nobody_secret")


class TestIsolation:
    """A key sees, books, moves and cancels only its own account's event types and bookings."""

    async def test_each_key_books_its_own_event_type_into_its_own_account(
        self, emu: CalcomEmulator, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Both accounts book the same start; each lists only its own booking."""
        at_praxis = await praxis.create_booking(_booking(BERATUNG))
        at_salon = await salon.create_booking(_booking(HAARSCHNITT))
        assert at_praxis.event_type_id == BERATUNG
        assert at_salon.event_type_id == HAARSCHNITT
        assert at_praxis.id != at_salon.id
        assert at_praxis.uid != at_salon.uid
        assert [b.uid for b in await praxis.list_bookings()] == [at_praxis.uid]
        assert [b.uid for b in await salon.list_bookings(attendee_email="kim@example.com")] == [
            at_salon.uid
        ]
        assert [b.uid for b in emu.bookings] == [at_praxis.uid, at_salon.uid]
        assert emu.created_bookings_count() == 2

    async def test_another_accounts_event_type_is_not_found_as_an_unknown_one_is(
        self, praxis: CalcomClient, raw: httpx.AsyncClient
    ) -> None:
        """Slots and bookings of the salon's event type with the praxis key answer 404."""
        with pytest.raises(CalcomNotFound):
            await praxis.create_booking(_booking(HAARSCHNITT))
        with pytest.raises(CalcomNotFound):
            await _friday_starts(praxis, HAARSCHNITT)
        foreign = await raw.get(
            "/slots",
            params={"eventTypeId": HAARSCHNITT, "start": "2025-10-10", "end": "2025-10-10"},
            headers=_bearer(PRAXIS_KEY, **SLOTS),
        )
        assert foreign.status_code == 404
        message = foreign.json()["error"]["message"]
        assert message == f"Event type with id={HAARSCHNITT} was not found"

    async def test_a_slug_of_another_accounts_host_is_not_found(
        self, emu: CalcomEmulator, raw: httpx.AsyncClient
    ) -> None:
        """The salon host's slug books with the salon key and is unknown to the praxis key."""
        salon_host = emu.host(SALON_KEY).username
        body = {
            "start": "2025-10-10T09:00:00Z",
            "eventTypeSlug": "haarschnitt",
            "username": salon_host,
            "attendee": {"name": "Kim", "email": "kim@example.com", "timeZone": "Europe/Berlin"},
        }
        refused = await raw.post("/bookings", json=body, headers=_bearer(PRAXIS_KEY, **BOOKINGS))
        assert refused.status_code == 404
        booked = await raw.post("/bookings", json=body, headers=_bearer(SALON_KEY, **BOOKINGS))
        assert booked.status_code == 201
        assert booked.json()["data"]["hosts"][0]["username"] == salon_host

    @pytest.mark.parametrize("action", ["get", "cancel", "reschedule"])
    async def test_another_accounts_booking_answers_exactly_as_an_unknown_uid(
        self, action: str, emu: CalcomEmulator, salon: CalcomClient, raw: httpx.AsyncClient
    ) -> None:
        """The praxis key cannot fetch, cancel or move the salon's booking, nor learn it exists."""
        theirs = (await salon.create_booking(_booking(HAARSCHNITT))).uid
        unknown = "bT1LnUnknownUid0000000"

        async def attempt(uid: str) -> httpx.Response:
            headers = _bearer(PRAXIS_KEY, **BOOKINGS)
            if action == "get":
                return await raw.get(f"/bookings/{uid}", headers=headers)
            body = {"start": "2025-10-10T11:00:00Z"} if action == "reschedule" else {}
            return await raw.post(f"/bookings/{uid}/{action}", json=body, headers=headers)

        foreign, missing = await attempt(theirs), await attempt(unknown)
        assert foreign.status_code == 404
        assert _error_without(foreign, theirs) == _error_without(missing, unknown)
        assert emu.booking(theirs).status == "accepted"
        assert emu.created_bookings_count() == 1

    async def test_the_package_client_hears_not_found_for_another_accounts_booking(
        self, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Through ``CalcomClient`` the salon's uid is ``CalcomNotFound`` for the praxis."""
        theirs = (await salon.create_booking(_booking(HAARSCHNITT))).uid
        with pytest.raises(CalcomNotFound):
            await praxis.get_booking(theirs)
        with pytest.raises(CalcomNotFound):
            await praxis.cancel_booking(theirs, "not mine")
        with pytest.raises(CalcomNotFound):
            await praxis.reschedule_booking(theirs, FRIDAY_11_BERLIN + timedelta(hours=2))
        assert (await salon.get_booking(theirs)).status == "accepted"

    async def test_each_account_moves_and_cancels_its_own_bookings(
        self, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Rescheduling and cancelling with the right key work and touch nothing else."""
        mine = await praxis.create_booking(_booking(BERATUNG))
        theirs = await salon.create_booking(_booking(HAARSCHNITT))
        moved = await praxis.reschedule_booking(mine.uid, FRIDAY_11_BERLIN + timedelta(hours=2))
        assert moved.rescheduled_from_uid == mine.uid
        cancelled = await salon.cancel_booking(theirs.uid, "sick")
        assert cancelled.status == "cancelled"
        assert [b.uid for b in await praxis.list_bookings(status=["upcoming"])] == [moved.uid]
        assert await salon.list_bookings(status=["upcoming"]) == []

    async def test_a_list_filtered_by_another_accounts_event_type_is_empty(
        self, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Naming the salon's event type in a praxis list finds nothing."""
        await salon.create_booking(_booking(HAARSCHNITT))
        assert await praxis.list_bookings(event_type_id=HAARSCHNITT) == []

    async def test_slots_of_one_account_do_not_see_bookings_of_another(
        self, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """A start the salon booked stays free, and bookable, at the praxis."""
        await salon.create_booking(_booking(HAARSCHNITT))
        assert FRIDAY_11_BERLIN not in await _friday_starts(salon, HAARSCHNITT)
        assert FRIDAY_11_BERLIN in await _friday_starts(praxis, BERATUNG)
        booked = await praxis.create_booking(_booking(BERATUNG))
        assert booked.start == FRIDAY_11_BERLIN
        with pytest.raises(CalcomSlotUnavailable):
            await salon.create_booking(_booking(HAARSCHNITT, email="other@example.com"))

    async def test_public_slots_without_a_key_find_every_accounts_event_types(
        self, raw: httpx.AsyncClient
    ) -> None:
        """Slots are public: without a key both accounts' event types answer."""
        for event_type_id in (BERATUNG, HAARSCHNITT):
            answer = await raw.get(
                "/slots",
                params={"eventTypeId": event_type_id, "start": "2025-10-10", "end": "2025-10-10"},
                headers=SLOTS,
            )
            assert answer.status_code == 200
            assert answer.json()["data"]["2025-10-10"]


class TestUnknownKeys:
    """A key that opens no account answers as Cal.com answers a bad key."""

    @pytest.mark.parametrize(
        ("method", "path", "headers"),
        [
            ("GET", "/bookings", BOOKINGS),
            ("POST", "/bookings", BOOKINGS),
            ("GET", "/bookings/some-uid", BOOKINGS),
            ("POST", "/bookings/some-uid/cancel", BOOKINGS),
            ("GET", "/slots?eventTypeId=2563193&start=2025-10-10&end=2025-10-10", SLOTS),
        ],
    )
    async def test_every_endpoint_refuses_it_with_401(
        self, method: str, path: str, headers: dict[str, str], raw: httpx.AsyncClient
    ) -> None:
        """401 with Cal.com's "Invalid API Key" message, wherever it is presented."""
        answer = await raw.request(
            method, path, json={} if method == "POST" else None, headers=_bearer("cal_x", **headers)
        )
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == (
            "UnauthorizedException",
            "ApiAuthStrategy - api key - Invalid API Key",
        )

    async def test_the_package_client_hears_an_auth_error(self, emu: CalcomEmulator) -> None:
        """``CalcomClient`` with a key of no account raises ``CalcomAuthError``, key unsaid."""
        async with _client(emu, "cal_test_nobody_secret") as nobody:
            with pytest.raises(CalcomAuthError) as caught:
                await nobody.list_bookings()
        assert "nobody_secret" not in str(caught.value)
        assert emu.bookings == []


class TestRecordsAndWebhooks:
    """What the emulator records and sends says which account it belongs to."""

    async def test_requests_name_the_account_by_its_host_and_never_keep_the_key(
        self, emu: CalcomEmulator, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Each recorded request names the host of the key's account; a bad key names none."""
        await praxis.list_bookings()
        await salon.list_bookings()
        async with _client(emu, "cal_test_nobody") as nobody:
            with pytest.raises(CalcomAuthError):
                await nobody.list_bookings()
        assert [request.username for request in emu.requests] == [
            "emulated-host",
            "salon-kamm",
            None,
        ]
        assert all("authorization" not in request.headers for request in emu.requests)

    async def test_a_webhook_names_the_host_of_the_bookings_account_as_organizer(
        self, emu: CalcomEmulator, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """A salon booking's webhook carries the salon's host; a praxis one the praxis host."""
        theirs = await salon.create_booking(_booking(HAARSCHNITT))
        mine = await praxis.create_booking(_booking(BERATUNG))
        salon_payload = emu.webhook("BOOKING_CREATED", theirs.uid, secret="s").json["payload"]
        praxis_payload = emu.webhook("BOOKING_CREATED", mine.uid, secret="s").json["payload"]
        salon_host, praxis_host = emu.host(SALON_KEY), emu.host()
        assert salon_payload["organizer"] == {
            "id": salon_host.id,
            "name": "Salon Kamm",
            "email": salon_host.email,
            "username": "salon-kamm",
            "timeZone": "Europe/Berlin",
        }
        assert salon_payload["eventTypeId"] == HAARSCHNITT
        assert salon_payload["title"] == "Haarschnitt between Salon Kamm and Kim Kunde"
        assert praxis_payload["organizer"]["id"] == praxis_host.id
        assert praxis_payload["organizer"]["username"] == "emulated-host"

    async def test_a_reschedule_webhook_of_an_account_names_its_old_booking(
        self, emu: CalcomEmulator, salon: CalcomClient
    ) -> None:
        """The replaced booking is found in the same account as the new one."""
        old = await salon.create_booking(_booking(HAARSCHNITT))
        new = await salon.reschedule_booking(old.uid, FRIDAY_11_BERLIN + timedelta(hours=1))
        payload = emu.webhook("BOOKING_RESCHEDULED", new.uid, secret="s").json["payload"]
        assert payload["rescheduleUid"] == old.uid
        assert payload["organizer"]["username"] == "salon-kamm"


class TestCalComSide:
    """Changes made on Cal.com's side find the booking's account by itself."""

    async def test_a_seeded_booking_lands_in_the_event_types_account(
        self, emu: CalcomEmulator, praxis: CalcomClient, salon: CalcomClient
    ) -> None:
        """Seeding a salon booking shows it to the salon key and to nobody else."""
        seeded = emu.seed_booking(
            event_type_id=HAARSCHNITT,
            start=FRIDAY_11_BERLIN,
            attendee_name="Kim Kunde",
            attendee_email="kim@example.com",
        )
        assert [b.uid for b in await salon.list_bookings()] == [seeded.uid]
        assert await praxis.list_bookings() == []
        with pytest.raises(KeyError):
            emu.seed_booking(
                event_type_id=999,
                start=FRIDAY_11_BERLIN,
                attendee_name="Kim",
                attendee_email="kim@example.com",
            )

    async def test_host_actions_reach_any_accounts_booking(
        self, emu: CalcomEmulator, salon: CalcomClient
    ) -> None:
        """Cancelling on Cal.com's side works for the salon's booking and the salon sees it."""
        theirs = await salon.create_booking(_booking(HAARSCHNITT))
        emu.cancel_booking(theirs.uid, "closed today")
        assert (await salon.get_booking(theirs.uid)).status == "cancelled"
        assert emu.booking(theirs.uid).cancellation_reason == "closed today"


class TestRateLimits:
    """Cal.com counts its rate limit per API key, so one account cannot starve another."""

    async def test_one_account_over_its_limit_leaves_the_other_answering(
        self, clock: FakeClock
    ) -> None:
        """The praxis key is blocked after its two requests; the salon key still answers."""
        emu = CalcomEmulator(api_key=PRAXIS_KEY, clock=clock, rate_limit_per_minute=2)
        emu.add_event_type(_event_type(BERATUNG, "Beratung"))
        emu.add_account(SALON_KEY, event_types=[_event_type(HAARSCHNITT, "Haarschnitt")])
        async with (
            CalcomClient(
                api_key=PRAXIS_KEY, base_url=BASE_URL, transport=emu.transport, max_attempts=1
            ) as praxis,
            _client(emu, SALON_KEY) as salon,
        ):
            await praxis.list_bookings()
            await praxis.list_bookings()
            with pytest.raises(CalcomRateLimited):
                await praxis.list_bookings()
            assert await salon.list_bookings() == []
        assert emu.throttled_count() == 1
