"""What only the SQL stores promise: safety across connections and processes, migrations,
URLs and the messages a misconfigured deployment sees."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

from retell_booking_tools.domain import (
    AppointmentStatus,
    Invocation,
    NewAppointment,
    ToolCallBusy,
    ToolCallClaim,
    ToolCallClaimed,
    ToolCallFinished,
    ToolCallKey,
)
from retell_booking_tools.errors import ConfigurationError, RepositoryError, SchemaOutOfDate
from retell_booking_tools.repository import (
    PostgresRepository,
    Repository,
    SqliteRepository,
    database_revision,
    open_repository,
    upgrade_database,
)
from retell_booking_tools.repository.factory import alembic_config, head_revision
from retell_booking_tools.repository.locks import NamedLocks
from retell_booking_tools.repository.postgres import advisory_key, claim_lock_name, postgres_url
from retell_booking_tools.repository.schema import metadata
from retell_booking_tools.repository.sqlite import sqlite_url

if TYPE_CHECKING:
    from conftest import Database, Databases

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TEN = datetime(2025, 10, 10, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
CALLER = "+4915112345678"
OTHER_CALLER = "+4917098765432"


def booking(customer_id: int, uid: str = "uid-1") -> NewAppointment:
    return NewAppointment(
        customer_id=customer_id,
        booking_uid=uid,
        event_type_id=2563193,
        start=TEN,
        end=TEN + timedelta(minutes=30),
        timezone="Europe/Berlin",
    )


async def two_processes(databases: Databases, kind: str) -> tuple[Repository, Repository]:
    """Two independent repositories (engines, pools) on one database, like two servers."""
    database = databases.create(kind)  # type: ignore[arg-type]
    return await databases.open(database), await databases.open(database)


async def claim_once_free(
    repository: Repository, key: ToolCallKey, *, now: datetime, lease: timedelta
) -> ToolCallClaim:
    """Claim like the runner: while busy, ask again shortly (the server ends a closed
    session a moment after the client left). Gives up after five seconds."""
    async with asyncio.timeout(5):
        while True:
            claim = await repository.claim_tool_call(key, now=now, lease=lease)
            if claim != ToolCallBusy():
                return claim
            await asyncio.sleep(0.05)


# Concurrency


@pytest.mark.postgres
async def test_concurrent_adds_of_one_uid_on_one_repository_create_it_once(
    make_repository: Any,
) -> None:
    """Twenty simultaneous adds over pooled connections: one creates, all see the same row."""
    repository = await make_repository("postgres")
    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)

    results = await asyncio.gather(
        *(repository.add_appointment(booking(customer.id)) for _ in range(20))
    )

    assert sum(created for _, created in results) == 1
    assert len({appointment.id for appointment, _ in results}) == 1


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_concurrent_adds_of_one_uid_from_two_processes_create_it_once(
    databases: Databases, kind: str
) -> None:
    """The uniqueness of ``booking_uid`` is the database's, not one process's."""
    first, second = await two_processes(databases, kind)
    customer = await first.upsert_customer(name="Max", phone=CALLER, email=None)

    results = await asyncio.gather(
        *(repo.add_appointment(booking(customer.id)) for repo in [first, second] * 10)
    )

    assert sum(created for _, created in results) == 1
    assert len({appointment.id for appointment, _ in results}) == 1


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_concurrent_claims_of_one_tool_call_have_exactly_one_owner(
    databases: Databases, kind: str
) -> None:
    """Twenty deliveries of one function call at once: one owns it, the rest hear busy."""
    first, second = await two_processes(databases, kind)
    key = ToolCallKey("call_1", "collect_appointment_data", "d1")

    claims = await asyncio.gather(
        *(
            repo.claim_tool_call(key, now=TEN, lease=timedelta(seconds=30))
            for repo in [first, second] * 10
        )
    )

    assert claims.count(ToolCallClaimed(resumed=False)) == 1
    assert claims.count(ToolCallBusy()) == 19


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_concurrent_deliveries_of_a_new_invocation_have_exactly_one_owner(
    databases: Databases, kind: str
) -> None:
    """After a finished invocation, twenty deliveries of a new one from two processes: one
    claims the next ``seq``, the others hear busy about that same invocation."""
    first, second = await two_processes(databases, kind)
    key = ToolCallKey("call_1", "find_appointments", "d1")
    lease = timedelta(seconds=30)
    await first.claim_invocation(key, Invocation(tool_call_id="tc_1"), now=TEN, lease=lease)
    await first.finish_tool_call(key, {"status": "none"}, now=TEN)
    new = Invocation(tool_call_id="tc_2", repeats=frozenset({"tc_2"}))

    claims = await asyncio.gather(
        *(repo.claim_invocation(key, new, now=TEN, lease=lease) for repo in [first, second] * 10)
    )

    owners = [resolved for resolved, claim in claims if isinstance(claim, ToolCallClaimed)]
    assert owners == [ToolCallKey(key.call_id, key.tool, key.args_digest, seq=1)]
    assert all(claim == ToolCallBusy() for _, claim in claims if claim != ToolCallClaimed())
    assert {resolved for resolved, _ in claims} == set(owners)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_concurrent_takeovers_of_an_expired_claim_have_exactly_one_owner(
    databases: Databases, kind: str
) -> None:
    """The conditional UPDATE lets one later delivery resume a stale claim, not several."""
    first, second = await two_processes(databases, kind)
    key = ToolCallKey("call_1", "collect_appointment_data", "d1")
    lease = timedelta(seconds=30)
    await first.claim_tool_call(key, now=TEN, lease=lease)

    claims = await asyncio.gather(
        *(
            repo.claim_tool_call(key, now=TEN + 2 * lease, lease=lease)
            for repo in [first, second] * 10
        )
    )

    assert claims.count(ToolCallClaimed(resumed=True)) == 1
    assert claims.count(ToolCallBusy()) == 19


@pytest.mark.postgres
async def test_a_claim_whose_owners_session_ended_is_resumed_at_once(
    databases: Databases,
) -> None:
    """Its owner's process is gone: the next delivery resumes it well within the lease."""
    first, second = await two_processes(databases, "postgres")
    key = ToolCallKey("call_1", "collect_appointment_data", "d1")
    lease = timedelta(seconds=60)
    await first.claim_tool_call(key, now=TEN, lease=lease)
    assert await second.claim_tool_call(key, now=TEN, lease=lease) == ToolCallBusy()

    await first.close()  # its sessions end, as when the process is killed

    resumed = await claim_once_free(second, key, now=TEN, lease=lease)
    again = await second.claim_tool_call(key, now=TEN, lease=lease)

    assert resumed == ToolCallClaimed(resumed=True)
    assert again == ToolCallBusy()


