"""Self-claim of an account from an invoice (and the business's switch for it)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 02:00:00.000000

The token purpose "claim" needs nothing here: account_token.purpose is a VARCHAR(10) with no
CHECK constraint (str_enum), so a new value is only code.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("security_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("self_claim", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("brand_setting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
    op.create_table(
        "claim_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_claim_attempt_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_attempt")),
    )
    op.create_index(
        "ix_claim_attempt_address", "claim_attempt", ["address", "created_at"], unique=False
    )
    op.create_index(
        "ix_claim_attempt_customer", "claim_attempt", ["customer_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_claim_attempt_customer", table_name="claim_attempt")
    op.drop_index("ix_claim_attempt_address", table_name="claim_attempt")
    op.drop_table("claim_attempt")
    with op.batch_alter_table("brand_setting", schema=None) as batch_op:
        batch_op.drop_column("contact_email")
        batch_op.drop_column("contact_phone")
    with op.batch_alter_table("security_policy", schema=None) as batch_op:
        batch_op.drop_column("self_claim")
