"""foundation: mirrored customers and invoices, portal users, mail outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:29:12.173480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=500), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("bill_line1", sa.String(length=500), nullable=True),
        sa.Column("bill_city", sa.String(length=255), nullable=True),
        sa.Column("bill_region", sa.String(length=255), nullable=True),
        sa.Column("bill_postal_code", sa.String(length=30), nullable=True),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("qbo_updated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mirrored_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_customer_realm_qbo"),
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_failure_account", ["account_key", "created_at"], unique=False
        )
        batch_op.create_index("ix_login_failure_address", ["address", "created_at"], unique=False)

    op.create_table(
        "outbound_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "sent", "parked", name="mail_status", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_email")),
    )
    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.create_index("ix_outbound_email_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("qbo_id", sa.String(length=32), nullable=False),
        sa.Column("sync_token", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("doc_number", sa.String(length=21), nullable=True),
        sa.Column("txn_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("total_amt", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("email_status", sa.String(length=20), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("qbo_updated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mirrored_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_invoice_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_invoice_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("realm_id", "qbo_id", name="uq_invoice_realm_qbo"),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_customer_due", ["customer_id", "due_date"], unique=False)

    op.create_table(
        "portal_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("username_key", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "customer", "bookkeeper", "admin", name="portal_role", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role <> 'customer' OR customer_id IS NOT NULL",
            name=op.f("ck_portal_user_customer_has_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_portal_user_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_user")),
        sa.UniqueConstraint("email_key", name=op.f("uq_portal_user_email_key")),
        sa.UniqueConstraint("session_token", name=op.f("uq_portal_user_session_token")),
        sa.UniqueConstraint("username_key", name=op.f("uq_portal_user_username_key")),
    )
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_user_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "account_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("reset", "invite", name="token_purpose", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_account_token_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_account_token_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_token_token_hash")),
    )
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("qbo_line_id", sa.String(length=32), nullable=True),
        sa.Column("detail_type", sa.String(length=40), nullable=False),
        sa.Column("item_ref", sa.String(length=32), nullable=True),
        sa.Column("item_name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("qty", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_invoice_line_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line")),
        sa.UniqueConstraint("invoice_id", "position", name="uq_invoice_line_pos"),
    )
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_password_history_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_history_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_history_user_id"))

    op.drop_table("password_history")
    op.drop_table("invoice_line")
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_token_user_id"))

    op.drop_table("account_token")
    with op.batch_alter_table("portal_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_user_customer_id"))

    op.drop_table("portal_user")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_customer_due")

    op.drop_table("invoice")
    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_email_due")

    op.drop_table("outbound_email")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_address")
        batch_op.drop_index("ix_login_failure_account")

    op.drop_table("login_failure")
    op.drop_table("customer")
