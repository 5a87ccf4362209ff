"""Value objects of the booking domain: frozen, comparable, free of I/O.

Instants are aware datetimes in UTC; the business time zone only matters when speaking
to the caller or reading what the caller said.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs


class Relationship(enum.StrEnum):
    """How a call touched an appointment. One call may touch many, one appointment many calls."""

    ORIGINAL = "original"
    DUPLICATE_ATTEMPT = "duplicate_attempt"
    CONFIRMATION = "confirmation"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"


class AppointmentStatus(enum.StrEnum):
    """Lifecycle of a stored appointment; only ``active`` and ``pending`` ones (held) can be
    ``existing``. ``pending`` waits for the host to confirm it (event types that require
    confirmation); ``rejected`` is a request the host turned down: it frees the slot."""

    ACTIVE = "active"
    PENDING = "pending"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RESCHEDULED = "rescheduled"

    @property
    def holds_slot(self) -> bool:
        return self in (AppointmentStatus.ACTIVE, AppointmentStatus.PENDING)

    @property
    def rank(self) -> int:
        """How far along the lifecycle: a change may move forward, never back.

        Cal.com never revives a cancelled or rejected booking, and a reschedule cancels the
        old booking too, so ``rescheduled`` (which also names the successor) outranks
        ``cancelled`` and ``rejected``.
        """
        return _STATUS_RANK[self]


_STATUS_RANK = {
    AppointmentStatus.ACTIVE: 0,
    AppointmentStatus.PENDING: 0,
    AppointmentStatus.CANCELLED: 1,
    AppointmentStatus.REJECTED: 1,
    AppointmentStatus.RESCHEDULED: 2,
}


class ToolStatus(enum.StrEnum):
    """The closed set of outcomes a tool reports. ``booked`` means created by this call, only."""

    BOOKED = "booked"
    EXISTING = "existing"
    CONFIRMED = "confirmed"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    ERROR = "error"
    AVAILABLE = "available"
    FOUND = "found"
    NONE = "none"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    LIMIT_REACHED = "limit_reached"
    """The caller already holds as many appointments as this service allows (Cal.com's
    per-attendee booking limit); nothing was booked. One of them may be moved instead."""
    PENDING = "pending"
    """The tool's time budget ran out while Cal.com was still working; nothing is confirmed.
    The started work finishes in the background and a repeat of the call learns its outcome."""

    @property
    def is_final(self) -> bool:
        """Whether a retried delivery may replay this answer instead of acting again."""
        return self not in (ToolStatus.ERROR, ToolStatus.PENDING)


def _frozen_dict(value: dict[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class Customer:
    """A caller, identified by E.164 phone, else by lower-case email."""

    id: int
    name: str
    phone: str | None = None
    email: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Appointment:
    """Our record of one Cal.com booking; unique by ``booking_uid``."""

    id: int
    customer_id: int
    booking_uid: str
    event_type_id: int
    start: datetime
    end: datetime
    timezone: str
    status: AppointmentStatus
    created_at: datetime
    rescheduled_from_uid: str | None = None
    calcom_event_at: datetime | None = None
    """When Cal.com sent the last webhook applied to this appointment, if any."""

    def is_upcoming(self, now: datetime) -> bool:
        """Active and not yet over: the only kind a caller can be told they already hold."""
        return self.status.holds_slot and self.end > now


@attrs.frozen
class NewAppointment:
    """What the store needs to record a booking; the store assigns the id."""

    customer_id: int
    booking_uid: str
    event_type_id: int
    start: datetime
    end: datetime
    timezone: str
    status: AppointmentStatus = AppointmentStatus.ACTIVE
    rescheduled_from_uid: str | None = None


@attrs.frozen
class Call:
    """A Retell call as far as we know it; created on the first tool call or call event."""

    call_id: str
    customer_id: int | None = None
    agent_id: str | None = None
    from_number: str | None = attrs.field(default=None, repr=False)
    to_number: str | None = attrs.field(default=None, repr=False)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    disconnection_reason: str | None = None


@attrs.frozen
class CallLink:
    """One call touching one appointment in one way; unique per (call, appointment, relation)."""

    call_id: str
    appointment_id: int
    relationship: Relationship
    linked_at: datetime
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, hash=False)


@attrs.frozen
class ToolCallKey:
    """Identity of one function call delivery: retries of it share the key."""

    call_id: str
    tool: str
    args_digest: str


@attrs.frozen
class ToolCallClaimed:
    """This delivery owns the tool call and must finish or abandon it.

    ``resumed`` is true when an earlier delivery claimed it and never finished (a crash or
    an ``error``), so a booking may already exist upstream and must be looked up first.
    """

    resumed: bool = False


@attrs.frozen
class ToolCallFinished:
    """An earlier delivery finished this tool call; replay its result."""

    result: dict[str, Any] = attrs.field(converter=_frozen_dict, hash=False)


@attrs.frozen
class ToolCallRecord:
    """A stored function call, for reports: its key, when it ran, and its final result.

    ``result`` is None while unfinished; ``abandoned`` marks one whose last delivery gave up
    (an ``error`` answer) and that no later delivery finished.
    """

    key: ToolCallKey
    claimed_at: datetime
    finished_at: datetime | None = None
    abandoned: bool = False
    result: dict[str, Any] | None = attrs.field(default=None, hash=False, repr=False)

    @property
    def at(self) -> datetime:
        """When it ended (or was last claimed, if it never finished)."""
        return self.finished_at or self.claimed_at

    @property
    def status(self) -> str | None:
        """The status the caller heard: the stored one, ``error`` if abandoned, else None."""
        if self.result is not None:
            status = self.result.get("status")
            return str(status) if status is not None else None
        return ToolStatus.ERROR.value if self.abandoned else None

    @property
    def booking_uid(self) -> str | None:
        """The Cal.com booking the result names, if any."""
        appointment = (self.result or {}).get("appointment")
        if isinstance(appointment, dict) and appointment.get("booking_uid"):
            return str(appointment["booking_uid"])
        return None


@attrs.frozen
class ToolCallBusy:
    """Another delivery is working on this tool call right now."""


ToolCallClaim = ToolCallClaimed | ToolCallFinished | ToolCallBusy
