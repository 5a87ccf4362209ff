"""Signature checks that notice a wrong key: one WARNING after a run of signed requests
that all fail, because that is what a ``RETELL_API_KEY`` other than the webhook key of the
Retell account looks like (every request is answered 401 and nothing else is logged).
"""

from __future__ import annotations

import logging
from datetime import datetime

from retell_booking_tools.retell.signature import verify_signature

logger = logging.getLogger(__name__)

WARN_AFTER = 5
"""Consecutive failed signed requests before the warning: a few forged or stale ones pass
silently, a key that never matches does not."""


def masked_key(api_key: str) -> str:
    """Enough of a key to tell which one it is (``key_…7f3a``), never enough to use it."""
    if len(api_key) < 12:
        return "***"
    prefix = api_key[: api_key.index("_") + 1] if "_" in api_key[:8] else ""
    return f"{prefix}…{api_key[-4:]}"


class SignatureWatch:
    """Verifies Retell signatures with one key and warns once per run of failures."""

    def __init__(self, api_key: str, *, warn_after: int = WARN_AFTER) -> None:
        self._api_key = api_key
        self._warn_after = warn_after
        self._failures = 0

    def verify(self, body: bytes, signature: str | None, *, now: datetime | None = None) -> bool:
        """:func:`verify_signature`, counting signed requests that fail in a row.

        Unsigned requests are refused without counting: scanners send those, Retell does not.
        """
        if verify_signature(body, signature, self._api_key, now=now):
            self._failures = 0
            return True
        if signature:
            self._failures += 1
            if self._failures == self._warn_after:
                logger.warning(
                    "%d signed requests in a row failed signature verification with "
                    "RETELL_API_KEY %s: is it the Retell API key marked for webhooks in "
                    "Retell's dashboard (Settings, API keys)? A wrong key answers every "
                    "request 401. (A clock more than 5 minutes off does the same.)",
                    self._failures,
                    masked_key(self._api_key),
                )
        return False
