"""Cal.com's API-key throttle: a budget of requests per rolling minute, told in headers."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


class RateLimiter:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the rate limit must allow at least one request a minute")
        self.limit = limit
        self._seen: defaultdict[str, deque[datetime]] = defaultdict(deque)

    def admit(self, key: str, now: datetime) -> tuple[bool, dict[str, str]]:
        """Count a request if the budget allows; answers whether it did, and the headers."""
        seen = self._forget_old(key, now)
        admitted = len(seen) < self.limit
        if admitted:
            seen.append(now)
        return admitted, self._headers(seen, now)

    def headers(self, key: str, now: datetime) -> dict[str, str]:
        return self._headers(self._forget_old(key, now), now)

    def exhausted_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit-Default": str(self.limit),
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": str(int(WINDOW.total_seconds())),
        }

    def _forget_old(self, key: str, now: datetime) -> deque[datetime]:
        # Requests arrive in time order: the old ones are at the left end.
        recent = self._seen[key]
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        return recent

    def _headers(self, seen: deque[datetime], now: datetime) -> dict[str, str]:
        reset = (seen[0] + WINDOW - now).total_seconds() if seen else WINDOW.total_seconds()
        return {
            "X-RateLimit-Limit-Default": str(self.limit),
            "X-RateLimit-Remaining-Default": str(max(self.limit - len(seen), 0)),
            "X-RateLimit-Reset-Default": str(max(math.ceil(reset), 0)),
        }
