"""The admin's limits on payment plans (maximum installments, smallest installment)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_limits",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("max_installments", sa.Integer(), nullable=False),
        sa.Column("min_installment", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_plan_limits_single_row")),
        sa.CheckConstraint(
            "max_installments BETWEEN 2 AND 60", name=op.f("ck_plan_limits_max_installments_range")
        ),
        sa.CheckConstraint(
            "min_installment > 0", name=op.f("ck_plan_limits_min_installment_positive")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["portal_user.id"],
            name=op.f("fk_plan_limits_updated_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_limits")),
    )


def downgrade() -> None:
    op.drop_table("plan_limits")
