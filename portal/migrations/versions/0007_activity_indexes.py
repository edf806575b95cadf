"""Indexes for the dashboard: invoices and payments by customer and date

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:46:25.669257
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_customer_txn", ["customer_id", "txn_date"], unique=False)

    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_received_payment_customer_txn", ["customer_id", "txn_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_received_payment_customer_txn")

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_customer_txn")