@pytest.mark.postgres
async def test_a_later_invocation_whose_owners_session_ended_is_resumed_at_once(
    databases: Databases,
) -> None:
    """The second invocation with the same arguments is owned like the first: resumed once
    its process is gone, and busy for everyone else while it lives."""
    first, second = await two_processes(databases, "postgres")
    key = ToolCallKey("call_1", "collect_appointment_data", "d1")
    lease = timedelta(seconds=60)
    await first.claim_invocation(key, Invocation(tool_call_id="tc_1"), now=TEN, lease=lease)
    await first.finish_tool_call(key, {"status": "booked"}, now=TEN)
    later = Invocation(tool_call_id="tc_2", repeats=frozenset({"tc_2"}))
    running, _ = await first.claim_invocation(key, later, now=TEN, lease=lease)
    busy = await second.claim_invocation(key, later, now=TEN, lease=lease)

    await first.close()  # its sessions end, as when the process is killed

    async with asyncio.timeout(5):
        while True:
            resumed = await second.claim_invocation(key, later, now=TEN, lease=lease)
            if resumed[1] != ToolCallBusy():
                break
            await asyncio.sleep(0.05)

    assert running.seq == 1
    assert busy == (running, ToolCallBusy())
    assert resumed == (running, ToolCallClaimed(resumed=True))


