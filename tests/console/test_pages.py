"""The console's pages on every store: the incident found in a browser, safely shown."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
from agent_backend import OTHER_CALLER, World
from console_client import sign_in

from retell_booking_tools.domain import (
    Appointment,
    Call,
    CallLink,
    NewAppointment,
    Relationship,
    ResultFacts,
    ToolCallKey,
)
from retell_booking_tools.ops.stats import daily_stats

BERLIN = ZoneInfo("Europe/Berlin")


def text_of(response: httpx.Response) -> str:
    """The page's visible text, tags dropped and entities decoded, whitespace squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


async def scanned_doctor(browser: httpx.AsyncClient) -> httpx.Response:
    """The doctor page once its background scan is done (none may outlive the test's store)."""
    for _ in range(500):
        page = await browser.get("/console/doctor")
        if "A scan is running" not in page.text:
            return page
        await asyncio.sleep(0.01)
    raise AssertionError("the doctor's scan did not finish")


async def replay_incident(world: World) -> str:
    """Two calls from one caller for one slot: ``booked``, then ``existing``; the uid."""
    first = await world.book("call_682")
    world.clock.advance(timedelta(hours=20, minutes=1))
    second = await world.book("call_766")
    assert (first["status"], second["status"]) == ("booked", "existing")
    return str(first["appointment"]["booking_uid"])


async def stored_booking(world: World, call_id: str, *, name: str, email: str) -> Appointment:
    """A customer, their appointment and the call's link, as a Cal.com adoption stores them
    (the tools refuse markup in names; Cal.com's attendees may still carry it)."""
    repository = world.repository
    customer = await repository.upsert_customer(
        name=name, phone=OTHER_CALLER, email=email, call_id=call_id
    )
    start = datetime(2025, 10, 13, 9, tzinfo=UTC)
    appointment, _ = await repository.add_appointment(
        NewAppointment(
            customer_id=customer.id,
            booking_uid=f"uid-{call_id}",
            event_type_id=1,
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
            attendee_name=name,
            contact_email=email,
            contact_phone=OTHER_CALLER,
        )
    )
    await repository.link(
        CallLink(
            call_id=call_id,
            appointment_id=appointment.id,
            relationship=Relationship.ORIGINAL,
            linked_at=world.clock(),
            metadata={"notes": f"<b>bold</b> call {email} or {OTHER_CALLER}"},
        )
    )
    return appointment


