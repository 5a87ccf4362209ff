"""Cal.com's API-key throttle (apps/api/v2/src/lib/throttler-guard.ts): ``limit`` requests
per 60-second window per key; the request over the limit blocks the key for
``block_seconds`` (60). Every answer tells the budget in ``X-RateLimit-*-Default`` headers;
a 429 carries no ``Retry-After``, and during a block the reset header counts down to the
block's end.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs

WINDOW = timedelta(minutes=1)
BLOCK = timedelta(minutes=1)


@attrs.define
class _Bucket:
    window_ends: datetime
    hits: int = 0
    blocked_until: datetime | None = None


class RateLimiter:
    def __init__(self, limit: int, block: timedelta = BLOCK) -> None:
        if limit < 1:
            raise ValueError("the rate limit must allow at least one request a minute")
        self.limit = limit
        self.block = block
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, key: str, now: datetime) -> tuple[bool, dict[str, str]]:
        """Count a request if the budget allows; answers whether it did, and the headers."""
        bucket = self._bucket(key, now)
        if bucket.blocked_until is not None:
            return False, self._headers(0, bucket.blocked_until - now)
        bucket.hits += 1
        if bucket.hits > self.limit:
            bucket.blocked_until = now + self.block
            return False, self._headers(0, self.block)
        return True, self._headers(self.limit - bucket.hits, bucket.window_ends - now)

    def headers(self, key: str, now: datetime) -> dict[str, str]:
        bucket = self._bucket(key, now)
        if bucket.blocked_until is not None:
            return self._headers(0, bucket.blocked_until - now)
        return self._headers(max(self.limit - bucket.hits, 0), bucket.window_ends - now)

    def exhausted_headers(self) -> dict[str, str]:
        return self._headers(0, self.block)

    def _bucket(self, key: str, now: datetime) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.blocked_until is not None and now >= bucket.blocked_until:
            bucket = None
        if bucket is not None and bucket.blocked_until is None and now >= bucket.window_ends:
            bucket = None
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(window_ends=now + WINDOW)
        return bucket

    def _headers(self, remaining: int, reset: timedelta) -> dict[str, str]:
        return {
            "X-RateLimit-Limit-Default": str(self.limit),
            "X-RateLimit-Remaining-Default": str(remaining),
            "X-RateLimit-Reset-Default": str(max(math.ceil(reset.total_seconds()), 0)),
        }