@pytest.mark.postgres
async def test_a_finished_claim_is_replayed_after_its_owners_session_ended(
    databases: Databases,
) -> None:
    """Only unfinished claims are resumed; a finished one keeps its result for good."""
    first, second = await two_processes(databases, "postgres")
    key = ToolCallKey("call_1", "collect_appointment_data", "d1")
    lease = timedelta(seconds=60)
    await first.claim_tool_call(key, now=TEN, lease=lease)
    await first.finish_tool_call(key, {"status": "booked"}, now=TEN)
    await first.close()

    claim = await second.claim_tool_call(key, now=TEN, lease=lease)

    assert claim == ToolCallFinished(result={"status": "booked"})


def _end_session_owning(database: Database, key: ToolCallKey) -> None:
    """What a database restart does to the session that marks ``key`` as owned."""
    import psycopg

    assert database.schema is not None
    lock = advisory_key(database.schema, claim_lock_name(key)) & 0xFFFFFFFFFFFFFFFF
    holder = (
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid = %s::bigint::oid AND objid = %s::bigint::oid"
    )
    with psycopg.connect(database.url, autocommit=True) as connection:
        [(pid,)] = connection.execute(holder, (lock >> 32, lock & 0xFFFFFFFF)).fetchall()
        connection.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


@pytest.mark.postgres
async def test_claims_keep_working_after_the_server_ended_the_claims_session(
    databases: Databases,
) -> None:
    """A restart or failover ends the session: its claims are free, and a new one takes over."""
    database = databases.create("postgres")
    first, second = await databases.open(database), await databases.open(database)
    lease = timedelta(seconds=60)
    running = ToolCallKey("call_1", "collect_appointment_data", "d1")
    await first.claim_tool_call(running, now=TEN, lease=lease)

    _end_session_owning(database, running)

    resumed = await second.claim_tool_call(running, now=TEN, lease=lease)
    later = ToolCallKey("call_2", "collect_appointment_data", "d2")
    claimed = await first.claim_tool_call(later, now=TEN, lease=lease)
    assert resumed == ToolCallClaimed(resumed=True)
    assert claimed == ToolCallClaimed(resumed=False)
    assert await second.claim_tool_call(later, now=TEN, lease=lease) == ToolCallBusy()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_concurrent_upserts_of_one_caller_make_one_customer(
    databases: Databases, kind: str
) -> None:
    """Two servers greeting the same phone at once still agree on one customer."""
    first, second = await two_processes(databases, kind)

    customers = await asyncio.gather(
        *(
            repo.upsert_customer(name="Max", phone=CALLER, email="max@x.de")
            for repo in [first, second] * 10
        )
    )

    assert len({customer.id for customer in customers}) == 1


@pytest.mark.postgres
async def test_the_advisory_lock_excludes_another_process(databases: Databases) -> None:
    """A second repository instance (another server) waits for the first to leave."""
    first, second = await two_processes(databases, "postgres")
    entered = asyncio.Event()

    async def other_process() -> None:
        async with second.lock("slot:a"):
            entered.set()

    async with first.lock("slot:a"):
        task = asyncio.create_task(other_process())
        await asyncio.sleep(0.3)
        assert not entered.is_set()
    await asyncio.wait_for(task, timeout=5)
    assert entered.is_set()


@pytest.mark.postgres
async def test_a_waiter_in_another_process_that_is_cancelled_leaves_the_lock_free(
    databases: Databases,
) -> None:
    """Cancelling a task blocked in ``pg_advisory_lock`` neither takes nor strands the lock."""
    first, second = await two_processes(databases, "postgres")
    entered = asyncio.Event()

    async def other_process() -> None:
        async with second.lock("slot:a"):
            entered.set()

    async with first.lock("slot:a"):
        waiter = asyncio.create_task(other_process())
        await asyncio.sleep(0.3)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert not entered.is_set()

    async with asyncio.timeout(5), second.lock("slot:a"):
        pass
    async with asyncio.timeout(5), first.lock("slot:a"):
        pass


