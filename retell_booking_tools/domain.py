"""Value objects of the booking domain: frozen, comparable, free of I/O.

Instants are aware datetimes in UTC; the business time zone only matters when speaking
to the caller or reading what the caller said.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

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


READ_ONLY_TOOLS = frozenset({"check_availability", "find_appointments"})
"""Tools that only read: no booking attempt, no link (``existing`` only tells the caller what
they hold). Without a transcript a finished one is never replayed (see :class:`Invocation`)."""


def _frozen_dict(value: dict[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


DEFAULT_BUSINESS_ID: Final = "default"
"""The business of a deployment without a businesses file, and of every row stored before
businesses existed."""


@attrs.frozen
class Customer:
    """A caller, known by one trusted identity key (``phone:+49...``, ``email:...``,
    ``id:...`` from the call's backend, or ``call:<call id>`` for a caller without one).

    ``identity_key`` is None only for customers stored before identities were checked, whose
    identity came from a spoken email: they are kept, reported by ``doctor``, and matched by
    nobody.
    """

    id: int
    name: str
    phone: str | None = None
    email: str | None = attrs.field(default=None, repr=False)
    identity_key: str | None = attrs.field(default=None, repr=False)
    business_id: str = attrs.field(default=DEFAULT_BUSINESS_ID, repr=False)
    """The business whose caller this is: one number calling two businesses is two customers."""

    @property
    def verified(self) -> bool:
        """Whether a trusted identity (not a spoken email) stands behind this customer."""
        return self.identity_key is not None and not self.identity_key.startswith("call:")


REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: every character sounds and reads unlike the others."""

REFERENCE_LENGTH = 6
"""31 ** 6 = about 887 million codes, close to 30 bits; guesses are rate-limited."""


def new_booking_reference() -> str:
    """A fresh booking reference from :data:`REFERENCE_ALPHABET`, from a secure source."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def phone_key(phone: str) -> str:
    """The identity key of a customer known by an E.164 number."""
    return f"phone:{phone}"


def email_key(email: str) -> str:
    """The identity key of a customer known by a trusted email."""
    return f"email:{email.lower()}"


def call_key(call_id: str) -> str:
    """The identity key of a caller without a trusted identity: theirs for one call only."""
    return f"call:{call_id}"


def customer_key(phone: str | None, email: str | None) -> str | None:
    """The key ``upsert_customer`` derives when none is given: phone, else email, else None."""
    if phone is not None:
        return phone_key(phone)
    if email is not None:
        return email_key(email)
    return None


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
    booking_reference: str | None = None
    """The short code the caller can say to manage it (None for appointments stored before)."""
    attendee_name: str | None = attrs.field(default=None, repr=False)
    contact_email: str | None = attrs.field(default=None, repr=False)
    """A contact the caller gave for this booking only; never an identity."""
    contact_phone: str | None = attrs.field(default=None, repr=False)
    business_id: str = attrs.field(default=DEFAULT_BUSINESS_ID, repr=False)
    """The business it was booked with (and whose Cal.com account holds it)."""

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
    booking_reference: str | None = None
    """None: the store assigns a fresh one."""
    attendee_name: str | None = attrs.field(default=None, repr=False)
    contact_email: str | None = attrs.field(default=None, repr=False)
    contact_phone: str | None = attrs.field(default=None, repr=False)


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
    business_id: str | None = attrs.field(default=None, eq=False)
    """The business the call belongs to, set by the store when it first stores the call and
    never changed afterwards (None in a call not read from a store); not part of equality."""


@attrs.frozen
class CallLink:
    """One call touching one appointment in one way; unique per (call, appointment, relation)."""

    call_id: str
    appointment_id: int
    relationship: Relationship
    linked_at: datetime
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, hash=False)


def args_digest(args: Mapping[str, Any]) -> str:
    """A stable digest of the arguments: key order and spacing do not matter.

    Lone surrogates (valid in JSON escapes, not in UTF-8) are hashed as they are.
    """
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen
class ToolCallKey:
    """Identity of one invocation of a tool: every delivery of it shares the key.

    ``seq`` tells apart invocations with the same arguments within one call: 0 for the
    first, 1 for the next one that is not a repeat of it, and so on (see
    :class:`Invocation`). At most one invocation per ``(call_id, tool, args_digest)`` is
    unfinished at a time, so concurrent deliveries always meet on the same key.
    """

    call_id: str
    tool: str
    args_digest: str
    seq: int = 0


@attrs.frozen
class Invocation:
    """What a delivery's call object says about which invocation it delivers.

    Retell's ``transcript_with_tool_calls`` lists every ``tool_call_invocation`` (with a
    globally unique ``tool_call_id``) and every ``tool_call_result`` Retell received.
    ``tool_call_id`` is the delivered invocation: the latest one of this tool with these
    arguments that has no result. ``repeats`` holds it and the earlier such invocations it
    may be a retry of (Retell may or may not give a retry a new id): those without a
    result, back to the last result of any tool call. Both are empty when the call object
    has no such transcript or does not list the delivery.

    ``joined`` is the ``seq`` of the invocation this delivery found running: whatever that
    one ends with is this delivery's answer too. ``read_only`` marks a tool of
    :data:`READ_ONLY_TOOLS`.
    """

    tool_call_id: str | None = None
    repeats: frozenset[str] = frozenset()
    joined: int | None = None
    read_only: bool = False

    @property
    def identified(self) -> bool:
        return self.tool_call_id is not None

    def replays(
        self,
        seq: int,
        *,
        claimed_by: str | None,
        finished_seen: int,
        finished_now: int,
        finished_at: datetime,
        now: datetime,
        window: timedelta,
    ) -> bool:
        """Whether this delivery repeats the finished invocation ``seq`` or is a new one.

        ``claimed_by`` is the Retell id of the delivery that first claimed it,
        ``finished_seen`` how many other tool calls of the call had finished then,
        ``finished_now`` how many have now. The invocation this delivery :attr:`joined` is
        repeated. Identified on both sides, it is a repeat exactly when ``claimed_by`` is
        one of :attr:`repeats`. Otherwise nothing tells a retry from a new question, and
        changes made outside this call (other calls, Cal.com, staff) leave no trace in it:
        a finished :attr:`read_only` one is never repeated (it is asked afresh), and any
        other one only while no other tool call of the call has finished since it was
        first claimed, and less than ``window`` after it finished (a repeated change is
        answered from the store and Cal.com anyway, never made twice).
        """
        if self.joined == seq:
            return True
        if self.identified and claimed_by is not None:
            return claimed_by in self.repeats
        if self.read_only:
            return False
        return finished_now == finished_seen and now < finished_at + window


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


def _utc_instants(starts: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(start.astimezone(UTC) for start in starts)


@attrs.frozen
class ResultFacts:
    """What later calls need of a finished tool call, stored beside its answer as typed data
    (never read back out of the answer's JSON).

    ``booking_uid`` is the Cal.com booking the call touched (booked, confirmed, moved,
    cancelled; a read-only tool touches none). ``offered`` are the free starts the caller
    was told about, as UTC instants; ``listed_whole`` says whether the answer listed every
    free start of their local days (False when it left some out: those it left out are
    Cal.com's to decide).
    """

    booking_uid: str | None = None
    offered: tuple[datetime, ...] = attrs.field(default=(), converter=_utc_instants)
    listed_whole: bool = True


NO_FACTS = ResultFacts()
"""An answer that touched no booking and offered no start."""


@attrs.frozen
class OfferedStart:
    """A free start (UTC) a call was offered, and whether its day was listed whole then."""

    start: datetime
    listed_whole: bool


@attrs.frozen
class ToolCallRecord:
    """A stored function call, for reports: its key, when it ran, and its final result.

    ``result`` is None while unfinished; ``abandoned`` marks one whose last delivery gave up
    (an ``error`` answer) and that no later delivery finished. ``booking_uid`` is the
    booking its finish recorded as touched (:attr:`ResultFacts.booking_uid`).
    """

    key: ToolCallKey
    claimed_at: datetime
    finished_at: datetime | None = None
    abandoned: bool = False
    result: dict[str, Any] | None = attrs.field(default=None, hash=False, repr=False)
    booking_uid: str | None = None
    business_id: str = attrs.field(default=DEFAULT_BUSINESS_ID, eq=False)
    """The business of its call (``default`` while the call itself is not stored)."""

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
    def booking_attempt(self) -> bool:
        """Whether this call tried to book or change something (not a read-only question)."""
        return self.key.tool not in READ_ONLY_TOOLS


@attrs.frozen
class ToolCallBusy:
    """Another delivery is working on this tool call right now."""


ToolCallClaim = ToolCallClaimed | ToolCallFinished | ToolCallBusy
