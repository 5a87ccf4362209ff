"""The emulated endpoints: routing, auth, API versions, and the JSON shapes of each version."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from .dto import (
    CancelBookingIn,
    CreateBookingIn,
    LegacyCancelBookingIn,
    LegacyCreateBookingIn,
    RescheduleBookingIn,
    check_query,
    parse_body,
    query_instant,
    query_int,
)
from .models import EmulatedAttendee, EmulatedBooking, EventTypeSpec, zone
from .rate_limit import RateLimiter
from .schedule import free_starts
from .shapes import booking_json, event_type_json, legacy_booking_json, pagination
from .store import BookingStore, NewBooking, sms_email
from .wire import (
    ApiError,
    WireRequest,
    WireResponse,
    failure,
    local_iso,
    parse_instant,
    parse_range_bound,
    success,
    utc_z,
    validation_error,
)

SLOTS_VERSION: Final = "2024-09-04"
BOOKINGS_VERSIONS: Final = frozenset({"2024-08-13", "2026-02-25"})
MAX_TAKE: Final = 250
DEFAULT_TAKE: Final = 100

_SLOTS_QUERY = frozenset(
    {"eventTypeId", "eventTypeSlug", "username", "start", "end", "timeZone", "duration", "format"}
)
_LEGACY_SLOTS_QUERY = frozenset(
    {"eventTypeId", "eventTypeSlug", "startTime", "endTime", "start", "end", "timeZone", "duration"}
)
_LIST_QUERY = frozenset(
    {
        "attendeeEmail",
        "attendeeName",
        "eventTypeId",
        "eventTypeIds",
        "afterStart",
        "beforeEnd",
        "status",
        "sortStart",
        "take",
        "skip",
    }
)
_LEGACY_LIST_QUERY = frozenset(
    {
        "filters[status]",
        "filters[attendeeEmail]",
        "filters[attendeeName]",
        "filters[eventTypeIds]",
        "filters[afterStartDate]",
        "filters[beforeEndDate]",
        "limit",
        "cursor",
    }
)
_LIST_STATUSES = frozenset({"upcoming", "recurring", "past", "cancelled", "unconfirmed"})
_EVENT_TYPE_PATH = re.compile(r"^/v2/event-types/(?P<id>[0-9]+)$")
_BOOKING_PATH = re.compile(r"^/v2/bookings/(?P<uid>[^/]+)(?P<action>/cancel|/reschedule)?$")


class CalcomApi:
    """Answers one request synchronously, so a check and the write it guards never interleave.

    ``accounts`` maps each API key to its account's store (a live mapping: accounts may be
    added later). A request with a key sees only that account; the public slots endpoint
    without a key sees the event types of every account.
    """

    def __init__(
        self,
        accounts: Mapping[str, BookingStore],
        clock: Callable[[], datetime],
        limiter: RateLimiter,
    ) -> None:
        self._accounts = accounts
        self._clock = clock
        self.limiter = limiter
        self.throttled = 0
        """How many requests the rate limit refused with 429 (injected faults not counted)."""

    def handle(self, request: WireRequest) -> WireResponse:
        now = self._clock()
        admitted, headers = self.limiter.admit(self.caller(request), now)
        try:
            if not admitted:
                self.throttled += 1
                raise ApiError(429, "ThrottlerException: Too Many Requests")
            response = self._route(request)
        except ApiError as error:
            response = failure(error, request.url, now)
        return response.with_headers(headers)

    def caller(self, request: WireRequest) -> str:
        """The rate-limit key: the presented API key, or one bucket for anonymous callers."""
        return request.headers.get("authorization", "anonymous")

    def account(self, request: WireRequest) -> BookingStore | None:
        """The account whose API key the request carries as a bearer token, if any."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._accounts.get(token.strip())

    def _route(self, request: WireRequest) -> WireResponse:
        method, path = request.method, request.path
        if path == "/v2/slots" and method == "GET":
            return self._slots(request, self._authenticate(request, required=False))
        if path == "/v2/bookings" and method in {"GET", "POST"}:
            store = self._required_account(request)
            if method == "POST":
                return self._create(request, store)
            return self._list(request, store)
        event_type = _EVENT_TYPE_PATH.match(path)
        if event_type is not None and method == "GET":
            store = self._required_account(request)
            return success(event_type_json(store.event_type(int(event_type["id"]))))
        match = _BOOKING_PATH.match(path)
        if match is not None:
            uid, action = match["uid"], match["action"]
            if (method, action) in {("GET", None), ("POST", "/cancel"), ("POST", "/reschedule")}:
                store = self._required_account(request)
                legacy = self._is_legacy_bookings(request)
                if action is None:
                    return success(_shape(store, store.get(uid), legacy=legacy))
                if action == "/cancel":
                    return self._cancel(request, store, uid, legacy=legacy)
                if not legacy:
                    return self._reschedule(request, store, uid)
        raise ApiError(404, f"Cannot {method} {path}")

    def _authenticate(self, request: WireRequest, *, required: bool) -> BookingStore | None:
        """The key's account; no key is refused only where one is ``required``, a key that
        opens no account always is."""
        if "authorization" not in request.headers:
            if required:
                raise ApiError(401, "ApiAuthStrategy - No authentication method provided")
            return None
        store = self.account(request)
        if store is None:
            raise ApiError(401, "ApiAuthStrategy - api key - Invalid API Key")
        return store

    def _required_account(self, request: WireRequest) -> BookingStore:
        store = self._authenticate(request, required=True)
        assert store is not None
        return store

    @staticmethod
    def _is_legacy_bookings(request: WireRequest) -> bool:
        return request.headers.get("cal-api-version") not in BOOKINGS_VERSIONS

    # --- slots -----------------------------------------------------------------------------

    def _slots(self, request: WireRequest, account: BookingStore | None) -> WireResponse:
        query = request.query
        legacy = request.headers.get("cal-api-version") != SLOTS_VERSION
        check_query(query, _LEGACY_SLOTS_QUERY if legacy else _SLOTS_QUERY)
        start_key, end_key = ("startTime", "endTime") if legacy else ("start", "end")
        if legacy and "start" in query:
            start_key = "start"
        if legacy and "end" in query:
            end_key = "end"
        missing = [f"{key} should not be empty" for key in (start_key, end_key) if key not in query]
        if missing:
            raise validation_error(missing)
        window_start = _range_bound(query, start_key, end=False)
        window_end = _range_bound(query, end_key, end=True)
        answer_zone = zone("UTC")
        if "timeZone" in query:
            try:
                answer_zone = zone(query["timeZone"])
            except ValueError:
                raise validation_error(["timeZone must be a valid IANA time zone"]) from None
        if not legacy and query.get("format", "time") not in {"time", "range"}:
            raise validation_error(["format must be one of the following values: time, range"])
        store, event_type = self._slots_event_type(query, account)
        duration = query_int(query, "duration")
        if duration is not None and duration != event_type.length_minutes:
            raise validation_error(
                [f"duration must be the event type's length of {event_type.length_minutes}"]
            )
        starts = free_starts(
            event_type,
            store.bookings_between(event_type, window_start, window_end + event_type.length),
            window_start,
            window_end,
            self._clock(),
        )
        days: dict[str, list[dict[str, str]]] = {}
        for start in starts:
            day = start.astimezone(answer_zone).date().isoformat()
            if legacy:
                days.setdefault(day, []).append({"time": utc_z(start)})
                continue
            slot = {"start": local_iso(start, answer_zone)}
            if query.get("format") == "range":
                slot["end"] = local_iso(start + event_type.length, answer_zone)
            days.setdefault(day, []).append(slot)
        return success({"slots": days} if legacy else days)

    def _slots_event_type(
        self, query: dict[str, str], account: BookingStore | None
    ) -> tuple[BookingStore, EventTypeSpec]:
        """The event type asked for, in the key's account or, without a key, in any."""
        event_type_id = query_int(query, "eventTypeId")
        slug = query.get("eventTypeSlug")
        if event_type_id is None and slug is None:
            raise validation_error(["eventTypeId or eventTypeSlug with username must be provided"])
        refusal: ApiError | None = None
        for store in [account] if account is not None else self._accounts.values():
            try:
                if event_type_id is not None:
                    return store, store.event_type(event_type_id)
                return store, store.event_type_by_slug(str(slug), query.get("username"))
            except ApiError as error:
                refusal = error
        assert refusal is not None
        raise refusal

    # --- bookings --------------------------------------------------------------------------

    def _create(self, request: WireRequest, store: BookingStore) -> WireResponse:
        body = _json_body(request)
        if self._is_legacy_bookings(request):
            legacy = parse_body(LegacyCreateBookingIn, body)
            event_type = store.event_type(legacy.event_type_id)
            extra = dict(legacy.responses.model_extra or {})
            new = NewBooking(
                event_type=event_type,
                start=parse_instant(legacy.start),
                attendee=EmulatedAttendee(
                    name=legacy.responses.name,
                    email=legacy.responses.email,
                    time_zone=legacy.time_zone,
                    language=legacy.language,
                ),
                metadata=dict(legacy.metadata or {}),
                booking_fields_responses=extra,
            )
            outcome = store.create(new)
            return success(_shape(store, outcome.booking, legacy=True), status=201)
        dto = parse_body(CreateBookingIn, body)
        event_type = _create_event_type(store, dto)
        if dto.length_in_minutes is not None:
            raise ApiError(
                400,
                "Can't specify 'lengthInMinutes' because event type does not have multiple "
                "possible lengths. Please remove the 'lengthInMinutes' field from the request.",
            )
        new = NewBooking(
            event_type=event_type,
            start=parse_instant(dto.start),
            attendee=EmulatedAttendee(
                name=dto.attendee.name,
                email=dto.attendee.email or sms_email(dto.attendee.phone_number or ""),
                time_zone=dto.attendee.time_zone,
                phone_number=dto.attendee.phone_number,
                language=dto.attendee.language or "en",
            ),
            metadata=dict(dto.metadata or {}),
            guests=list(dto.guests or []),
            location=_location(dto.location) or dto.meeting_url,
            booking_fields_responses=dict(dto.booking_fields_responses or {}),
        )
        outcome = store.create(new)
        return success(_shape(store, outcome.booking, legacy=False), status=201)

    def _list(self, request: WireRequest, store: BookingStore) -> WireResponse:
        query = request.query
        if self._is_legacy_bookings(request):
            return self._legacy_list(query, store)
        # The global pipe only whitelists here: unknown parameters are dropped, not refused.
        query = {key: value for key, value in query.items() if key in _LIST_QUERY}
        take = query_int(query, "take")
        take = DEFAULT_TAKE if take is None else take
        if not 1 <= take <= MAX_TAKE:
            raise validation_error([f"take must not be greater than {MAX_TAKE}"])
        skip = query_int(query, "skip") or 0
        if skip < 0:
            raise validation_error(["skip must not be less than 0"])
        sort = query.get("sortStart", "asc")
        if sort not in {"asc", "desc"}:
            raise validation_error(["sortStart must be one of the following values: asc, desc"])
        event_type_ids = _int_list(query, "eventTypeIds")
        single = query_int(query, "eventTypeId")
        if single is not None:
            event_type_ids = [*(event_type_ids or []), single]
        found = self._filter(
            store,
            statuses=_statuses(query.get("status")),
            attendee_email=query.get("attendeeEmail"),
            attendee_name=query.get("attendeeName"),
            event_type_ids=event_type_ids,
            after_start=query_instant(query, "afterStart"),
            before_end=query_instant(query, "beforeEnd"),
            descending=sort == "desc",
        )
        page = found[skip : skip + take]
        return success(
            [_shape(store, booking, legacy=False) for booking in page],
            pagination=pagination(len(found), skip, take, len(page)),
        )

    def _legacy_list(self, query: dict[str, str], store: BookingStore) -> WireResponse:
        check_query(query, _LEGACY_LIST_QUERY)
        limit = query_int(query, "limit") or DEFAULT_TAKE
        cursor = query_int(query, "cursor") or 0
        found = self._filter(
            store,
            statuses=_statuses(query.get("filters[status]")),
            attendee_email=query.get("filters[attendeeEmail]"),
            attendee_name=query.get("filters[attendeeName]"),
            event_type_ids=_int_list(query, "filters[eventTypeIds]"),
            after_start=query_instant(query, "filters[afterStartDate]"),
            before_end=query_instant(query, "filters[beforeEndDate]"),
            descending=False,
        )
        page = found[cursor : cursor + limit]
        next_cursor = cursor + limit if cursor + limit < len(found) else None
        return success(
            {
                "bookings": [_shape(store, booking, legacy=True) for booking in page],
                "recurringInfo": [],
                "nextCursor": next_cursor,
            }
        )

    def _filter(
        self,
        store: BookingStore,
        *,
        statuses: frozenset[str],
        attendee_email: str | None,
        attendee_name: str | None,
        event_type_ids: list[int] | None,
        after_start: datetime | None,
        before_end: datetime | None,
        descending: bool,
    ) -> list[EmulatedBooking]:
        now = self._clock()

        def wanted(booking: EmulatedBooking) -> bool:
            if statuses and not any(_in_status(booking, status, now) for status in statuses):
                return False
            if attendee_email is not None and not any(
                attendee.email.lower() == attendee_email.lower() for attendee in booking.attendees
            ):
                return False
            if attendee_name is not None and not any(
                attendee.name.lower() == attendee_name.lower() for attendee in booking.attendees
            ):
                return False
            if event_type_ids is not None and booking.event_type_id not in event_type_ids:
                return False
            if after_start is not None and booking.start < after_start:
                return False
            return before_end is None or booking.end <= before_end

        found = [booking for booking in store.bookings if wanted(booking)]
        return sorted(found, key=lambda booking: booking.start, reverse=descending)

    def _cancel(
        self, request: WireRequest, store: BookingStore, uid: str, *, legacy: bool
    ) -> WireResponse:
        body = _json_body(request)
        if legacy:
            reason = parse_body(LegacyCancelBookingIn, body).cancellation_reason
        else:
            reason = parse_body(CancelBookingIn, body).cancellation_reason
        booking = store.cancel(uid, reason)
        return success(_shape(store, booking, legacy=legacy))

    def _reschedule(self, request: WireRequest, store: BookingStore, uid: str) -> WireResponse:
        dto = parse_body(RescheduleBookingIn, _json_body(request))
        booking = store.reschedule(
            uid, parse_instant(dto.start), dto.rescheduling_reason, dto.rescheduled_by
        )
        return success(_shape(store, booking, legacy=False), status=201)


