"""The one table of Cal.com's booking refusals and what the caller hears for each.

Cal.com reports every refusal of its booking service as a 400 whose ``error.code`` is only
the NestJS exception class (``BadRequestException``; apps/api/v2/src/filters/
http-exception.filter.ts), so the **message** tells the cases apart: its booking errors
service words each one in a fixed sentence (apps/api/v2/src/ee/bookings/2024-08-13/
services/errors.service.ts). A code counts only where it is specific (the internal error
names, should Cal.com ever pass them through, and 409 on a concurrent insert).

Booking and rescheduling read the same table. A refusal that is not in it stays
``CalcomValidationError`` (heard as ``error``) and its message is logged, so the table
can grow.
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs

from retell_booking_tools.domain import ToolStatus

__all__ = ["REFUSALS", "Refusal", "RefusalRule", "classify_refusal", "reschedule_uid_in"]


class Refusal(enum.StrEnum):
    """Why Cal.com would not book a start."""

    SLOT_TAKEN = "slot_taken"
    """Someone holds it, the host (or one of the hosts) is busy, or it is outside hours;
    an ordinary event type also refuses the same attendee's repeat this way."""
    OUT_OF_BOUNDS = "out_of_bounds"
    """Inside the minimum booking notice or past the booking window (period limit)."""
    IN_THE_PAST = "in_the_past"
    BOOKER_LIMIT = "booker_limit"
    """The attendee already holds as many active bookings as the event type allows."""


@attrs.frozen
class RefusalRule:
    """Cal.com says ``sentence`` (a lower-case fragment of its message) or ``code``: the
    refusal is ``refusal``, and the caller hears ``outcome``."""

    refusal: Refusal
    outcome: ToolStatus
    sentence: str | None = None
    code: str | None = None


REFUSALS: Final[tuple[RefusalRule, ...]] = (
    # "User either already has booking at this time or is not available", and for team
    # event types "One of the hosts either already has booking at this time or is not
    # available" (no_available_users_found_error, hosts_unavailable_for_booking).
    RefusalRule(
        Refusal.SLOT_TAKEN,
        ToolStatus.UNAVAILABLE,
        sentence="already has booking at this time or is not available",
    ),
    RefusalRule(Refusal.SLOT_TAKEN, ToolStatus.UNAVAILABLE, code="no_available_users_found_error"),
    RefusalRule(Refusal.SLOT_TAKEN, ToolStatus.UNAVAILABLE, code="hosts_unavailable_for_booking"),
    RefusalRule(Refusal.SLOT_TAKEN, ToolStatus.UNAVAILABLE, code="booking_conflict_error"),
    # booking_time_out_of_bounds_error: 'The event type can't be booked at the "start" time
    # provided. This could be because it's too soon (violating the minimum booking notice)
    # or too far in the future (outside the event's scheduling window)...'
    RefusalRule(
        Refusal.OUT_OF_BOUNDS,
        ToolStatus.UNAVAILABLE,
        sentence='can\'t be booked at the "start" time provided',
    ),
    RefusalRule(
        Refusal.OUT_OF_BOUNDS, ToolStatus.UNAVAILABLE, code="booking_time_out_of_bounds_error"
    ),
    RefusalRule(
        Refusal.IN_THE_PAST,
        ToolStatus.UNAVAILABLE,
        sentence="attempting to book a meeting in the past",
    ),
    # booker_limit_exceeded_error: "Attendee with this email can't book because the maximum
    # number of active bookings has been reached." (the reschedule variant adds "You can
    # reschedule your existing booking (<uid>) to a new timeslot instead.")
    RefusalRule(
        Refusal.BOOKER_LIMIT,
        ToolStatus.LIMIT_REACHED,
        sentence="maximum number of active bookings has been reached",
    ),
    RefusalRule(Refusal.BOOKER_LIMIT, ToolStatus.LIMIT_REACHED, code="booker_limit_exceeded_error"),
)

_RESCHEDULE_UID: Final = re.compile(r"reschedule your existing booking \(([^()\s]+)\)")


def classify_refusal(status_code: int, code: str | None, message: str | None) -> RefusalRule | None:
    """The table's rule for a Cal.com error answer, or None when it is not a known refusal.

    A 409 (two concurrent inserts for one slot, Prisma P2002) is always ``slot_taken``.
    """
    if status_code not in (400, 409):
        return None
    text = (message or "").lower()
    wanted_code = (code or "").lower()
    for rule in REFUSALS:
        if rule.code is not None and (rule.code == wanted_code or rule.code in text):
            return rule
        if rule.sentence is not None and rule.sentence in text:
            return rule
    if status_code == 409:
        return REFUSALS[0]
    return None


def reschedule_uid_in(message: str | None) -> str | None:
    """The booking Cal.com offers to move instead, when its booker-limit refusal names one."""
    match = _RESCHEDULE_UID.search(message or "")
    return match.group(1) if match else None