@pytest.mark.postgres
async def test_held_locks_never_starve_critical_sections_of_connections(
    databases: Databases,
) -> None:
    """More locks held at once than the main pool has connections still lets each finish."""
    database = databases.create("postgres")
    repository = PostgresRepository(
        database.url, schema=database.schema, pool_size=2, max_overflow=0, lock_pool_size=8
    )
    try:
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)

        async def critical_section(n: int) -> bool:
            async with repository.lock(f"slot:{n}"):
                await asyncio.sleep(0.05)  # every lock is held before any section ends
                _, created = await repository.add_appointment(booking(customer.id, f"uid-{n}"))
                return created

        async with asyncio.timeout(10):
            results = await asyncio.gather(*(critical_section(n) for n in range(6)))
    finally:
        await repository.close()

    assert all(results)


@pytest.mark.postgres
async def test_the_smallest_pools_still_serve_concurrent_claims_locks_and_writes(
    databases: Databases,
) -> None:
    """``pool_size=1`` (five connections at most) queues work instead of deadlocking."""
    database = databases.create("postgres")
    repository = PostgresRepository.pooled(database.url, schema=database.schema, pool_size=1)
    lease = timedelta(seconds=60)
    try:
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)

        async def tool_call(n: int) -> bool:
            key = ToolCallKey(f"call_{n}", "collect_appointment_data", "d1")
            claim = await repository.claim_tool_call(key, now=TEN, lease=lease)
            async with repository.lock(f"slot:{n % 3}"):
                _, created = await repository.add_appointment(booking(customer.id, f"uid-{n}"))
            await repository.finish_tool_call(key, {"status": "booked"}, now=TEN)
            return claim == ToolCallClaimed(resumed=False) and created

        async with asyncio.timeout(20):
            results = await asyncio.gather(*(tool_call(n) for n in range(12)))
    finally:
        await repository.close()

    assert all(results)


@pytest.mark.postgres
async def test_locks_of_stores_in_different_schemas_do_not_collide(
    make_repository: Any,
) -> None:
    """Two stores sharing a server but not a schema do not serialise each other."""
    first = await make_repository("postgres")
    second = await make_repository("postgres")

    async with first.lock("slot:a"), asyncio.timeout(5), second.lock("slot:a"):
        pass


# Instants


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_sql_stores_return_instants_in_utc(make_repository: Any, kind: str) -> None:
    """Whatever zone an instant was given in, it comes back as UTC."""
    repository = await make_repository(kind)
    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    in_new_york = TEN.astimezone(ZoneInfo("America/New_York"))

    appointment, _ = await repository.add_appointment(
        NewAppointment(customer.id, "uid-1", 1, in_new_york, in_new_york, "America/New_York")
    )
    stored = await repository.get_appointment(appointment.id)

    assert stored is not None
    assert stored.start == TEN
    assert stored.start.tzinfo is UTC
    assert stored.created_at.tzinfo is UTC


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_a_naive_datetime_is_refused_not_guessed(make_repository: Any, kind: str) -> None:
    """A naive instant is a programming error; storing it would shift it silently."""
    repository = await make_repository(kind)
    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    naive = datetime(2025, 10, 10, 10, 0)

    with pytest.raises(RepositoryError, match="naive") as raised:
        await repository.add_appointment(NewAppointment(customer.id, "u", 1, naive, naive, "UTC"))

    assert not raised.value.retryable


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_setting_the_status_of_an_unknown_appointment_is_a_key_error(
    make_repository: Any, kind: str
) -> None:
    """The SQL stores fail like the in-memory one on an id that does not exist."""
    repository = await make_repository(kind)

    with pytest.raises(KeyError):
        await repository.set_appointment_status(424242, AppointmentStatus.CANCELLED)


# Files, URLs, migrations


