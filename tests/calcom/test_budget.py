"""One request budget per Cal.com API key, shared by every replica that uses the key."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from retell_booking_tools.calcom.budget import (
    BudgetStore,
    InProcessBudgetStore,
    PostgresBudgetStore,
    RateBudget,
    RedisBudgetStore,
    key_id,
)
from retell_booking_tools.calcom.errors import CalcomBudgetExhausted
from retell_booking_tools.repository.postgres import PostgresRepository

if TYPE_CHECKING:
    from conftest import Databases

API_KEY = "cal_test_budget_key"


class Clock:
    """Seconds that only move when told; ``sleep`` moves them, as time would."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _budget(clock: Clock, **options: Any) -> RateBudget:
    options.setdefault("max_wait", 2.0)
    return RateBudget(api_key=API_KEY, clock=clock, sleep=clock.sleep, **options)


async def _granted(budget: RateBudget, *, write: bool) -> bool:
    try:
        await budget.acquire(write=write)
    except CalcomBudgetExhausted:
        return False
    return True


class TestTheBudgetOfOneProcess:
    """The in-process store, the default without PostgreSQL or Redis."""

    async def test_a_spent_budget_refuses_at_once_instead_of_keeping_the_caller_waiting(
        self,
    ) -> None:
        clock = Clock()
        budget = _budget(clock, limit=3, write_reserve=0)

        granted = [await _granted(budget, write=False) for _ in range(4)]

        assert granted == [True, True, True, False]
        assert clock.slept == []

    async def test_writes_go_before_reads(self) -> None:
        """Reads leave the reserve of each window to writes."""
        clock = Clock()
        budget = _budget(clock, limit=4, write_reserve=1)

        reads = [await _granted(budget, write=False) for _ in range(4)]
        write = await _granted(budget, write=True)

        assert reads == [True, True, True, False]
        assert write is True
        assert await _granted(budget, write=True) is False

    async def test_a_short_wait_is_waited_out(self) -> None:
        """When the oldest request leaves the window within ``max_wait``, it waits."""
        clock = Clock()
        budget = _budget(clock, limit=2, write_reserve=0, window=10.0, max_wait=5.0)
        await budget.acquire(write=False)
        clock.now += 7
        await budget.acquire(write=False)

        await budget.acquire(write=False)

        assert clock.slept == [pytest.approx(3.0)]

    async def test_a_block_cal_com_announced_is_never_sent_into(self) -> None:
        clock = Clock()
        budget = _budget(clock, limit=100)
        await budget.blocked(60.0)

        refused = await _granted(budget, write=True)
        clock.now += 61
        after = await _granted(budget, write=True)

        assert (refused, after) == (False, True)

    async def test_the_key_is_never_stored_only_its_hash(self) -> None:
        store = InProcessBudgetStore()
        await RateBudget(api_key=API_KEY, store=store).acquire(write=False)

        assert API_KEY not in repr(vars(store))
        assert key_id(API_KEY) in repr(vars(store))


async def _race(budgets: list[RateBudget], requests: int) -> int:
    """``requests`` acquisitions spread over ``budgets`` at once; how many were granted."""

    async def one(budget: RateBudget) -> bool:
        return await _granted(budget, write=False)

    results = await asyncio.gather(*(one(budgets[i % len(budgets)]) for i in range(requests)))
    return sum(results)


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_share_one_budget(databases: Databases) -> None:
    """Two stores (two engines, as two processes have) on one database: one budget."""
    database = databases.create("postgres")
    first = await databases.open(database)
    second = await databases.open(database)
    assert isinstance(first, PostgresRepository)
    assert isinstance(second, PostgresRepository)
    clock = Clock()
    budgets = [
        _budget(clock, limit=10, write_reserve=0, store=PostgresBudgetStore(repo.engine))
        for repo in (first, second)
    ]

    granted = await _race(budgets, 30)
    clock.now += 63
    await budgets[1].blocked(60.0)
    blocked = await _granted(budgets[0], write=True)
    clock.now += 61
    after_the_block = await _granted(budgets[0], write=True)

    assert granted == 10
    assert (blocked, after_the_block) == (False, True)


@pytest.fixture(name="redis_url")
def fixture_redis_url() -> Iterator[str]:
    """A throw-away redis-server on a free port, or skip when none is installed."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.asynccontextmanager
async def _redis_budgets(url: str, clock: Clock, count: int) -> AsyncIterator[list[RateBudget]]:
    budgets = [
        _budget(clock, limit=10, write_reserve=2, store=RedisBudgetStore(url)) for _ in range(count)
    ]
    try:
        yield budgets
    finally:
        for budget in budgets:
            await budget.close()


async def test_two_replicas_on_redis_share_one_budget_and_its_blocks(redis_url: str) -> None:
    clock = Clock()
    async with _redis_budgets(redis_url, clock, 2) as budgets:
        reads = await _race(budgets, 30)
        writes = [await _granted(budgets[1], write=True) for _ in range(3)]
        clock.now += 63
        await budgets[0].blocked(60.0)
        blocked = await _granted(budgets[1], write=True)
        clock.now += 61
        after_the_block = await _granted(budgets[1], write=True)

    assert reads == 8
    assert writes == [True, True, False]
    assert (blocked, after_the_block) == (False, True)


@pytest.fixture(
    name="store", params=["process", pytest.param("postgres", marks=pytest.mark.postgres), "redis"]
)
async def fixture_store(
    request: pytest.FixtureRequest, databases: Databases
) -> AsyncIterator[BudgetStore]:
    """Each place a budget can live in."""
    store: BudgetStore
    if request.param == "process":
        store = InProcessBudgetStore()
    elif request.param == "postgres":
        repository = await databases.open(databases.create("postgres"))
        assert isinstance(repository, PostgresRepository)
        store = PostgresBudgetStore(repository.engine)
    else:
        store = RedisBudgetStore(request.getfixturevalue("redis_url"))
    try:
        yield store
    finally:
        await store.close()


async def test_every_store_grants_waits_and_blocks_alike(store: BudgetStore) -> None:
    """Three requests in a ten-second window: the fourth waits for the first to leave it,
    a block is waited out to its end, and a cap of nothing waits a whole window."""

    async def take(now: float, *, cap: int = 3) -> float:
        return await store.take(key_id(API_KEY), now=now, window=10.0, cap=cap, write=True)

    granted = [await take(now) for now in (100.0, 101.0, 103.0)]
    full = await take(104.0)
    after_the_first_left = await take(110.5)
    await store.block(key_id(API_KEY), until=120.0)
    blocked = await take(115.0)
    nothing_allowed = await take(120.5, cap=0)

    assert granted == [0.0, 0.0, 0.0]
    assert full == pytest.approx(6.0)
    assert after_the_first_left == 0.0
    assert blocked == pytest.approx(5.0)
    assert nothing_allowed == pytest.approx(10.0)
