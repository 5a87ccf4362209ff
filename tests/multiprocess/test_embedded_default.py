"""The embedded default just works: ``serve`` on a SQLite file that does not exist yet."""

from __future__ import annotations

from pathlib import Path

from replicas import Replica, replica_environment

from retell_booking_tools.repository import database_revision
from retell_booking_tools.repository.factory import head_revision


async def test_serve_on_a_new_sqlite_file_creates_the_schema_and_answers(tmp_path: Path) -> None:
    """No ``db upgrade`` first: the server starts, answers, and the file is at head."""
    url = f"sqlite:///{tmp_path / 'new' / 'booking.db'}"
    (tmp_path / "new").mkdir()
    env = replica_environment(
        database_url=url,
        calcom_url="http://127.0.0.1:9",
        calcom_key="cal_x",
        retell_key="retell_x",
        event_type_id=1,
    )
    replica = Replica.start("embedded", env, tmp_path, workers=1)
    try:
        await replica.wait_healthy()
    finally:
        replica.kill()

    assert "schema is behind" not in replica.output()
    assert database_revision(url) == (head_revision(), head_revision())
