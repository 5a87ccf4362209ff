"""An async Cal.com v2 client: one HTTP boundary, typed answers, errors a caller can act on.

Reads (``GET``) are retried with backoff on :class:`CalcomUnavailable` through ``stamina``,
and on :class:`CalcomRateLimited` only when Cal.com's wait is short: a 429 blocks the key
for a minute, and a retry within it only meets the block (and the block is recorded in the
shared :class:`~retell_booking_tools.calcom.budget.RateBudget`, when there is one). Writes
(``POST``) are never retried, because a create that timed out may have been committed: the
caller looks the booking up instead.
Tests switch the backoff off with ``stamina.set_testing(True, attempts=..., cap=True)``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache, partial
from importlib import metadata
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeGuard, TypeVar
from urllib.parse import quote

import attrs
import httpx
import stamina
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from retell_booking_tools.calcom.budget import RateBudget
from retell_booking_tools.calcom.errors import (
    CalcomAuthError,
    CalcomBookerLimitReached,
    CalcomBudgetExhausted,
    CalcomError,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomSlotUnavailable,
    CalcomUnavailable,
    CalcomValidationError,
)
from retell_booking_tools.calcom.models import (
    Booking,
    CancelBooking,
    CreateBooking,
    EventType,
    RescheduleBooking,
    format_instant,
)
from retell_booking_tools.calcom.refusals import Refusal, classify_refusal, reschedule_uid_in

__all__ = [
    "BOOKINGS_API_VERSION",
    "DEFAULT_API_URL",
    "EVENT_TYPES_API_VERSION",
    "SLOTS_API_VERSION",
    "CalcomClient",
    "CalcomRequestEvent",
    "error_for_status",
]

DEFAULT_API_URL: Final = "https://api.cal.com/v2"
SLOTS_API_VERSION: Final = "2024-09-04"
BOOKINGS_API_VERSION: Final = "2024-08-13"
EVENT_TYPES_API_VERSION: Final = "2024-06-14"

MAX_RETRY_WAIT_SECONDS: Final = 5.0
"""No single backoff between read attempts is longer than this, whatever Cal.com asks."""

MAX_PAGE_SIZE: Final = 250
MAX_PAGES: Final = 20
"""``list_bookings`` stops after this many pages (and logs a warning) rather than loop forever."""


Method = Literal["GET", "POST"]
T = TypeVar("T")

logger = logging.getLogger(__name__)


@attrs.frozen
class CalcomRequestEvent:
    """One HTTP attempt, for metrics: no URL values, no bodies, nothing personal.

    ``endpoint`` is the path template (``/bookings/{uid}``); ``status_code`` is None when no
    answer arrived; ``error_kind`` is the :attr:`CalcomError.kind` raised, None on success.
    """

    method: str
    endpoint: str
    status_code: int | None
    elapsed_seconds: float
    error_kind: str | None


class _SlotStart(TypedDict):
    """One slot of ``GET /slots``; a typed dict, not a model: a week holds hundreds."""

    start: AwareDatetime


_SLOTS_BY_DAY: Final = TypeAdapter(dict[str, list[_SlotStart]])
_BOOKINGS: Final = TypeAdapter(list[Booking])


@cache
def _user_agent() -> str:
    """Read from the installed metadata once: a scan of ``sys.path`` per client adds up."""
    try:
        version = metadata.version("retell-booking-tools")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"retell-booking-tools/{version}"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _utc_query(name: str, value: datetime) -> str:
    """Query instants are UTC with ``Z``, like bodies; naive values would be read as local."""
    _require_aware(name, value)
    return format_instant(value)


class CalcomClient:
    """Talks to Cal.com API v2 over one pooled ``httpx.AsyncClient`` (on aiohttp's pool, see
    :mod:`~retell_booking_tools.calcom.transport`, unless a ``transport`` is given).

    Every method returns parsed models or raises a :class:`CalcomError` subclass; the API
    key appears in no message, repr or event.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 3,
        on_request: Callable[[CalcomRequestEvent], None] | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        """``budget`` spends the API key's shared request budget before every request (see
        :mod:`~retell_booking_tools.calcom.budget`); without one nothing is throttled."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._max_attempts = max_attempts
        self._on_request = on_request
        self._budget = budget
        if transport is None:
            from retell_booking_tools.calcom.transport import CalcomTransport

            transport = CalcomTransport()
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": _user_agent(),
            },
        )

    def __repr__(self) -> str:
        return f"CalcomClient(base_url={self._base_url!r})"

    @property
    def budget(self) -> RateBudget | None:
        return self._budget

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._budget is not None:
            await self._budget.close()

    # -- slots -------------------------------------------------------------------------

    async def get_slots(
        self,
        *,
        event_type_id: int,
        start: datetime,
        end: datetime,
        time_zone: str | None = None,
    ) -> list[datetime]:
        """Free, bookable starts in ``[start, end]``, sorted, with the offsets Cal.com gave."""
        params: dict[str, str | int] = {
            "eventTypeId": event_type_id,
            "start": _utc_query("start", start),
            "end": _utc_query("end", end),
        }
        if time_zone is not None:
            params["timeZone"] = time_zone
        data = await self._get("/slots", "/slots", SLOTS_API_VERSION, params)
        by_day = self._parse("GET", "/slots", 200, lambda: _SLOTS_BY_DAY.validate_python(data))
        return sorted(
            (slot["start"] for day in by_day.values() for slot in day),
            key=lambda instant: instant.astimezone(UTC),
        )

    # -- event types -------------------------------------------------------------------

    async def get_event_type(self, event_type_id: int) -> EventType:
        """One event type the key may read; CalcomNotFound when there is none with this id,
        CalcomAuthError when the key is refused or may not read it."""
        endpoint = "/event-types/{id}"
        data = await self._get(endpoint, f"/event-types/{event_type_id}", EVENT_TYPES_API_VERSION)
        return self._parse("GET", endpoint, 200, lambda: EventType.model_validate(data))

    # -- bookings ----------------------------------------------------------------------

    async def create_booking(self, request: CreateBooking) -> Booking:
        """Books once, never retried: after an ``ambiguous`` failure, look the booking up.

        A 201 is not proof of a new booking: some event types answer a repeat with the
        existing one (same ``uid``, old ``createdAt``).
        """
        _require_aware("request.start", request.start)
        attendee = request.attendee
        status, data = await self._send(
            "POST",
            "/bookings",
            "/bookings",
            BOOKINGS_API_VERSION,
            json=request.to_json(),
            personal=(
                attendee.name,
                *attendee.name.split(),
                attendee.email,
                attendee.phone_number or "",
            ),
        )
        return self._booking("POST", "/bookings", status, data)

    async def get_booking(self, uid: str) -> Booking:
        endpoint = "/bookings/{uid}"
        data = await self._get(endpoint, f"/bookings/{_segment(uid)}", BOOKINGS_API_VERSION)
        return self._booking("GET", endpoint, 200, data)

    async def list_bookings(
        self,
        *,
        attendee_email: str | None = None,
        event_type_id: int | None = None,
        after_start: datetime | None = None,
        before_end: datetime | None = None,
        status: Sequence[str] | None = None,
        take: int = 100,
    ) -> list[Booking]:
        """All matching bookings, following ``skip`` pagination up to :data:`MAX_PAGES`."""
        if not 1 <= take <= MAX_PAGE_SIZE:
            raise ValueError(f"take must be between 1 and {MAX_PAGE_SIZE}")
        params: dict[str, str | int] = {"take": take}
        if attendee_email is not None:
            params["attendeeEmail"] = attendee_email
        if event_type_id is not None:
            params["eventTypeId"] = event_type_id
        if after_start is not None:
            params["afterStart"] = _utc_query("after_start", after_start)
        if before_end is not None:
            params["beforeEnd"] = _utc_query("before_end", before_end)
        if status:
            params["status"] = ",".join(status)

        bookings: list[Booking] = []
        for page_number in range(MAX_PAGES):
            params["skip"] = page_number * take
            body = await self._get(
                "/bookings",
                "/bookings",
                BOOKINGS_API_VERSION,
                params,
                whole_body=True,
                personal=(attendee_email or "",),
            )
            page = self._parse(
                "GET", "/bookings", 200, partial(_BOOKINGS.validate_python, body["data"])
            )
            bookings.extend(page)
            if not _has_next_page(body, len(page), take):
                return bookings
        logger.warning(
            "list_bookings stopped after %d pages of %d; narrow the filters", MAX_PAGES, take
        )
        return bookings

    async def cancel_booking(self, uid: str, reason: str | None = None) -> Booking:
        """Cancels once, never retried; an ``ambiguous`` failure means check with get_booking."""
        endpoint = "/bookings/{uid}/cancel"
        body = CancelBooking(cancellation_reason=reason).to_json()
        status, data = await self._send(
            "POST", endpoint, f"/bookings/{_segment(uid)}/cancel", BOOKINGS_API_VERSION, json=body
        )
        return self._booking("POST", endpoint, status, data)

    async def reschedule_booking(
        self, uid: str, start: datetime, reason: str | None = None
    ) -> Booking:
        """Returns the *new* booking (new ``uid``, ``rescheduled_from_uid`` = ``uid``)."""
        _require_aware("start", start)
        endpoint = "/bookings/{uid}/reschedule"
        body = RescheduleBooking(start=start, rescheduling_reason=reason).to_json()
        status, data = await self._send(
            "POST",
            endpoint,
            f"/bookings/{_segment(uid)}/reschedule",
            BOOKINGS_API_VERSION,
            json=body,
        )
        return self._booking("POST", endpoint, status, data)

    # -- plumbing ----------------------------------------------------------------------

    async def _get(
        self,
        endpoint: str,
        path: str,
        api_version: str,
        params: Mapping[str, str | int] | None = None,
        *,
        whole_body: bool = False,
        personal: Sequence[str] = (),
    ) -> Any:
        """A safe request: retried on rate limits and outages, honouring Cal.com's wait."""
        async for attempt in stamina.retry_context(
            on=_retry_backoff,
            attempts=self._max_attempts,
            timeout=None,
            wait_max=MAX_RETRY_WAIT_SECONDS,
        ):
            with attempt:
                _, payload = await self._send(
                    "GET",
                    endpoint,
                    path,
                    api_version,
                    params=params,
                    whole_body=whole_body,
                    personal=personal,
                )
                return payload
        raise AssertionError("stamina.retry_context ended without an attempt")  # pragma: no cover

    async def _send(
        self,
        method: Method,
        endpoint: str,
        path: str,
        api_version: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: dict[str, object] | None = None,
        whole_body: bool = False,
        personal: Sequence[str] = (),
    ) -> tuple[int, Any]:
        """One attempt: returns (status, ``data``) or the whole envelope; raises CalcomError.

        ``personal`` values (attendee name, email, phone) are blanked out of any message.
        """
        write = method != "GET"
        secrets = (self._api_key, *personal)
        if self._budget is not None:
            await self._budget.acquire(write=write)
        started = time.perf_counter()
        status_code: int | None = None
        try:
            try:
                response = await self._http.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    headers={"cal-api-version": api_version},
                )
            except httpx.RequestError as exc:
                raise error_for_transport(
                    exc, method=method, endpoint=endpoint, write=write, secrets=secrets
                ) from exc
            status_code = response.status_code
            if not response.is_success:
                raise error_for_status(
                    response.status_code,
                    _json_or_none(response),
                    response.headers,
                    method=method,
                    endpoint=endpoint,
                    write=write,
                    secrets=secrets,
                )
            body = _json_or_none(response)
            if not _is_success_envelope(body):
                raise _malformed(method, endpoint, status_code)
        except CalcomError as error:
            self._emit(method, endpoint, status_code, started, error.kind)
            if _blocks(error) and self._budget is not None:
                await self._budget.blocked(error.retry_after)
            raise
        self._emit(method, endpoint, status_code, started, None)
        return status_code, body if whole_body else body["data"]

    def _emit(
        self,
        method: str,
        endpoint: str,
        status_code: int | None,
        started: float,
        error_kind: str | None,
    ) -> None:
        if self._on_request is None:
            return
        event = CalcomRequestEvent(
            method=method,
            endpoint=endpoint,
            status_code=status_code,
            elapsed_seconds=time.perf_counter() - started,
            error_kind=error_kind,
        )
        try:
            self._on_request(event)
        except Exception:
            # A broken metrics hook must not turn a committed booking into a failure.
            logger.exception("on_request hook failed for %s %s", method, endpoint)

    def _booking(self, method: Method, endpoint: str, status: int, data: Any) -> Booking:
        return self._parse(method, endpoint, status, lambda: Booking.model_validate(data))

    def _parse(self, method: Method, endpoint: str, status: int, parse: Callable[[], T]) -> T:
        """Runs ``parse``; an answer we cannot read is an outage, ambiguous for writes."""
        try:
            return parse()
        except (ValidationError, KeyError, TypeError) as exc:
            summary = _shape_summary(exc)
        # Raised outside the handler so the pydantic error, which quotes the body, is not
        # attached as __context__.
        raise _malformed(method, endpoint, status) from summary


