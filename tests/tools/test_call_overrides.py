"""Per-call settings from Retell dynamic variables and metadata."""

from __future__ import annotations

from agent_backend import CALLER, World

from retell_booking_tools.booking.identity import spoken_reference

ARGS = {"customer_name": "Max Mustermann", "date": "2025-10-10", "time": "11:00"}


async def _book_with(world: World, **call_fields: object) -> dict[str, object]:
    call = world.retell.call_object("call_1", from_number=CALLER, **call_fields)
    response = await world.retell.function_call("collect_appointment_data", ARGS, call=call)
    result: dict[str, object] = response.json()
    return result


async def test_dynamic_variables_choose_language_and_time_zone(world: World) -> None:
    """11:00 in London is 12:00 in Berlin; the caller hears German and London time."""
    result = await _book_with(
        world,
        retell_llm_dynamic_variables={
            "booking_language": "de",
            "booking_timezone": "Europe/London",
        },
    )

    assert result["status"] == "booked"
    appointment = result["appointment"]
    assert isinstance(appointment, dict)
    assert result["message"] == (
        "Ihr Termin ist gebucht: am 10.10.2025 um 11:00 Uhr. "
        f"Ihre Buchungsnummer ist {spoken_reference(appointment['booking_reference'])}."
    )
    assert appointment["start"] == "2025-10-10T11:00:00+01:00"
    assert appointment["timezone"] == "Europe/London"


async def test_metadata_chooses_the_event_type(world: World) -> None:
    """An unknown event type named by the call is Cal.com's to refuse: nothing is booked."""
    result = await _book_with(world, metadata={"booking_event_type_id": "999"})

    assert result["status"] == "error"
    assert world.calcom.created_bookings_count() == 0
    posted = [r for r in world.calcom.requests if r.method == "POST"]
    assert posted
    assert posted[0].json is not None
    assert posted[0].json["eventTypeId"] == 999


async def test_malformed_overrides_fall_back_to_configuration(world: World) -> None:
    result = await _book_with(
        world,
        retell_llm_dynamic_variables={"booking_language": "xx", "booking_timezone": "Mars/Base"},
    )

    assert result["status"] == "booked"
    assert str(result["message"]).startswith("Your appointment is booked for Friday")