async def test_a_sqlite_file_keeps_its_data_after_reopening(tmp_path: Path) -> None:
    """Closing and opening the same file finds what was stored."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(url)
    repository = await open_repository(url)
    customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    appointment, _ = await repository.add_appointment(booking(customer.id))
    await repository.close()

    reopened = await open_repository(url)
    try:
        assert await reopened.get_appointment_by_uid("uid-1") == appointment
        assert await reopened.get_customer(customer.id) == customer
    finally:
        await reopened.close()


async def test_a_sqlite_file_locked_by_another_process_delays_writes_without_stalling(
    tmp_path: Path,
) -> None:
    """While another process (a CLI command, a backup) holds the write lock, a write waits
    for it off the event loop, other work goes on, and the write then lands once."""
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    repository = await open_repository(url)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await repository.upsert_customer(name="Max", phone=CALLER, email=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock until COMMIT
        write = asyncio.ensure_future(
            repository.upsert_customer(name="Erika", phone=OTHER_CALLER, email=None)
        )
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done()
        assert ticks == 20  # the loop kept running while the write waited
        # Reads go on meanwhile (WAL), on the same connection's queue.
        reader = asyncio.ensure_future(repository.find_customer(phone=CALLER, email=None))
        other.execute("COMMIT")

        erika = await asyncio.wait_for(write, timeout=5)
        max_ = await asyncio.wait_for(reader, timeout=5)
        assert erika.phone == OTHER_CALLER
        assert max_ is not None
        assert max_.name == "Max"
        # Back on the loop: later transactions need no thread and see everything.
        again = await repository.upsert_customer(name="Erika", phone=OTHER_CALLER, email=None)
        assert again.id == erika.id
    finally:
        other.close()
        await repository.close()


async def test_a_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///retell_booking.db`` (the default setting) lands in the current directory."""
    monkeypatch.chdir(tmp_path)
    upgrade_database("sqlite:///relative.db")
    repository = await open_repository("sqlite:///relative.db")
    await repository.close()

    assert (tmp_path / "relative.db").exists()


async def test_an_in_memory_sqlite_store_is_ready_without_an_upgrade() -> None:
    """``sqlite:///:memory:`` cannot be reached by ``db upgrade``, so it is created on open."""
    repository = await open_repository("sqlite:///:memory:")
    try:
        assert isinstance(repository, SqliteRepository)
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
        results = await asyncio.gather(
            *(repository.add_appointment(booking(customer.id)) for _ in range(5))
        )
        assert sum(created for _, created in results) == 1
    finally:
        await repository.close()


async def test_the_memory_url_opens_the_in_memory_store() -> None:
    """``memory://`` needs no migrations and is always current."""
    repository = await open_repository("memory://")

    assert isinstance(repository, Repository)
    assert not isinstance(repository, SqliteRepository | PostgresRepository)
    assert database_revision("memory://") == (head_revision(), head_revision())


@pytest.mark.postgres
@pytest.mark.parametrize("create_new_sqlite", [False, True])
async def test_opening_a_postgres_schema_that_was_not_upgraded_says_to_run_db_upgrade(
    databases: Databases, create_new_sqlite: bool
) -> None:
    """A new, empty PostgreSQL schema is behind, even where a new SQLite file is created."""
    database = databases.create("postgres", upgraded=False)

    with pytest.raises(SchemaOutOfDate) as raised:
        await open_repository(
            database.url, schema=database.schema, create_new_sqlite=create_new_sqlite
        )

    message = str(raised.value)
    assert f"database schema is behind (at none, need {head_revision()})" in message
    assert "run `retell-booking-tools db upgrade`" in message
    assert not raised.value.retryable


async def test_a_new_sqlite_file_is_created_at_head_when_asked(tmp_path: Path) -> None:
    """What serving asks for: the embedded default needs no ``db upgrade``."""
    url = f"sqlite:///{tmp_path / 'new.db'}"

    repository = await open_repository(url, create_new_sqlite=True)
    customer = await repository.upsert_customer(name="Ada", phone="+4915112345678", email=None)

    await repository.close()

    assert customer.id > 0
    assert database_revision(url) == (head_revision(), head_revision())