# -- error mapping -------------------------------------------------------------------------


def error_for_status(
    status_code: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    method: str,
    endpoint: str,
    write: bool,
    secrets: Sequence[str] = (),
    now: float | None = None,
) -> CalcomError:
    """The one place that turns a Cal.com error answer into the exception a caller handles.

    ``body`` is the decoded JSON (or None); ``write`` marks requests that may have changed
    something, so a 5xx on them is ``ambiguous``.
    """
    code, cal_message = _error_details(body)
    message = _scrub(
        f"Cal.com answered {status_code} to {method} {endpoint}"
        + (f": {cal_message}" if cal_message else ""),
        secrets,
    )
    if status_code in (401, 403):
        return CalcomAuthError(message, status_code=status_code, code=code)
    if status_code == 404:
        return CalcomNotFound(message, status_code=status_code, code=code)
    rule = classify_refusal(status_code, code, cal_message)
    if rule is not None and rule.refusal is Refusal.BOOKER_LIMIT:
        return CalcomBookerLimitReached(
            message,
            status_code=status_code,
            code=code,
            reschedule_uid=reschedule_uid_in(cal_message),
        )
    if rule is not None:
        return CalcomSlotUnavailable(
            message, status_code=status_code, code=code, refusal=rule.refusal
        )
    if status_code == 429:
        retry_after = _retry_after(headers, time.time() if now is None else now)
        return CalcomRateLimited(message, status_code=429, code=code, retry_after=retry_after)
    if status_code == 408 or status_code >= 500:
        return CalcomUnavailable(message, status_code=status_code, code=code, ambiguous=write)
    if 400 <= status_code < 500:
        return CalcomValidationError(message, status_code=status_code, code=code)
    return CalcomUnavailable(message, status_code=status_code, code=code, ambiguous=write)


