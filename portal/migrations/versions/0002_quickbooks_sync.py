"""QuickBooks sync: connection, sync state and runs, lease; mirrored payments, credit memos, items

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:42:33.301869
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("qbo_updated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mirrored_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_item")),
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_catalog_item_realm_qbo"),
    )
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lease")),
    )
    op.create_table(
        "qbo_connection",
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=False),
        sa.Column("access_expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("connected_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("needs_reconnect", sa.Boolean(), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("realm_id", name=op.f("pk_qbo_connection")),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "succeeded", "failed", name="run_status", native_enum=False, length=10
            ),
            nullable=False,
        ),
        sa.Column("started_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
    )
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.create_index("ix_sync_run_realm_started", ["realm_id", "started_at"], unique=False)

    op.create_table(
        "sync_state",
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("watermark", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_full_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("full_entity", sa.String(length=20), nullable=True),
        sa.Column("full_position", sa.Integer(), nullable=True),
        sa.Column("full_started_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_requested_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("realm_id", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "credit_memo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("doc_number", sa.String(length=21), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=False),
        sa.Column("total_amt", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("qbo_updated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mirrored_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_credit_memo_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_memo")),
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_credit_memo_realm_qbo"),
    )
    with op.batch_alter_table("credit_memo", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_memo_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "received_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("txn_date", sa.Date(), nullable=False),
        sa.Column("total_amt", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("unapplied_amt", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("qbo_updated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mirrored_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_received_payment_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_payment")),
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_received_payment_realm_qbo"),
    )
    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_received_payment_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "payment_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("txn_type", sa.String(length=20), nullable=False),
        sa.Column("txn_qbo_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["received_payment.id"],
            name=op.f("fk_payment_application_payment_id_received_payment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_application")),
    )
    with op.batch_alter_table("payment_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_application_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_application_txn", ["txn_type", "txn_qbo_id"], unique=False
        )

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("deleted")

    with op.batch_alter_table("payment_application", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_application_txn")
        batch_op.drop_index(batch_op.f("ix_payment_application_payment_id"))

    op.drop_table("payment_application")
    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_payment_customer_id"))

    op.drop_table("received_payment")
    with op.batch_alter_table("credit_memo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_memo_customer_id"))

    op.drop_table("credit_memo")
    op.drop_table("sync_state")
    with op.batch_alter_table("sync_run", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_run_realm_started")

    op.drop_table("sync_run")
    op.drop_table("qbo_connection")
    op.drop_table("lease")
    op.drop_table("catalog_item")
