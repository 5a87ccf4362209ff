"""Signing in to the console: passwords, signed session cookies and a throttle on failures.

A session is a cookie signed with a key derived from the global console password (so every
replica accepts it, and changing the password ends every session). It carries when it was
last used; a session idle for :data:`IDLE_TIMEOUT` is refused, and each page a signed-in
person opens signs it anew. What a session may see is its :class:`Access`: today every
password sees everything; a business's own password (``console_password_env`` in a
businesses file) would sign in with ``Access(business_id=...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from retell_booking_tools.clock import Clock

__all__ = [
    "IDLE_TIMEOUT",
    "Access",
    "Credential",
    "LoginThrottle",
    "SessionCodec",
    "match_password",
]

IDLE_TIMEOUT = timedelta(hours=8)
FAILURE_WINDOW = timedelta(minutes=5)
MAX_FAILURES = 5
"""More failures than this from one address within the window are answered 429."""


@attrs.frozen
class Access:
    """What a signed-in person may see: every business (``None``) or one business's calls."""

    business_id: str | None = None


@attrs.frozen
class Credential:
    """A console password and the access it grants; the password never prints."""

    password: str = attrs.field(repr=False)
    access: Access = Access()


def match_password(given: str, credentials: Sequence[Credential]) -> Access | None:
    """The access of the credential whose password is ``given``, compared in constant time.

    Every credential is compared, so the time taken does not tell which one matched.
    """
    found: Access | None = None
    given_bytes = given.encode()
    for credential in credentials:
        if hmac.compare_digest(given_bytes, credential.password.encode()) and found is None:
            found = credential.access
    return found


@attrs.frozen
class Session:
    """One signed-in browser: its random id (to end it) and its access."""

    session_id: str
    access: Access


class SessionCodec:
    """Signs sessions into cookie values and reads them back, refusing idle or forged ones.

    Sessions ended by :meth:`end` are refused by this process until they would have expired.
    """

    def __init__(self, password: str, *, clock: Clock) -> None:
        key = hmac.new(password.encode(), b"retell-booking-tools console session", hashlib.sha256)

        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        self._serializer = URLSafeTimedSerializer(
            key.hexdigest(), salt="console-session", signer=_ClockSigner
        )
        self._clock = clock
        self._ended: dict[str, datetime] = {}

    def new(self, access: Access) -> Session:
        return Session(session_id=secrets.token_urlsafe(16), access=access)

    def dumps(self, session: Session) -> str:
        """The cookie value, stamped now: the idle timeout counts from here."""
        payload = {"sid": session.session_id, "business": session.access.business_id}
        return str(self._serializer.dumps(payload))

    def loads(self, value: str | None) -> Session | None:
        """The session the cookie holds, or None when absent, forged, idle too long or ended."""
        if not value:
            return None
        try:
            payload = self._serializer.loads(value, max_age=int(IDLE_TIMEOUT.total_seconds()))
        except BadSignature:  # forged, or idle too long (SignatureExpired is a BadSignature)
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("sid"), str):
            return None
        if payload["sid"] in self._ended:
            return None
        business = payload.get("business")
        return Session(
            session_id=payload["sid"],
            access=Access(business_id=business if isinstance(business, str) else None),
        )

    def end(self, session: Session) -> None:
        """Refuse this session from now on (a cookie copied before signing out included)."""
        now = self._clock()
        self._ended = {sid: at for sid, at in self._ended.items() if now - at < IDLE_TIMEOUT}
        self._ended[session.session_id] = now


class LoginThrottle:
    """Counts failed sign-ins per client address within a sliding five-minute window."""

    def __init__(self, *, clock: Clock, max_failures: int = MAX_FAILURES) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, address: str) -> deque[datetime]:
        now = self._clock()
        failures = self._failures.get(address, deque())
        while failures and now - failures[0] >= FAILURE_WINDOW:
            failures.popleft()
        if failures:
            self._failures[address] = failures
        else:
            self._failures.pop(address, None)
        return failures

    def blocked(self, address: str) -> bool:
        """Whether this address has failed more than allowed within the window."""
        return len(self._recent(address)) > self._max_failures

    def fail(self, address: str) -> bool:
        """Count a failure; True when the address is now blocked."""
        failures = self._recent(address)
        failures.append(self._clock())
        self._failures[address] = failures
        if len(self._failures) > 10_000:
            for other in list(self._failures)[:1_000]:
                self._recent(other)
        return len(failures) > self._max_failures

    def retry_after(self, address: str) -> int:
        """Seconds until the address may try again (0 when it may now)."""
        failures = self._recent(address)
        if len(failures) <= self._max_failures:
            return 0
        oldest_that_counts = failures[len(failures) - self._max_failures - 1]
        left = FAILURE_WINDOW - (self._clock() - oldest_that_counts)
        return max(1, int(left.total_seconds()) + 1)