async def test_a_new_sqlite_file_is_behind_unless_creating_is_asked_for(
    databases: Databases,
) -> None:
    """Commands that only read (``calls show``, ``doctor``) never create a database."""
    database = databases.create("sqlite", upgraded=False)

    with pytest.raises(SchemaOutOfDate, match="at none"):
        await databases.open(database)


async def test_a_sqlite_file_whose_schema_is_behind_still_says_to_run_db_upgrade(
    databases: Databases,
) -> None:
    """Only a new or empty file is created implicitly; one at an older revision is refused."""
    database = databases.create("sqlite", upgraded=False)
    engine = sa.create_engine(database.url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()

    with pytest.raises(SchemaOutOfDate) as raised:
        await open_repository(database.url, create_new_sqlite=True)

    assert f"database schema is behind (at 0001, need {head_revision()})" in str(raised.value)
    assert "run `retell-booking-tools db upgrade`" in str(raised.value)


async def test_a_sqlite_file_holding_other_tables_is_not_migrated_implicitly(
    databases: Databases,
) -> None:
    """A file that is not empty is never written to without ``db upgrade``."""
    database = databases.create("sqlite", upgraded=False)
    engine = sa.create_engine(database.url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE someone_elses (id INTEGER)"))
    engine.dispose()

    with pytest.raises(SchemaOutOfDate):
        await open_repository(database.url, create_new_sqlite=True)

    assert database_revision(database.url)[0] is None


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_a_schema_recording_two_revisions_is_refused_naming_both(
    databases: Databases, kind: str
) -> None:
    """Linear migrations write one row; two are named, not taken for either."""
    database = databases.create(kind)  # type: ignore[arg-type]
    repository = await databases.open(database)
    await repository.run_sync(
        "add a revision",
        lambda conn: conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')")),
    )

    with pytest.raises(SchemaOutOfDate) as raised:
        await databases.open(database)

    assert f"several revisions (0001, {head_revision()})" in str(raised.value)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_check_schema_false_opens_a_database_that_was_not_upgraded(
    databases: Databases, kind: str
) -> None:
    """The CLI's own ``db`` commands must be able to open a database that is behind."""
    database = databases.create(kind, upgraded=False)  # type: ignore[arg-type]

    repository = await databases.open(database, check_schema=False)

    assert isinstance(repository, SqliteRepository | PostgresRepository)


def test_the_head_revision_is_the_newest_migration_script() -> None:
    """Serving reads the head from the package, not the scripts: the two must agree."""
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_database_revision_reports_current_and_head_before_and_after_upgrading(
    databases: Databases, kind: str
) -> None:
    """Empty means ``None``; after ``upgrade_database`` (run twice, harmlessly) it is head."""
    database = databases.create(kind, upgraded=False)  # type: ignore[arg-type]
    head = head_revision()

    before = database_revision(database.url, schema=database.schema)
    upgraded = upgrade_database(database.url, schema=database.schema)
    again = upgrade_database(database.url, schema=database.schema)
    after = database_revision(database.url, schema=database.schema)

    assert before == (None, head)
    assert upgraded == again == head
    assert after == (head, head)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
async def test_upgrading_to_invocations_keeps_stored_tool_calls_as_first_invocations(
    databases: Databases, kind: str
) -> None:
    """A result stored before revision 0003 is still replayed after it; 0003 downgrades too."""
    from alembic import command

    from retell_booking_tools.repository.factory import alembic_config

    database = databases.create(kind, upgraded=False)  # type: ignore[arg-type]
    engine = _sync_engine(database.url, database.schema)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
            connection.execute(
                sa.text(
                    "INSERT INTO tool_calls (call_id, tool, args_digest, claimed_at, "
                    "finished_at, abandoned, result) VALUES ('call_1', 'find_appointments', "
                    "'d1', :at, :at, false, :result)"
                ),
                {"at": TEN, "result": '{"status": "none"}'},
            )
        upgrade_database(database.url, schema=database.schema)
        repository = await databases.open(database)
        key = ToolCallKey("call_1", "find_appointments", "d1")

        replayed = await repository.claim_invocation(key, Invocation(), now=TEN, lease=LEASE)
        later, claim = await repository.claim_invocation(
            key, Invocation(), now=TEN + LEASE, lease=LEASE
        )
        await repository.close()
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
            left = connection.execute(sa.text("SELECT call_id FROM tool_calls")).scalars().all()
    finally:
        engine.dispose()

    assert replayed == (key, ToolCallFinished(result={"status": "none"}))
    assert (later.seq, claim) == (1, ToolCallClaimed(resumed=False))
    assert left == ["call_1"]


def _sync_engine(url: str, schema: str | None) -> sa.Engine:
    if url.startswith("sqlite"):
        return sa.create_engine(sqlite_url(url, driver="pysqlite"), poolclass=NullPool)
    psycopg_url, connect_args = postgres_url(url, schema=schema)
    return sa.create_engine(psycopg_url, connect_args=connect_args, poolclass=NullPool)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_the_migrations_create_exactly_the_tables_of_the_schema_module(
    databases: Databases, kind: str
) -> None:
    """Alembic's autogenerate finds nothing to add: migration and ``schema.py`` agree."""
    database = databases.create(kind)  # type: ignore[arg-type]
    engine = _sync_engine(database.url, database.schema)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()

    assert differences == []


@pytest.mark.postgres
async def test_a_schema_in_the_url_options_works_like_the_schema_argument(
    databases: Databases,
) -> None:
    """``?options=-csearch_path%3D<schema>`` selects the same schema as ``schema=``."""
    database = databases.create("postgres")
    url = f"{database.url}?options=-csearch_path%3D{database.schema}"

    repository = await open_repository(url)
    try:
        customer = await repository.upsert_customer(name="Max", phone=CALLER, email=None)
    finally:
        await repository.close()

    by_argument = await databases.open(database)
    assert await by_argument.get_customer(customer.id) == customer


# Constraints: the invariants hold for SQL that bypasses the repository


_CUSTOMER = (
    "INSERT INTO customers (id, name, phone, created_at) "
    "VALUES (1, 'Max', '+4915112345678', '2025-10-08 20:21:00')"
)
_APPOINTMENT = (
    "INSERT INTO appointments (id, customer_id, booking_uid, event_type_id, start_at, end_at, "
    "timezone, status, created_at) VALUES ({id}, 1, 'uid-1', 2563193, '2025-10-10 09:00:00', "
    "'2025-10-10 10:00:00', 'Europe/Berlin', 'active', '2025-10-08 20:21:00')"
)
_LINK = (
    "INSERT INTO call_appointment_links (call_id, appointment_id, relationship, linked_at, "
    "metadata) VALUES ('call_1', 1, 'original', '{at}', '{{}}')"
)
_TOOL_CALL = (
    "INSERT INTO tool_calls (call_id, tool, args_digest, claimed_at, abandoned) "
    "VALUES ('call_1', 'collect_appointment_data', 'd1', '{at}', {abandoned})"
)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
@pytest.mark.parametrize(
    ("rows", "duplicate"),
    [
        pytest.param(
            [_CUSTOMER, _APPOINTMENT.format(id=1)],
            _APPOINTMENT.format(id=2),
            id="one-appointment-per-booking-uid",
        ),
        pytest.param(
            [_CUSTOMER, _APPOINTMENT.format(id=1), _LINK.format(at="2025-10-08 20:21:00")],
            _LINK.format(at="2025-10-09 08:00:00"),
            id="one-link-per-call-appointment-relationship",
        ),
        pytest.param(
            [_TOOL_CALL.format(at="2025-10-08 20:21:00", abandoned="false")],
            _TOOL_CALL.format(at="2025-10-09 08:00:00", abandoned="true"),
            id="one-tool-call-per-call-tool-digest",
        ),
    ],
)
def test_the_migrated_database_itself_refuses_a_duplicate(
    databases: Databases, kind: str, rows: list[str], duplicate: str
) -> None:
    """Raw SQL that skips every Python check still cannot store a second row for one key."""
    database = databases.create(kind)  # type: ignore[arg-type]
    engine = _sync_engine(database.url, database.schema)
    try:
        with engine.begin() as connection:
            for row in rows:
                connection.execute(sa.text(row))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(sa.text(duplicate))
    finally:
        engine.dispose()


# Misconfiguration


@pytest.mark.parametrize(
    "url", ["mysql://admin:s3cret-pw@db.example/booking", "retell.db", "http://x:s3cret-pw@y/z"]
)
async def test_an_unknown_url_scheme_names_the_setting_and_hides_the_password(url: str) -> None:
    """The operator learns which variable to fix, and the log learns no password."""
    with pytest.raises(ConfigurationError) as raised:
        await open_repository(url)

    assert "RETELL_BOOKING_DATABASE_URL" in str(raised.value)
    assert "s3cret-pw" not in str(raised.value)


def test_a_schema_is_refused_for_sqlite() -> None:
    """Only PostgreSQL has schemas; a schema with SQLite is a configuration mistake."""
    with pytest.raises(ConfigurationError, match="PostgreSQL only"):
        upgrade_database("sqlite:///:memory:", schema="elsewhere")


def test_a_schema_name_that_is_not_a_plain_identifier_is_refused() -> None:
    """The schema goes into connection options, so only plain names are accepted."""
    with pytest.raises(ConfigurationError, match="schema name"):
        PostgresRepository("postgresql://u@h/db", schema="x -cstatement_timeout=1")


async def test_an_unreachable_postgres_error_hides_the_password() -> None:
    """Connection failures are RepositoryErrors that can be retried and do not leak secrets."""
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test"

    with pytest.raises(RepositoryError) as raised:
        await open_repository(url)

    assert "s3cret-pw" not in str(raised.value)
    assert raised.value.retryable
    with pytest.raises(RepositoryError) as raised_sync:
        database_revision(url)
    assert "s3cret-pw" not in str(raised_sync.value)


def test_a_repository_repr_hides_the_password() -> None:
    """Reprs end up in logs and tracebacks."""
    repository = PostgresRepository("postgres://postgres:s3cret-pw@127.0.0.1/test")

    assert "s3cret-pw" not in repr(repository)
    assert "***" in repr(repository)


_WITHOUT_PSYCOPG = """
import importlib.util, sys, types

sys.modules["psycopg"] = None  # as if the `postgres` extra were not installed
# Skip the top-level package's own imports: this checks the repository package alone.
package = types.ModuleType("retell_booking_tools")
package.__path__ = importlib.util.find_spec("retell_booking_tools").submodule_search_locations
sys.modules["retell_booking_tools"] = package

from retell_booking_tools.errors import ConfigurationError
from retell_booking_tools.repository import PostgresRepository, SqliteRepository

SqliteRepository("sqlite:///:memory:")
try:
    PostgresRepository("postgresql://postgres@127.0.0.1/test")
except ConfigurationError as error:
    assert "retell-booking-tools[postgres]" in str(error), error
else:
    raise AssertionError("PostgresRepository worked without psycopg")
"""


def test_the_repository_package_works_without_psycopg_until_postgres_is_used() -> None:
    """psycopg is the optional ``postgres`` extra: SQLite users must not need it."""
    subprocess.run([sys.executable, "-c", _WITHOUT_PSYCOPG], check=True)


async def test_named_locks_exclude_per_name_and_forget_every_name_released() -> None:
    """A lock per slot booked would grow a long-running server by one lock per booking."""
    locks = NamedLocks()
    order: list[str] = []

    async def hold(name: str, tag: str, seconds: float) -> None:
        async with locks.hold(name):
            order.append(f"{tag} in")
            await asyncio.sleep(seconds)
            order.append(f"{tag} out")

    await asyncio.gather(hold("a", "first", 0.02), hold("a", "second", 0), hold("b", "other", 0))
    for index in range(1000):
        async with locks.hold(f"slot:{index}"):
            pass
    with pytest.raises(RuntimeError):
        async with locks.hold("failing"):
            raise RuntimeError("inside")

    assert order.index("first out") < order.index("second in")
    assert order.index("other in") < order.index("first out")
    assert len(locks) == 0
