"""Customer details written to QuickBooks, sub-customers (service locations)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    ("company_name", 100),
    ("bill_line2", 500),
    ("bill_country", 255),
    ("ship_line1", 500),
    ("ship_line2", 500),
    ("ship_city", 255),
    ("ship_region", 255),
    ("ship_postal_code", 30),
    ("ship_country", 255),
)


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        for name, length in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "customer_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "conflict",
                "failed",
                "dismissed",
                name="change_status",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("sends", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("written_token", sa.String(length=16), nullable=True),
        sa.Column("problem", sa.String(length=500), nullable=True),
        sa.Column("theirs", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["portal_user.id"],
            name=op.f("fk_customer_change_created_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_change_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_customer_change_message_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["portal_user.id"],
            name=op.f("fk_customer_change_resolved_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_change")),
        sa.UniqueConstraint("form_key", name=op.f("uq_customer_change_form_key")),
    )
    op.create_index(
        "ix_customer_change_customer_status",
        "customer_change",
        ["customer_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_customer_change_customer_status", table_name="customer_change")
    op.drop_table("customer_change")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        for name, _length in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
