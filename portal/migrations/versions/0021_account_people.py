"""People on an account: memberships with a role, and the account each login is on

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = sa.Enum("owner", "full", "pay", "view", name="member_role", native_enum=False, length=10)


def upgrade() -> None:
    op.create_table(
        "account_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["portal_user.id"],
            name=op.f("fk_account_member_added_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_account_member_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_account_member_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_member")),
        sa.UniqueConstraint("user_id", "customer_id", name="uq_account_member_user_customer"),
    )
    op.create_index(
        op.f("ix_account_member_customer_id"), "account_member", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_account_member_user_id"), "account_member", ["user_id"], unique=False)
    op.create_index(
        "uq_account_member_owner",
        "account_member",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text("role = 'owner'"),
        postgresql_where=sa.text("role = 'owner'"),
    )
    # Every customer login so far is on its own account: the first of an account its owner,
    # any later one (a second staff invitation) with full access.
    op.execute(
        """
        INSERT INTO account_member (user_id, customer_id, role, created_at, updated_at)
        SELECT u.id, u.customer_id,
               CASE WHEN u.id = (SELECT min(o.id) FROM portal_user o
                                 WHERE o.customer_id = u.customer_id AND o.role = 'customer')
                    THEN 'owner' ELSE 'full' END,
               u.created_at, u.created_at
        FROM portal_user u
        WHERE u.role = 'customer' AND u.customer_id IS NOT NULL
        """
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_login_session_customer_id_customer"),
            "customer",
            ["customer_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_role", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("invited_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_account_token_invited_by_portal_user"),
            "portal_user",
            ["invited_by"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("saved_method", schema=None) as batch_op:
        batch_op.add_column(sa.Column("added_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_saved_method_added_by_portal_user"),
            "portal_user",
            ["added_by"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("saved_method", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_saved_method_added_by_portal_user"), type_="foreignkey"
        )
        batch_op.drop_column("added_by")
    with op.batch_alter_table("account_token", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_account_token_invited_by_portal_user"), type_="foreignkey"
        )
        batch_op.drop_column("invited_by")
        batch_op.drop_column("member_role")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_login_session_customer_id_customer"), type_="foreignkey"
        )
        batch_op.drop_column("customer_id")
    op.drop_index("uq_account_member_owner", table_name="account_member")
    op.drop_index(op.f("ix_account_member_user_id"), table_name="account_member")
    op.drop_index(op.f("ix_account_member_customer_id"), table_name="account_member")
    op.drop_table("account_member")
