"""Caller identity: trusted identity keys, booking references, reference misses.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01

Customers are matched by one trusted ``identity_key``. Rows keyed by a phone number get
``phone:<E.164>``; rows whose identity came from a spoken email keep every column but no
key, so they stay readable and no longer match any caller (``doctor`` reports them as
``unverified_identity``). The unique index on phone-less emails goes: a trusted email is
now a key of its own. Appointments gain a booking reference (unique; older ones have
none) and the contact data given for that booking.

The email stored on a phone customer was said in some call, never vouched for: it moves
to that customer's appointments as their ``contact_email`` (the booking's contact, which
it was), so it no longer becomes the attendee email of every later booking. A downgrade
does not move it back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_customers_email_phoneless", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("identity_key", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_customers_identity_key", ["identity_key"])
    op.execute(
        "UPDATE customers SET identity_key = 'phone:' || phone "
        "WHERE phone IS NOT NULL AND identity_key IS NULL"
    )
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("booking_reference", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("attendee_name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("contact_email", sa.Text(), nullable=True))
        batch.add_column(sa.Column("contact_phone", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_appointments_booking_reference", ["booking_reference"])
    op.execute(
        "UPDATE appointments SET contact_email = ("
        "SELECT customers.email FROM customers WHERE customers.id = appointments.customer_id"
        ") WHERE contact_email IS NULL AND customer_id IN ("
        "SELECT id FROM customers WHERE phone IS NOT NULL AND email IS NOT NULL)"
    )
    op.execute("UPDATE customers SET email = NULL WHERE phone IS NOT NULL")
    op.create_table(
        "reference_misses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("missed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reference_misses"),
    )
    op.create_index("ix_reference_misses_call_id", "reference_misses", ["call_id"])
    op.create_index(
        "ix_reference_misses_number_missed_at", "reference_misses", ["number", "missed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_reference_misses_number_missed_at", table_name="reference_misses")
    op.drop_index("ix_reference_misses_call_id", table_name="reference_misses")
    op.drop_table("reference_misses")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_constraint("uq_appointments_booking_reference", type_="unique")
        batch.drop_column("contact_phone")
        batch.drop_column("contact_email")
        batch.drop_column("attendee_name")
        batch.drop_column("booking_reference")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("uq_customers_identity_key", type_="unique")
        batch.drop_column("identity_key")
    op.create_index(
        "ix_customers_email_phoneless",
        "customers",
        ["email"],
        unique=True,
        sqlite_where=sa.text("phone IS NULL"),
        postgresql_where=sa.text("phone IS NULL"),
    )