_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def error_for_transport(
    exc: httpx.RequestError,
    *,
    method: str,
    endpoint: str,
    write: bool,
    secrets: Sequence[str] = (),
) -> CalcomUnavailable:
    """No answer. Ambiguous for a write unless the request provably never left."""
    reached_server = not isinstance(exc, _NOT_SENT)
    detail = _scrub(str(exc) or "no detail", secrets)
    return CalcomUnavailable(
        f"Cal.com did not answer {method} {endpoint}: {type(exc).__name__}: {detail}",
        ambiguous=write and reached_server,
    )


def _malformed(method: str, endpoint: str, status: int) -> CalcomUnavailable:
    return CalcomUnavailable(
        f"Cal.com answered {status} to {method} {endpoint} with a body this client cannot read",
        status_code=status,
        ambiguous=method != "GET",
    )


def _error_details(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from ``{"error": {"code", "message"}}`` or a bare NestJS answer."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    source = error if isinstance(error, dict) else body
    code = source.get("code")
    message = source.get("message")
    if message is None and isinstance(error, str):
        message = error
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    return (
        str(code) if code is not None else None,
        str(message) if message is not None else None,
    )


def _retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or date), else Cal.com's reset header."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        seconds = _seconds_or_http_date(retry_after.strip(), now)
        if seconds is not None:
            return seconds
    reset = headers.get("x-ratelimit-reset-default")
    if reset is None:
        return None
    try:
        value = float(reset.strip())
    except ValueError:
        return None
    if 0 <= value <= 3600:
        return value
    if value > 1e12:  # a timestamp in milliseconds
        value /= 1000
    if value > 1e9:  # a Unix timestamp in seconds
        return max(0.0, value - now)
    return None


