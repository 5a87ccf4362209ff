"""The Redis client that replicas share state through (``RETELL_BOOKING_REDIS_URL``).

One place imports the optional ``redis`` extra and says how to install it when missing.
"""

from __future__ import annotations

from typing import Any


def redis_client(url: str) -> Any:
    """An asyncio Redis client for ``url``; ImportError naming the extra when it is absent."""
    try:
        import redis.asyncio as redis
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "RETELL_BOOKING_REDIS_URL needs the redis extra: "
            "pip install 'retell-booking-tools[redis]'"
        ) from exc
    return redis.Redis.from_url(url)
