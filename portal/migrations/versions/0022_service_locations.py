"""Sub-customers (service locations): the parent, billed with it, and the name a customer gives

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_qbo_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("bill_with_parent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("level", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("location_name", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_customer_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_customer_parent_id_customer"),
            "customer",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_customer_parent_id_customer"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_customer_parent_id"))
        batch_op.drop_column("location_name")
        batch_op.drop_column("level")
        batch_op.drop_column("bill_with_parent")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("parent_qbo_id")