def _seconds_or_http_date(value: str, now: float) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _blocks(error: CalcomError) -> TypeGuard[CalcomRateLimited]:
    """A 429 whose wait is unknown or long: Cal.com's block, to be shared by every replica.
    A short announced wait is only waited out (see :func:`_retry_backoff`)."""
    if not isinstance(error, CalcomRateLimited) or isinstance(error, CalcomBudgetExhausted):
        return False
    return error.retry_after is None or error.retry_after > MAX_RETRY_WAIT_SECONDS


def _retry_backoff(exc: Exception) -> bool | float | timedelta:
    """stamina's hook: retry outages; retry a rate limit only once Cal.com's wait is over and
    only when that wait is short. Without a wait (Cal.com's 429s carry no ``Retry-After``,
    and its block lasts a minute) or with a long one, never: that would meet the block."""
    if isinstance(exc, CalcomBudgetExhausted):
        return False
    if isinstance(exc, CalcomRateLimited):
        if exc.retry_after is None or exc.retry_after > MAX_RETRY_WAIT_SECONDS:
            return False
        return exc.retry_after
    return isinstance(exc, CalcomUnavailable)


# -- helpers -------------------------------------------------------------------------------

_URL_QUERY = re.compile(r"(https?://[^\s?#\"']+)\?[^\s#\"']*")
_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+\d[\d\s().-]{5,}\d")
_CAL_KEY = re.compile(r"cal_[A-Za-z0-9_]+")
_MAX_MESSAGE = 300
_MIN_SECRET = 3


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """Keeps personal data and credentials out of messages, whatever Cal.com echoes back."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    text = _URL_QUERY.sub(r"\1?…", text)
    text = _EMAIL.sub("<email>", text)
    text = _PHONE.sub("<phone>", text)
    text = _CAL_KEY.sub("cal_***", text)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _shape_summary(exc: Exception) -> ValueError:
    """Where the answer was wrong, without the values: pydantic errors quote the input."""
    if isinstance(exc, ValidationError):
        where = ", ".join(".".join(map(str, error["loc"])) or "body" for error in exc.errors())
    else:
        where = type(exc).__name__
    return ValueError(f"unexpected shape at: {where}"[:_MAX_MESSAGE])


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_success_envelope(body: Any) -> bool:
    return isinstance(body, dict) and body.get("status") == "success" and "data" in body


def _has_next_page(body: Mapping[str, Any], returned: int, take: int) -> bool:
    pagination = body.get("pagination")
    if isinstance(pagination, dict) and isinstance(pagination.get("hasNextPage"), bool):
        return bool(pagination["hasNextPage"]) and returned > 0
    return returned >= take
