"""The refusal table: every Cal.com refusal sentence maps to the outcome the caller hears."""

from __future__ import annotations

import pytest

from retell_booking_tools.calcom.client import error_for_status
from retell_booking_tools.calcom.errors import (
    CalcomBookerLimitReached,
    CalcomSlotUnavailable,
    CalcomValidationError,
)
from retell_booking_tools.calcom.refusals import REFUSALS, Refusal, RefusalRule, classify_refusal
from retell_booking_tools.domain import ToolStatus

OUT_OF_BOUNDS = (
    'The event type can\'t be booked at the "start" time provided. This could be because '
    "it's too soon (violating the minimum booking notice) or too far in the future (outside "
    "the event's scheduling window). Try fetching available slots first using the GET "
    '/v2/slots endpoint and then make a booking with "start" time equal to one of the '
    "available slots: https://cal.com/docs/api-reference/v2/slots"
)
LIMIT = (
    "Attendee with this email can't book because the maximum number of active bookings has "
    "been reached."
)

# (status, code, message) as Cal.com answers, the refusal, and what the caller hears.
CASES = {
    "user-busy": (
        400,
        "BadRequestException",
        "User either already has booking at this time or is not available",
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "one-of-the-hosts-busy": (
        400,
        "BadRequestException",
        "One of the hosts either already has booking at this time or is not available",
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "no-available-users-code": (
        400,
        "no_available_users_found_error",
        None,
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "hosts-unavailable-code": (
        400,
        "hosts_unavailable_for_booking",
        None,
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "concurrent-insert-409": (
        409,
        "ConflictException",
        "Unique constraint failed",
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "booking-conflict-code": (
        409,
        "booking_conflict_error",
        None,
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
    ),
    "too-soon-or-too-far": (
        400,
        "BadRequestException",
        OUT_OF_BOUNDS,
        Refusal.OUT_OF_BOUNDS,
        ToolStatus.UNAVAILABLE,
    ),
    "out-of-bounds-code": (
        400,
        "booking_time_out_of_bounds_error",
        None,
        Refusal.OUT_OF_BOUNDS,
        ToolStatus.UNAVAILABLE,
    ),
    "in-the-past": (
        400,
        "BadRequestException",
        "Attempting to book a meeting in the past.",
        Refusal.IN_THE_PAST,
        ToolStatus.UNAVAILABLE,
    ),
    "booker-limit": (
        400,
        "BadRequestException",
        LIMIT,
        Refusal.BOOKER_LIMIT,
        ToolStatus.LIMIT_REACHED,
    ),
    "booker-limit-code": (
        400,
        "booker_limit_exceeded_error",
        None,
        Refusal.BOOKER_LIMIT,
        ToolStatus.LIMIT_REACHED,
    ),
}


def _rule(status: int, code: str | None, message: str | None) -> RefusalRule:
    rule = classify_refusal(status, code, message)
    assert rule is not None
    return rule


@pytest.mark.parametrize(
    ("status", "code", "message", "refusal", "outcome"), CASES.values(), ids=CASES
)
def test_each_cal_com_refusal_maps_to_its_outcome(
    status: int, code: str | None, message: str | None, refusal: Refusal, outcome: ToolStatus
) -> None:
    """Matched on Cal.com's sentence, or on a code only where the code is specific."""
    rule = _rule(status, code, message)

    assert (rule.refusal, rule.outcome) == (refusal, outcome)


def test_every_rule_of_the_table_has_a_case_above() -> None:
    """A rule nobody tests cannot be trusted; every entry is reached by one of the cases."""
    reached = {id(_rule(status, code, message)) for status, code, message, _, _ in CASES.values()}

    assert reached == {id(rule) for rule in REFUSALS}


def test_a_refusal_is_raised_as_the_exception_a_caller_handles() -> None:
    """Slot refusals carry their reason; the limit carries the booking Cal.com offers to move."""
    too_soon = error_for_status(
        400, _envelope(OUT_OF_BOUNDS), {}, method="POST", endpoint="/bookings", write=True
    )
    limit = error_for_status(
        400,
        _envelope(
            LIMIT + " You can reschedule your existing booking (abc123XYZ) to a new timeslot "
            "instead."
        ),
        {},
        method="POST",
        endpoint="/bookings",
        write=True,
    )

    assert isinstance(too_soon, CalcomSlotUnavailable)
    assert too_soon.refusal is Refusal.OUT_OF_BOUNDS
    assert isinstance(limit, CalcomBookerLimitReached)
    assert limit.reschedule_uid == "abc123XYZ"


def test_an_unknown_400_stays_a_validation_error_with_its_message() -> None:
    """Not in the table: ``error`` for the caller, and the message is kept for the log."""
    unknown = error_for_status(
        400,
        _envelope("Event type is not bookable by this attendee"),
        {},
        method="POST",
        endpoint="/bookings",
        write=True,
    )

    assert isinstance(unknown, CalcomValidationError)
    assert "Event type is not bookable by this attendee" in unknown.message


def test_a_bare_not_available_in_another_sentence_is_not_taken_for_a_busy_slot() -> None:
    """Only Cal.com's whole sentence counts, not any text that says "not available"."""
    assert classify_refusal(400, "BadRequestException", "Event type not available") is None


def _envelope(message: str) -> dict[str, object]:
    return {
        "status": "error",
        "error": {"code": "BadRequestException", "message": message, "details": None},
    }