def _shape(store: BookingStore, booking: EmulatedBooking, *, legacy: bool) -> dict[str, Any]:
    event_type = store.event_type(booking.event_type_id)
    if legacy:
        return legacy_booking_json(booking, event_type, store.host)
    return booking_json(booking, event_type, store.host)


def _create_event_type(store: BookingStore, dto: CreateBookingIn) -> EventTypeSpec:
    if dto.event_type_id is not None:
        return store.event_type(dto.event_type_id)
    if dto.event_type_slug is not None and dto.username is not None:
        return store.event_type_by_slug(dto.event_type_slug, dto.username)
    raise validation_error(
        ["Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug required"]
    )


def _json_body(request: WireRequest) -> Any:
    parsed = request.json_body()
    if parsed is None and request.body.strip():
        raise ApiError(400, "Unexpected token in JSON body")
    return parsed


def _location(location: str | dict[str, Any] | None) -> str | None:
    if location is None or isinstance(location, str):
        return location
    for key in ("address", "link", "phone"):
        if isinstance(location.get(key), str):
            return str(location[key])
    return f"integrations:{location.get('type', 'unknown')}"


def _range_bound(query: dict[str, str], key: str, *, end: bool) -> datetime:
    try:
        return parse_range_bound(query[key], end=end)
    except ValueError:
        raise validation_error([f"{key} must be a valid ISO 8601 date string"]) from None


def _int_list(query: dict[str, str], key: str) -> list[int] | None:
    text = query.get(key)
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(re.fullmatch(r"\d+", part) for part in parts):
        raise validation_error([f"{key} must be a comma-separated list of integers"])
    return [int(part) for part in parts]


def _statuses(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    statuses = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = statuses - _LIST_STATUSES
    if unknown:
        allowed = ", ".join(sorted(_LIST_STATUSES))
        raise validation_error([f"status must be one of the following values: {allowed}"])
    return statuses


def _in_status(booking: EmulatedBooking, status: str, now: datetime) -> bool:
    """Cal.com's list filters: they look at the end, so a booking under way is still upcoming."""
    ended = booking.end <= now
    withdrawn = booking.status in {"cancelled", "rejected"}
    if status == "upcoming":
        return not ended and not withdrawn
    if status == "past":
        return ended and not withdrawn
    if status == "cancelled":
        return withdrawn
    if status == "unconfirmed":
        return not ended and booking.status == "pending"
    return False
