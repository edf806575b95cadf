"""Each login's look (theme, text size, dashboard widgets) and the business's brand

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=10), nullable=False),
        sa.Column("text_size", sa.String(length=10), nullable=False),
        sa.Column("widget_order", sa.String(length=200), nullable=False),
        sa.Column("hidden_widgets", sa.String(length=200), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "theme IN ('auto', 'light', 'dark', 'contrast')",
            name=op.f("ck_user_preference_theme_known"),
        ),
        sa.CheckConstraint(
            "text_size IN ('normal', 'large', 'larger')",
            name=op.f("ck_user_preference_text_size_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_user.id"],
            name=op.f("fk_user_preference_user_id_portal_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preference")),
    )
    op.create_table(
        "brand_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_name", sa.String(length=120), nullable=True),
        sa.Column("colour", sa.String(length=7), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=20), nullable=True),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_brand_setting_single_row")),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["portal_user.id"],
            name=op.f("fk_brand_setting_updated_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_setting")),
    )


def downgrade() -> None:
    op.drop_table("brand_setting")
    op.drop_table("user_preference")
