"""Initial schema: customers, appointments, calls, call-appointment links, tool calls.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Portable across SQLite and PostgreSQL: ``DateTime(timezone=True)`` is ``timestamptz`` on
PostgreSQL and text on SQLite; JSON is ``jsonb`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    instant = sa.DateTime(timezone=True)
    document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("created_at", instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("phone", name="uq_customers_phone"),
    )
    op.create_index(
        "ix_customers_email_phoneless",
        "customers",
        ["email"],
        unique=True,
        sqlite_where=sa.text("phone IS NULL"),
        postgresql_where=sa.text("phone IS NULL"),
    )

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("booking_uid", sa.Text(), nullable=False),
        sa.Column("event_type_id", sa.BigInteger(), nullable=False),
        sa.Column("start_at", instant, nullable=False),
        sa.Column("end_at", instant, nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", instant, nullable=False),
        sa.Column("rescheduled_from_uid", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_appointments_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
        sa.UniqueConstraint("booking_uid", name="uq_appointments_booking_uid"),
    )
    op.create_index(
        "ix_appointments_event_type_id_start_at", "appointments", ["event_type_id", "start_at"]
    )
    op.create_index("ix_appointments_customer_id", "appointments", ["customer_id"])

    op.create_table(
        "calls",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("from_number", sa.Text(), nullable=True),
        sa.Column("to_number", sa.Text(), nullable=True),
        sa.Column("started_at", instant, nullable=True),
        sa.Column("ended_at", instant, nullable=True),
        sa.Column("disconnection_reason", sa.Text(), nullable=True),
        sa.Column("created_at", instant, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_calls_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("call_id", name="pk_calls"),
    )

    op.create_table(
        "call_appointment_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=32), nullable=False),
        sa.Column("linked_at", instant, nullable=False),
        sa.Column("metadata", document, nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name="fk_call_appointment_links_appointment_id_appointments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_appointment_links"),
        sa.UniqueConstraint(
            "call_id",
            "appointment_id",
            "relationship",
            name="uq_call_appointment_links_call_id_appointment_id_relationship",
        ),
    )
    op.create_index(
        "ix_call_appointment_links_appointment_id", "call_appointment_links", ["appointment_id"]
    )

    op.create_table(
        "tool_calls",
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("tool", sa.Text(), nullable=False),
        sa.Column("args_digest", sa.Text(), nullable=False),
        sa.Column("claimed_at", instant, nullable=False),
        sa.Column("finished_at", instant, nullable=True),
        sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("result", document, nullable=True),
        sa.PrimaryKeyConstraint("call_id", "tool", "args_digest", name="pk_tool_calls"),
    )


def downgrade() -> None:
    op.drop_table("tool_calls")
    op.drop_index("ix_call_appointment_links_appointment_id", "call_appointment_links")
    op.drop_table("call_appointment_links")
    op.drop_table("calls")
    op.drop_index("ix_appointments_customer_id", "appointments")
    op.drop_index("ix_appointments_event_type_id_start_at", "appointments")
    op.drop_table("appointments")
    op.drop_index("ix_customers_email_phoneless", "customers")
    op.drop_table("customers")
