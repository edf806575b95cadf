"""Replayed QuickBooks webhooks are recognised; a payment attempt keeps its client address

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 19:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipt")),
        sa.UniqueConstraint("digest", name=op.f("uq_webhook_receipt_digest")),
    )
    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_receipt_received_at"), ["received_at"], unique=False
        )

    with op.batch_alter_table("portal_payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_address", sa.String(length=45), nullable=True))
        batch_op.create_index(
            "ix_portal_payment_address_created", ["client_address", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_payment_address_created")
        batch_op.drop_column("client_address")

    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_receipt_received_at"))

    op.drop_table("webhook_receipt")
