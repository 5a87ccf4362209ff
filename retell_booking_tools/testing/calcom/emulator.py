"""An in-process Cal.com API v2 that behaves like the real one, for offline tests.

It answers the slots and bookings endpoints the booking tools use, with Cal.com's
validation, versions, rate limit and repeat-booking rules, and it can be told to fail the
way networks and servers fail (:class:`Fault`), including after a write was committed.
It holds one account or several, each behind its own API key.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Final, Literal, TypeVar

import attrs
import httpx

from retell_booking_tools.calcom.webhooks import SIGNATURE_HEADER, sign_webhook
from retell_booking_tools.clock import Clock, system_clock

from .api import CalcomApi
from .asgi import EmulatorAsgiApp
from .faults import Disruption, Exchange, Fault, FaultKind, FaultQueue
from .models import (
    HOST,
    BookingStatus,
    EmulatedAttendee,
    EmulatedBooking,
    EmulatedHost,
    EventTypeSpec,
    RecordedRequest,
)
from .rate_limit import RateLimiter
from .shapes import webhook_payload_json
from .store import BookingStore, SentEmail, unknown_booking, unknown_event_type
from .transport import EmulatorTransport
from .wire import ApiError, WireRequest, WireResponse, failure, utc_z

_T = TypeVar("_T")

WebhookTrigger = Literal[
    "BOOKING_CREATED",
    "BOOKING_CANCELLED",
    "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED",
    "BOOKING_REJECTED",
]

_DISRUPTED_BEFORE: Final = {
    FaultKind.CONNECT_ERROR: Disruption.REFUSED,
    FaultKind.TIMEOUT: Disruption.TIMEOUT,
}
"""Faults that hit the connection before the request is processed: nothing is written."""
_DISRUPTED_AFTER: Final = {
    FaultKind.TIMEOUT_AFTER_COMMIT: Disruption.TIMEOUT,
    FaultKind.RESET_AFTER_COMMIT: Disruption.RESET,
}
"""Faults that hit the connection after the request was processed: the write happened."""


@attrs.frozen
class WebhookDelivery:
    """One webhook request as Cal.com would send it: the raw body and its headers."""

    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class CalcomEmulator:
    """Emulated Cal.com accounts, each an API key with its host, event types and bookings.

    The constructor makes the first account (``api_key``); :meth:`add_account` adds more,
    so two businesses can run side by side. A request with one account's key sees, books,
    moves and cancels only that account's event types and bookings: another account's
    booking uid answers 404 as an unknown uid does, another account's event type 404 as
    an unknown one, and a key of no account 401 as a bad key. Slots count only the
    bookings of the event type's own account. Each account has its own host
    (:meth:`host`), named as the organiser in its bookings and webhooks.

    Talk to it through :attr:`transport` (in-process httpx) or :attr:`asgi_app` (served by
    uvicorn); both share state. Inspect :attr:`bookings` and :attr:`requests` to assert on
    what a client did. Faults, latency and recorded requests are the emulator's, whatever
    the account; the rate limit counts per key, as Cal.com's does.
    """

    asgi_timeout_sleep: float = 30.0
    """How long the ASGI app stalls an answer hit by a timeout fault."""

    def __init__(
        self,
        api_key: str = "cal_test_emulator_key",
        clock: Clock = system_clock,
        *,
        rate_limit_per_minute: int = 120,
        rate_limit_block_seconds: float = 60.0,
        latency_seconds: float = 0.0,
    ) -> None:
        if latency_seconds < 0:
            raise ValueError("latency cannot be negative")
        self.api_key = api_key
        self.latency_seconds = latency_seconds
        """Added to every request before it is answered: the round trip to a real Cal.com."""
        self._clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._outbox: list[SentEmail] = []
        self._accounts: dict[str, BookingStore] = {}
        self._first = self._open_account(api_key, HOST)
        limiter = RateLimiter(
            rate_limit_per_minute, block=timedelta(seconds=rate_limit_block_seconds)
        )
        self._api = CalcomApi(self._accounts, clock, limiter)
        self._faults = FaultQueue()
        self._requests: list[RecordedRequest] = []
        self._released = False
        self._transport = EmulatorTransport(self._exchange)
        self._asgi_app = EmulatorAsgiApp(
            self._exchange, lambda: self.asgi_timeout_sleep, lambda: self._released, clock
        )

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """For ``httpx.AsyncClient(transport=emu.transport, base_url=...)``."""
        return self._transport

    @property
    def asgi_app(self) -> EmulatorAsgiApp:
        """The same API as an ASGI app, to serve over real HTTP."""
        return self._asgi_app

    @property
    def event_types(self) -> tuple[EventTypeSpec, ...]:
        """The event types of every account."""
        with self._lock:
            return tuple(
                spec for store in self._accounts.values() for spec in store.event_types.values()
            )

    @property
    def bookings(self) -> list[EmulatedBooking]:
        """Every booking of every account, cancelled ones included, in creation order (live
        objects)."""
        with self._lock:
            stores = [store.bookings for store in self._accounts.values()]
            return list(heapq.merge(*stores, key=lambda booking: booking.id))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request in order of arrival, including those a fault hit."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        """Injected faults not used up yet."""
        with self._lock:
            return self._faults.pending()

    @property
    def emails(self) -> list[SentEmail]:
        """E-mails Cal.com sent attendees, in order; none to ``@sms.cal.com`` addresses."""
        with self._lock:
            return list(self._outbox)

    def throttled_count(self) -> int:
        """Requests the rate limit refused with 429 (its own, not injected faults)."""
        with self._lock:
            return self._api.throttled

    def created_bookings_count(self) -> int:
        """Rows created through the API (creates and reschedules), not seeded ones, in
        every account."""
        with self._lock:
            return sum(store.created_count for store in self._accounts.values())

    def add_account(
        self,
        api_key: str,
        *,
        event_types: Iterable[EventTypeSpec] = (),
        host_name: str | None = None,
    ) -> EmulatedHost:
        """Another account behind ``api_key``, with its own host (``host_name`` also gives its
        username; default ``Emulated Host 2`` and so on), event types and bookings.

        Event type ids are Cal.com's, unique across accounts, so one already held by another
        account is refused (``ValueError``), as is a key or host username already in use.
        """
        specs = list(event_types)
        with self._lock:
            host = EmulatedHost.numbered(len(self._accounts) + 1, host_name)
            if any(store.host.username == host.username for store in self._accounts.values()):
                raise ValueError(f"another account's host is already called {host.username!r}")
            for spec in specs:
                self._check_unowned(spec.id, None)
            self._open_account(api_key, host)
            for spec in specs:
                self.add_event_type(spec, api_key=api_key)
            return host

    def host(self, api_key: str | None = None) -> EmulatedHost:
        """The host (Cal.com user) of the account behind ``api_key``, by default the first."""
        return self._account(api_key).host

    def add_event_type(self, spec: EventTypeSpec, *, api_key: str | None = None) -> EventTypeSpec:
        """Configure ``spec`` in the account behind ``api_key`` (by default the first one);
        the same id again replaces it there."""
        with self._lock:
            store = self._account(api_key)
            self._check_unowned(spec.id, store)
            store.event_types[spec.id] = spec
        return spec

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.add(fault)

    def clear_faults(self) -> None:
        """Forget injected faults not used up yet: Cal.com is healthy again."""
        with self._lock:
            self._faults.clear()

    def booking(self, uid: str) -> EmulatedBooking:
        """The booking with ``uid`` in any account; ``KeyError`` if there is none."""
        return self._on_cal_side(lambda: self._holder(uid).get(uid))

    def seed_booking(
        self,
        *,
        event_type_id: int,
        start: datetime,
        attendee_name: str,
        attendee_email: str,
        created_at: datetime | None = None,
        metadata: dict[str, str] | None = None,
        status: BookingStatus = "accepted",
        attendee_time_zone: str | None = None,
        attendee_phone_number: str | None = None,
    ) -> EmulatedBooking:
        """Put a booking in directly, bypassing every rule (e.g. one made "yesterday"), into
        the account the event type belongs to."""
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        store = self._on_cal_side(lambda: self._owner(event_type_id))
        event_type = store.event_types[event_type_id]
        attendee = EmulatedAttendee(
            name=attendee_name,
            email=attendee_email,
            time_zone=attendee_time_zone or event_type.timezone,
            phone_number=attendee_phone_number,
        )
        with self._lock:
            return store.seed(
                event_type,
                start.astimezone(UTC),
                attendee,
                created_at=(created_at or self._clock()).astimezone(UTC),
                metadata=dict(metadata or {}),
                status=status,
            )

    def cancel_booking(self, uid: str, reason: str | None = None) -> EmulatedBooking:
        """A cancellation made on Cal.com's side, e.g. by the business in Cal.com's UI."""
        return self._on_cal_side(lambda: self._holder(uid).cancel(uid, reason))

    def confirm_booking(self, uid: str) -> EmulatedBooking:
        """The host accepts a booking that was pending confirmation."""
        return self._on_cal_side(lambda: self._holder(uid).confirm(uid))

    def reject_booking(self, uid: str, reason: str | None = None) -> EmulatedBooking:
        """The host rejects a booking that was pending confirmation."""
        return self._on_cal_side(lambda: self._holder(uid).reject(uid, reason))

    def webhook(
        self,
        trigger: WebhookTrigger,
        uid: str,
        *,
        secret: str,
        created_at: datetime | None = None,
        metadata: bool = True,
    ) -> WebhookDelivery:
        """The signed delivery Cal.com sends for ``trigger`` about the booking ``uid`` as it is
        now. ``BOOKING_RESCHEDULED`` is about the new booking, which names the old one;
        ``BOOKING_REQUESTED`` and ``BOOKING_REJECTED`` are about a booking of an event type
        that requires confirmation (status ``PENDING`` / ``REJECTED``).

        The payload names the host of the booking's account as ``organizer``, as each
        Cal.com user's webhooks do. ``created_at`` (default: the clock) lets a test send an
        older event late; ``metadata=False`` sends ``metadata: null``, as some
        ``BOOKING_CREATED`` paths do.
        """

        def build() -> dict[str, Any]:
            store = self._holder(uid)
            booking = store.get(uid)
            event_type = store.event_type(booking.event_type_id)
            previous = (
                store.get(booking.rescheduled_from_uid)
                if booking.rescheduled_from_uid is not None
                else None
            )
            return {
                "triggerEvent": trigger,
                "createdAt": utc_z(created_at or self._clock()),
                "payload": webhook_payload_json(
                    booking, event_type, store.host, previous=previous, metadata=metadata
                ),
            }

        body = json.dumps(self._on_cal_side(build)).encode()
        return WebhookDelivery(
            body=body,
            headers={
                "content-type": "application/json",
                SIGNATURE_HEADER: sign_webhook(body, secret),
            },
        )

    def reschedule_booking(self, uid: str, start: datetime) -> EmulatedBooking:
        """A reschedule made on Cal.com's side; returns the new booking."""
        return self._on_cal_side(
            lambda: self._holder(uid).reschedule(uid, start.astimezone(UTC), None, None)
        )

    def close(self) -> None:
        """End every stalled ASGI answer now, so a server can shut down; state is kept."""
        self._released = True

    def _open_account(self, api_key: str, host: EmulatedHost) -> BookingStore:
        if api_key in self._accounts:
            raise ValueError("an account with this API key exists already")
        store = BookingStore(self._clock, host, ids=self._ids, outbox=self._outbox)
        self._accounts[api_key] = store
        return store

    def _account(self, api_key: str | None) -> BookingStore:
        if api_key is None:
            return self._first
        try:
            return self._accounts[api_key]
        except KeyError:
            raise KeyError("no account has this API key") from None

    def _holder(self, uid: str) -> BookingStore:
        """The account holding booking ``uid``; uids are unique across accounts."""
        for store in self._accounts.values():
            if store.holds(uid):
                return store
        raise unknown_booking(uid)

    def _check_unowned(self, event_type_id: int, store: BookingStore | None) -> None:
        """Event type ids are unique across Cal.com: no account but ``store`` may hold it."""
        for other in self._accounts.values():
            if other is not store and event_type_id in other.event_types:
                raise ValueError(f"event type {event_type_id} belongs to another account")

    def _owner(self, event_type_id: int) -> BookingStore:
        for store in self._accounts.values():
            if event_type_id in store.event_types:
                return store
        raise unknown_event_type(event_type_id)

    def _on_cal_side(self, action: Callable[[], _T]) -> _T:
        with self._lock:
            try:
                return action()
            except ApiError as error:
                if error.status == 404:
                    raise KeyError(error.message) from None
                raise ValueError(error.message) from None

    async def _exchange(self, request: WireRequest) -> Exchange:
        """Apply the first matching fault around the API's answer to ``request``."""
        with self._lock:
            fault = self._faults.take(request.method, request.path)
            account = self._api.account(request)
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    json=request.json_body(),
                    headers={k: v for k, v in request.headers.items() if k != "authorization"},
                    fault=fault.kind if fault else None,
                    username=account.host.username if account is not None else None,
                )
            )
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        if fault is None:
            with self._lock:
                return Exchange(self._api.handle(request))
        kind = fault.kind
        if kind is FaultKind.DELAY:
            await asyncio.sleep(fault.delay_seconds)
        if kind in _DISRUPTED_BEFORE:
            return Exchange(None, _DISRUPTED_BEFORE[kind])
        if kind is FaultKind.SERVER_ERROR:
            return Exchange(self._server_error(request, fault))
        if kind is FaultKind.RATE_LIMITED:
            return Exchange(self._rate_limited(request, fault))
        with self._lock:
            response = self._api.handle(request)
        if kind in _DISRUPTED_AFTER:
            return Exchange(response, _DISRUPTED_AFTER[kind])
        if kind is FaultKind.SERVER_ERROR_AFTER_COMMIT:
            return Exchange(self._server_error(request, fault))
        if kind is FaultKind.MALFORMED_JSON:
            return Exchange(attrs.evolve(response, body=response.body[: len(response.body) // 2]))
        return Exchange(response)

    def _server_error(self, request: WireRequest, fault: Fault) -> WireResponse:
        with self._lock:
            headers = self._api.limiter.headers(self._api.caller(request), self._clock())
        error = ApiError(fault.status_code, HTTPStatus(fault.status_code).phrase)
        return failure(error, request.url, self._clock()).with_headers(headers)

    def _rate_limited(self, request: WireRequest, fault: Fault) -> WireResponse:
        headers = self._api.limiter.exhausted_headers()
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        error = ApiError(429, "ThrottlerException: Too Many Requests")
        return failure(error, request.url, self._clock()).with_headers(headers)
