"""The Cal.com budget spent in one round trip on PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

``calcom_budget_take(key, now, window, cap, write)`` does what
``retell_booking_tools.calcom.budget.PostgresBudgetStore`` did in a transaction of five
statements, for every request to Cal.com: take the key's advisory lock, honour a block,
forget requests older than the window, and record this one if fewer than ``cap`` remain,
else answer the seconds until one may be. It holds the same transaction-scoped advisory lock
(``hashtext('calcom-budget:' || key)``), so replicas of either version share one budget
while they are upgraded one by one. Each statement after the lock reads afresh (a volatile
function under READ COMMITTED), so it sees every request recorded by the holder before.

SQLite keeps its budget in the process and gets nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "calcom_budget_take(text, double precision, double precision, integer, boolean)"

_CREATE = """
CREATE FUNCTION calcom_budget_take(
    budget_key text,
    now_at double precision,
    window_seconds double precision,
    cap integer,
    is_write boolean
) RETURNS double precision
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    blocked double precision;
    recorded integer;
    freeing double precision;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('calcom-budget:' || budget_key));
    SELECT b.until INTO blocked FROM calcom_rate_blocks b WHERE b.key = budget_key;
    IF blocked IS NOT NULL AND blocked > now_at THEN
        RETURN blocked - now_at;
    END IF;
    DELETE FROM calcom_rate_budget r
    WHERE r.key = budget_key AND r.at <= now_at - window_seconds;
    SELECT count(*) INTO recorded FROM calcom_rate_budget r WHERE r.key = budget_key;
    IF recorded < cap THEN
        INSERT INTO calcom_rate_budget (key, at, write) VALUES (budget_key, now_at, is_write);
        RETURN 0;
    END IF;
    IF cap <= 0 THEN
        RETURN window_seconds;
    END IF;
    SELECT r.at INTO freeing FROM calcom_rate_budget r
    WHERE r.key = budget_key ORDER BY r.at OFFSET recorded - cap LIMIT 1;
    RETURN greatest(freeing + window_seconds - now_at, 0.001);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_SIGNATURE}")
