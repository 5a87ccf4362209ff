"""One request budget per Cal.com API key, shared by every process and replica using it.

Cal.com lets an API key make 120 requests a minute; the request over that blocks the key
for 60 seconds (429 without ``Retry-After``; apps/api/v2/src/lib/throttler-guard.ts). So
the budget keeps a sliding log of the key's requests and grants one only while fewer than
``limit`` were made in the last ``window`` seconds (60 s plus a margin for network jitter,
so Cal.com's own window, which starts at its first hit, can never see more). Writes
(create, reschedule, cancel) go before reads: reads leave ``write_reserve`` of each window
to writes.

A request that would have to wait longer than ``max_wait`` is refused at once
(:class:`CalcomBudgetExhausted`), so a tool answers ``error`` honestly instead of keeping a
caller in silence. A 429 that arrives anyway records the block (Cal.com's
``X-RateLimit-Reset-Default``) for every process, and nothing is sent into it.

Where the log lives (:class:`BudgetStore`): PostgreSQL when the store is PostgreSQL
(:class:`PostgresBudgetStore`), Redis when ``RETELL_BOOKING_REDIS_URL`` is set
(:class:`RedisBudgetStore`), the process otherwise (:class:`InProcessBudgetStore`). The key
is stored only as a short hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from retell_booking_tools.calcom.errors import CalcomBudgetExhausted
from retell_booking_tools.repository.schema import calcom_rate_blocks

__all__ = [
    "DEFAULT_LIMIT",
    "WINDOW_SECONDS",
    "BudgetStore",
    "InProcessBudgetStore",
    "PostgresBudgetStore",
    "RateBudget",
    "RedisBudgetStore",
]

DEFAULT_LIMIT: Final = 120
"""Cal.com's limit for API keys, per minute."""
WINDOW_SECONDS: Final = 62.0
"""Cal.com's 60-second window plus a margin for the time a request takes to arrive."""
DEFAULT_BLOCK_SECONDS: Final = 60.0
"""How long Cal.com blocks a key once it went over, when the answer does not say."""


class BudgetStore(Protocol):
    """Where one key's request log and block live; ``take`` is atomic across its users."""

    async def take(self, key: str, *, now: float, window: float, cap: int, write: bool) -> float:
        """Record a request if fewer than ``cap`` were made in the last ``window`` seconds
        and no block is on; returns 0 when recorded, else the seconds until one may be."""

    async def block(self, key: str, *, until: float) -> None:
        """Refuse every request of ``key`` until ``until`` (Unix seconds)."""

    async def close(self) -> None: ...


@attrs.define
class _Log:
    at: deque[float] = attrs.Factory(deque)
    blocked_until: float = 0.0


class InProcessBudgetStore:
    """The log in this process: right for one server process (SQLite or memory stores)."""

    def __init__(self) -> None:
        self._logs: dict[str, _Log] = {}

    async def take(self, key: str, *, now: float, window: float, cap: int, write: bool) -> float:
        log = self._logs.setdefault(key, _Log())
        if log.blocked_until > now:
            return log.blocked_until - now
        while log.at and log.at[0] <= now - window:
            log.at.popleft()
        if len(log.at) < cap:
            log.at.append(now)
            return 0.0
        return _wait_for(sorted(log.at), cap, now, window)

    async def block(self, key: str, *, until: float) -> None:
        log = self._logs.setdefault(key, _Log())
        log.blocked_until = max(log.blocked_until, until)

    async def close(self) -> None:
        return None


def _wait_for(ats: list[float], cap: int, now: float, window: float) -> float:
    """Seconds until fewer than ``cap`` of ``ats`` (sorted) lie within the window."""
    if cap <= 0:
        return window
    freeing = ats[len(ats) - cap]
    return max(freeing + window - now, 0.001)


_TAKE: Final = sa.select(
    sa.func.calcom_budget_take(
        sa.bindparam("key", type_=sa.Text),
        sa.bindparam("now", type_=sa.Float),
        sa.bindparam("window", type_=sa.Float),
        sa.bindparam("cap", type_=sa.Integer),
        sa.bindparam("write", type_=sa.Boolean),
        type_=sa.Float,
    )
)
"""One request against the key's budget (migration 0009), built once."""


