"""Portal payments with frozen allocations, saved methods, and the QuickBooks outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:08:06.527288
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "done", "parked", name="outbox_status", native_enum=False, length=10
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "saved_method",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("gateway_customer_profile_id", sa.String(length=40), nullable=False),
        sa.Column("gateway_payment_profile_id", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("card", "bank", name="method_kind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("brand", sa.String(length=30), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("expiry", sa.String(length=7), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_saved_method_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_method")),
        sa.UniqueConstraint(
            "gateway_payment_profile_id", name=op.f("uq_saved_method_gateway_payment_profile_id")
        ),
    )
    with op.batch_alter_table("saved_method", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saved_method_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "portal_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("gateway_key", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "init",
                "pending",
                "succeeded",
                "declined",
                "unknown",
                name="payment_state",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column(
            "method_kind",
            sa.Enum("card", "bank", name="method_kind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("saved_method_id", sa.Integer(), nullable=True),
        sa.Column("save_method", sa.Boolean(), nullable=False),
        sa.Column("gateway_trans_id", sa.String(length=40), nullable=True),
        sa.Column("auth_code", sa.String(length=12), nullable=True),
        sa.Column("account_last4", sa.String(length=4), nullable=True),
        sa.Column("account_type", sa.String(length=30), nullable=True),
        sa.Column("decline_reason", sa.String(length=300), nullable=True),
        sa.Column("qbo_payment_id", sa.String(length=32), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("charged_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("total > 0", name=op.f("ck_portal_payment_total_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_portal_payment_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["saved_method_id"],
            ["saved_method.id"],
            name=op.f("fk_portal_payment_saved_method_id_saved_method"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_portal_payment_user_id_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_payment")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_payment_idempotency"),
        sa.UniqueConstraint("gateway_key", name=op.f("uq_portal_payment_gateway_key")),
    )
    with op.batch_alter_table("portal_payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_payment_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "payment_allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_qbo_id", sa.String(length=32), nullable=False),
        sa.Column("doc_number", sa.String(length=21), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_allocation_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_payment_allocation_invoice_id_invoice"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["portal_payment.id"],
            name=op.f("fk_payment_allocation_payment_id_portal_payment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocation")),
        sa.UniqueConstraint("payment_id", "invoice_id", name="uq_allocation_invoice"),
    )
    with op.batch_alter_table("payment_allocation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_allocation_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_allocation_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_allocation_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_allocation_invoice_id"))

    op.drop_table("payment_allocation")
    with op.batch_alter_table("portal_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_payment_customer_id"))

    op.drop_table("portal_payment")
    with op.batch_alter_table("saved_method", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_method_customer_id"))

    op.drop_table("saved_method")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
