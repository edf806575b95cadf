"""Late fees charged, the saved late-fee policy, and customers' overdue states

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:34:47.819751
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_overdue",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_overdue_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_overdue")),
    )
    with op.batch_alter_table("customer_overdue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_overdue_state"), ["state"], unique=False)

    op.create_table(
        "late_fee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("item_name", sa.String(length=100), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("written_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_late_fee_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_late_fee_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_late_fee_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_fee")),
        sa.UniqueConstraint("invoice_id", "period", name="uq_late_fee_invoice_period"),
    )
    with op.batch_alter_table("late_fee", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_late_fee_outbox_id"), ["outbox_id"], unique=False)

    op.create_table(
        "late_fee_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("minimum", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cap", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("item_name", sa.String(length=100), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "amount >= 0 AND minimum >= 0", name=op.f("ck_late_fee_policy_amounts_not_negative")
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_late_fee_policy_single_row")),
        sa.CheckConstraint(
            "percent >= 0 AND percent <= 100", name=op.f("ck_late_fee_policy_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["portal_user.id"],
            name=op.f("fk_late_fee_policy_updated_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_late_fee_policy")),
    )


def downgrade() -> None:
    op.drop_table("late_fee_policy")
    with op.batch_alter_table("late_fee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_late_fee_outbox_id"))

    op.drop_table("late_fee")
    with op.batch_alter_table("customer_overdue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_overdue_state"))

    op.drop_table("customer_overdue")