class PostgresBudgetStore:
    """The log in the store's PostgreSQL (migration 0005), under a transaction-scoped
    advisory lock per key, so every replica on that database shares one budget.

    A request is granted in one round trip: ``calcom_budget_take`` (migration 0009) takes
    the lock, honours a block, forgets what left the window and records the request, as
    :class:`InProcessBudgetStore` does in the process.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take(self, key: str, *, now: float, window: float, cap: int, write: bool) -> float:
        from retell_booking_tools.repository.postgres import retrying_statement

        parameters = {"key": key, "now": now, "window": window, "cap": cap, "write": write}

        def work(conn: sa.Connection) -> float:
            return float(conn.execute(_TAKE, parameters).scalar_one())

        return await retrying_statement(self._engine, "spend the Cal.com budget", work)

    async def block(self, key: str, *, until: float) -> None:
        from sqlalchemy.dialects import postgresql

        from retell_booking_tools.repository.postgres import retrying_transaction

        statement = postgresql.insert(calcom_rate_blocks).values(key=key, until=until)
        statement = statement.on_conflict_do_update(
            index_elements=[calcom_rate_blocks.c.key],
            set_={"until": sa.func.greatest(calcom_rate_blocks.c.until, statement.excluded.until)},
        )

        def work(conn: sa.Connection) -> None:
            conn.execute(statement)

        await retrying_transaction(self._engine, "block the Cal.com budget", work)

    async def close(self) -> None:
        return None


_TAKE_SCRIPT: Final = """
local log, blocked_key = KEYS[1], KEYS[2]
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', blocked_key) or '0')
if blocked > now then return tostring(blocked - now) end
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local count = redis.call('ZCARD', log)
if count < cap then
  redis.call('ZADD', log, now, ARGV[4])
  redis.call('PEXPIRE', log, math.ceil(window * 1000))
  return '0'
end
if cap <= 0 then return tostring(window) end
local freeing = redis.call('ZRANGE', log, count - cap, count - cap, 'WITHSCORES')
return tostring(math.max(tonumber(freeing[2]) + window - now, 0.001))
"""

_BLOCK_SCRIPT: Final = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', 3600) end
return 1
"""


class RedisBudgetStore:
    """The log in Redis (a sorted set per key, changed by one Lua script per request), for
    replicas that share Redis but not necessarily a database."""

    def __init__(self, url: str, *, prefix: str = "retell-booking:calcom-budget") -> None:
        from retell_booking_tools.shared_redis import redis_client

        self._redis: Any = redis_client(url)
        self._prefix = prefix
        self._take: Any = self._redis.register_script(_TAKE_SCRIPT)
        self._block: Any = self._redis.register_script(_BLOCK_SCRIPT)

    async def take(self, key: str, *, now: float, window: float, cap: int, write: bool) -> float:
        member = f"{now:.6f}:{'w' if write else 'r'}:{secrets.token_hex(4)}"
        answer = await self._take(
            keys=[f"{self._prefix}:{key}:log", f"{self._prefix}:{key}:blocked"],
            args=[repr(now), repr(window), cap, member],
        )
        return float(answer)

    async def block(self, key: str, *, until: float) -> None:
        await self._block(keys=[f"{self._prefix}:{key}:blocked"], args=[repr(until)])

    async def close(self) -> None:
        await self._redis.aclose()


def key_id(api_key: str) -> str:
    """How a key is named in shared stores: a short hash, never the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


class RateBudget:
    """Grants requests of one API key within its budget (see the module docstring)."""

    def __init__(
        self,
        *,
        api_key: str,
        store: BudgetStore | None = None,
        limit: int = DEFAULT_LIMIT,
        window: float = WINDOW_SECONDS,
        write_reserve: int | None = None,
        max_wait: float = 2.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("the rate limit must allow at least one request")
        self._key = key_id(api_key)
        self._store = store or InProcessBudgetStore()
        self.limit = limit
        self._window = window
        self._write_reserve = (
            min(max(limit // 6, 1), limit - 1) if write_reserve is None else write_reserve
        )
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, store={type(self._store).__name__})"

    async def acquire(self, *, write: bool) -> None:
        """Wait for a share of the budget, or raise :class:`CalcomBudgetExhausted` at once
        when it would take longer than ``max_wait``."""
        cap = self.limit if write else self.limit - self._write_reserve
        waited = 0.0
        while True:
            wait = await self._store.take(
                self._key, now=self._clock(), window=self._window, cap=cap, write=write
            )
            if wait <= 0:
                return
            if waited + wait > self._max_wait:
                raise CalcomBudgetExhausted(
                    "the Cal.com API key's request budget is spent for the next "
                    f"{wait:.0f} s; not sent",
                    retry_after=wait,
                )
            await self._sleep(wait)
            waited += wait

    async def blocked(self, seconds: float | None) -> None:
        """Cal.com answered 429: nothing more is sent until the block ends."""
        duration = DEFAULT_BLOCK_SECONDS if seconds is None else seconds
        await self._store.block(self._key, until=self._clock() + duration)

    async def close(self) -> None:
        await self._store.close()
