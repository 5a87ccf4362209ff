"""Businesses: customers, appointments and calls belong to one business.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Every row stored before gets the business ``default`` (the deployment without a businesses
file), so an existing store keeps working unchanged as that business. A customer is unique
per business: the phone number and the identity key are unique within a business, not
across businesses, so one number calling two businesses is two customers. A downgrade
drops the business again and fails if one number or identity is held by two businesses.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _business() -> sa.Column[str]:
    return sa.Column("business_id", sa.Text(), nullable=False, server_default=sa.text("'default'"))


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(_business())
        batch.drop_constraint("uq_customers_phone", type_="unique")
        batch.drop_constraint("uq_customers_identity_key", type_="unique")
        batch.create_unique_constraint("uq_customers_business_id_phone", ["business_id", "phone"])
        batch.create_unique_constraint(
            "uq_customers_business_id_identity_key", ["business_id", "identity_key"]
        )
    # A plain ADD COLUMN: rebuilding these tables on SQLite would lose their expression
    # indexes (0006).
    op.add_column("appointments", _business())
    op.add_column("calls", _business())


def downgrade() -> None:
    # SQLite has dropped columns in place since 3.35; no table rebuild, indexes stay.
    op.execute("ALTER TABLE calls DROP COLUMN business_id")
    op.execute("ALTER TABLE appointments DROP COLUMN business_id")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("uq_customers_business_id_identity_key", type_="unique")
        batch.drop_constraint("uq_customers_business_id_phone", type_="unique")
        batch.drop_column("business_id")
        batch.create_unique_constraint("uq_customers_identity_key", ["identity_key"])
        batch.create_unique_constraint("uq_customers_phone", ["phone"])
