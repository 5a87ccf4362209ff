"""A replica started on a PostgreSQL schema that is behind refuses to serve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from replicas import Replica, replica_environment

if TYPE_CHECKING:
    from conftest import Databases

# Server processes each hold a pool of connections: one cluster at a time, on one worker.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("multiprocess")]


def test_a_replica_on_a_schema_that_was_never_upgraded_exits_naming_db_upgrade(
    databases: Databases, tmp_path: Path
) -> None:
    """The operator reads which command fixes it; no request is ever served."""
    database = databases.create("postgres", upgraded=False)
    env = replica_environment(
        database_url=f"{database.url}?options=-csearch_path%3D{database.schema}",
        calcom_url="http://127.0.0.1:9",
        calcom_key="cal_x",
        retell_key="retell_x",
        event_type_id=1,
    )
    replica = Replica.start("behind", env, tmp_path)
    try:
        code = replica.process.wait(timeout=60)
    finally:
        replica.kill()

    assert code != 0
    assert "database schema is behind" in replica.output()
    assert "run `retell-booking-tools db upgrade`" in replica.output()