class TestIncident:
    """Support finds the incident's two calls and their one appointment."""

    async def test_searching_a_call_id_lists_that_call_with_its_duplicate_attempt(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """The row shows the tool, its final status and the duplicate attempt warning."""
        await replay_incident(world)
        await sign_in(browser)
        page = await browser.get("/console/calls", params={"q": "call_766"})
        assert page.status_code == 200
        shown = text_of(page)
        assert "call_766" in shown
        assert "call_682" not in shown
        assert "collect_appointment_data existing" in shown
        assert "duplicate attempt" in shown
        assert "***5678" in shown
        assert "+4915112345678" not in page.text

    async def test_the_last_digits_of_the_number_find_both_calls_newest_first(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Searching 5678 lists call_766 above call_682; another caller's digits list neither."""
        await replay_incident(world)
        await sign_in(browser)
        shown = text_of(await browser.get("/console/calls", params={"q": "5678"}))
        assert shown.index("call_766") < shown.index("call_682")
        other = text_of(await browser.get("/console/calls", params={"q": OTHER_CALLER[-4:]}))
        assert "call_766" not in other
        assert "No calls match" in other
        longer = text_of(await browser.get("/console/calls", params={"q": "+49 151 12345678"}))
        assert "call_682" in longer
        too_short = text_of(await browser.get("/console/calls", params={"q": "678"}))
        assert "Type at least the last 4 digits" in too_short
        assert "call_682" not in too_short

    async def test_the_timeline_shows_every_tool_call_with_what_the_agent_was_told(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """The exact sentence, the status, and the link to the appointment as duplicate_attempt."""
        uid = await replay_incident(world)
        told = (await world.repository.tool_call_results("call_766", "collect_appointment_data"))[
            0
        ]["message"]
        await sign_in(browser)
        page = await browser.get("/console/calls/call_766")
        assert page.status_code == 200
        shown = text_of(page)
        assert told in shown
        assert "collect_appointment_data existing" in shown
        assert "Linked as duplicate_attempt" in shown
        assert "original_call_id call_682" in shown
        assert f'href="/console/appointments/{uid}"' in page.text

    async def test_the_appointment_shows_both_calls_in_order_with_their_relationships(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Status, times in the business zone, the uid; call_682 original, then call_766."""
        uid = await replay_incident(world)
        await sign_in(browser)
        page = await browser.get(f"/console/appointments/{uid}")
        assert page.status_code == 200
        shown = text_of(page)
        assert "Status active" in shown
        assert "Start 2025-10-10 11:00:00 +02:00" in shown
        assert "End 2025-10-10 12:00:00 +02:00" in shown
        assert f"Cal.com uid {uid}" in shown
        assert "Linked calls (2)" in shown
        assert shown.index("call_682 original") < shown.index("call_766 duplicate_attempt")
        appointment = await world.repository.get_appointment_by_uid(uid)
        assert appointment is not None
        by_id = await browser.get(f"/console/appointments/{appointment.id}")
        assert "Linked calls (2)" in text_of(by_id)

    async def test_an_unknown_call_or_appointment_is_not_found(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """404 with a page saying so."""
        await sign_in(browser)
        assert (await browser.get("/console/calls/call_nobody")).status_code == 404
        assert (await browser.get("/console/appointments/uid-nobody")).status_code == 404
        assert (await browser.get("/console/appointments/99999999999999999999")).status_code == 404


class TestPersonalData:
    """Names escaped, numbers and emails masked."""

    async def test_a_customer_named_like_a_script_is_shown_as_text(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """The name appears escaped on the call and the appointment page, never as markup."""
        appointment = await stored_booking(
            world, "call_xss", name="<script>alert(1)</script>", email="max@example.com"
        )
        await sign_in(browser)
        for path in ("/console/calls/call_xss", f"/console/appointments/{appointment.booking_uid}"):
            page = await browser.get(path)
            assert "<script>" not in page.text
            assert "<b>" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
            assert "<script>alert(1)</script>" in text_of(page)
        attendee = await browser.get(f"/console/appointments/{appointment.booking_uid}")
        assert "Attendee <script>alert(1)</script>" in text_of(attendee)

    async def test_emails_show_only_their_domain(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """The customer's email is ***@example.com, in notes too; numbers their last digits."""
        await stored_booking(world, "call_mail", name="Max", email="max.mustermann@example.com")
        await sign_in(browser)
        page = await browser.get("/console/calls/call_mail")
        shown = text_of(page)
        assert "Max (***@example.com)" in shown
        assert "call ***@example.com or ***5432" in shown
        assert "max.mustermann" not in page.text
        assert OTHER_CALLER not in page.text
        appointment = await browser.get("/console/appointments/uid-call_mail")
        assert "Contact ***@example.com, ***5432" in text_of(appointment)
        assert "max.mustermann" not in appointment.text
        assert OTHER_CALLER not in appointment.text


class TestCallList:
    """Paging, the date filter and the warning signs."""

    async def test_the_list_is_paginated_newest_first(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Fifty on the first page, the rest behind the Older link, none twice."""
        for n in range(57):
            await world.repository.upsert_call(Call(call_id=f"call_{n:03d}", agent_id="agent_a"))
        await sign_in(browser)
        first = await browser.get("/console/calls")
        ids = re.findall(r">(call_\d{3})</a>", first.text)
        assert len(ids) == 50
        older = re.search(r'href="(/console/calls\?[^"]*after=[^"]+)"', first.text)
        assert older is not None
        second = await browser.get(unescape(older.group(1)))
        more = re.findall(r">(call_\d{3})</a>", second.text)
        assert len(more) == 7
        assert set(ids).isdisjoint(more)
        assert sorted(ids + more) == [f"call_{n:03d}" for n in range(57)]

    async def test_the_date_filter_keeps_the_calls_of_that_day(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Calls are listed on the day the store recorded them, and not on another day."""
        await replay_incident(world)
        await sign_in(browser)
        today = datetime.now(UTC).astimezone(BERLIN).date()
        shown = text_of(await browser.get("/console/calls", params={"date": today.isoformat()}))
        assert "call_682" in shown
        other = text_of(await browser.get("/console/calls", params={"date": "2001-02-03"}))
        assert "call_682" not in other
        wrong = text_of(await browser.get("/console/calls", params={"date": "soon"}))
        assert "The date must look like" in wrong

    async def test_errors_and_unlinked_calls_are_flagged(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """An abandoned tool call shows `error`; a result naming an unlinked booking `unlinked`."""
        uid = await replay_incident(world)
        now = world.clock()
        repository = world.repository
        broken = ToolCallKey(call_id="call_broken", tool="cancel_appointment", args_digest="a")
        await repository.claim_tool_call(
            broken, now=now, lease=timedelta(seconds=60), call=Call(call_id="call_broken")
        )
        await repository.abandon_tool_call(broken)
        lost = ToolCallKey(call_id="call_lost", tool="confirm_existing", args_digest="b")
        await repository.claim_tool_call(
            lost, now=now, lease=timedelta(seconds=60), call=Call(call_id="call_lost")
        )
        result = {
            "status": "confirmed",
            "message": "Confirmed.",
            "appointment": {"booking_uid": uid},
        }
        await repository.finish_tool_call(lost, result, now=now, facts=ResultFacts(booking_uid=uid))
        await sign_in(browser)
        broken_row = text_of(await browser.get("/console/calls", params={"q": "call_broken"}))
        assert "cancel_appointment error" in broken_row
        assert "Warnings" in broken_row
        assert broken_row.endswith("error") or " error " in broken_row
        lost_row = text_of(await browser.get("/console/calls", params={"q": "call_lost"}))
        assert "unlinked" in lost_row
        fine_row = text_of(await browser.get("/console/calls", params={"q": "call_682"}))
        assert "unlinked" not in fine_row
        assert "duplicate attempt" not in fine_row


class TestReports:
    """The stats page and the doctor page."""

    async def test_the_stats_page_shows_the_numbers_of_stats_and_a_chart(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Today's row equals `stats`; the SVG draws five lines; the duplicate rate is 50%."""
        await replay_incident(world)
        expected = await daily_stats(world.repository, days=30, zone=BERLIN, now=world.clock())
        await sign_in(browser)
        page = await browser.get("/console/stats")
        assert page.status_code == 200
        shown = text_of(page)
        for day in expected:
            if day.calls:
                numbers = (day.calls, day.bookings, day.duplicates, day.conflicts, day.errors)
                row = f"{day.date.isoformat()} " + " ".join(map(str, numbers))
                assert row in shown
        assert "Duplicate rate: 50.0%" in shown
        assert page.text.count("<polyline") == 5
        assert "<svg" in page.text

    async def test_the_stats_are_counted_again_after_a_minute(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """Within a minute the page shows the same count; after it, the new booking too."""
        await world.book("call_1")
        await sign_in(browser)
        assert "Duplicate rate: 0.0% (0 duplicates of 1 booking attempts)" in text_of(
            await browser.get("/console/stats")
        )
        world.clock.advance(timedelta(seconds=30))
        await world.book("call_2")
        still = text_of(await browser.get("/console/stats"))
        assert "(0 duplicates of 1 booking attempts)" in still
        world.clock.advance(timedelta(seconds=31))
        counted = text_of(await browser.get("/console/stats"))
        assert "Duplicate rate: 50.0% (1 duplicates of 2 booking attempts)" in counted

    async def test_the_doctor_page_lists_what_doctor_finds_each_linked(
        self, world: World, browser: httpx.AsyncClient
    ) -> None:
        """A result naming a booking the call is not linked to is an unlinked_call, linked to
        both; the page repairs nothing."""
        uid = await replay_incident(world)
        lost = ToolCallKey(call_id="call_lost", tool="confirm_existing", args_digest="b")
        now = world.clock()
        await world.repository.claim_tool_call(lost, now=now, lease=timedelta(seconds=60))
        result = {
            "status": "confirmed",
            "message": "Confirmed.",
            "appointment": {"booking_uid": uid},
        }
        await world.repository.finish_tool_call(
            lost, result, now=now, facts=ResultFacts(booking_uid=uid)
        )
        await sign_in(browser)
        first = await browser.get("/console/doctor")
        assert first.status_code == 200
        assert "A scan is running" in first.text
        assert 'http-equiv="refresh"' in first.text
        page = await scanned_doctor(browser)
        shown = text_of(page)
        assert "unlinked_call" in shown
        assert 'href="/console/calls/call_lost"' in page.text
        assert f'href="/console/appointments/{uid}"' in page.text
        assert await world.repository.links_for_call("call_lost") == []


async def test_no_page_changes_anything(world: World, browser: httpx.AsyncClient) -> None:
    """After visiting every page, the store holds exactly what it held before."""
    uid = await replay_incident(world)

    async def snapshot() -> tuple[object, ...]:
        repository = world.repository
        return (
            await repository.list_appointments(),
            await repository.list_links(),
            await repository.tool_call_records(),
            await repository.get_call("call_682"),
            await repository.get_call("call_766"),
        )

    before = await snapshot()
    await sign_in(browser)
    for path in (
        "/console/calls",
        "/console/calls?q=5678",
        "/console/calls/call_682",
        "/console/calls/call_766",
        f"/console/appointments/{uid}",
        "/console/stats",
        "/console/doctor",
    ):
        assert (await browser.get(path)).status_code == 200
    await scanned_doctor(browser)
    assert await snapshot() == before
