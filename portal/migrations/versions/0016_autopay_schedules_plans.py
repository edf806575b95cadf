"""Autopay enrollments and skips, scheduled one-time payments, payment plans, and the charge
runs that pay them (one row per source and run date, with its attempts)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "autopay_enrollment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("saved_method_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("max_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("paused_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "consent_via",
            sa.Enum("customer", "staff", name="autopay_consent", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("consent_by", sa.Integer(), nullable=True),
        sa.Column("consent_note", sa.String(length=500), nullable=True),
        sa.Column("consent_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "days_before >= 0 AND days_before <= 30",
            name=op.f("ck_autopay_enrollment_days_before_range"),
        ),
        sa.CheckConstraint(
            "max_amount IS NULL OR max_amount > 0",
            name=op.f("ck_autopay_enrollment_max_amount_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["consent_by"],
            ["portal_user.id"],
            name=op.f("fk_autopay_enrollment_consent_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_autopay_enrollment_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_method_id"],
            ["saved_method.id"],
            name=op.f("fk_autopay_enrollment_saved_method_id_saved_method"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_enrollment")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_autopay_enrollment_customer_id")),
    )
    with op.batch_alter_table("autopay_enrollment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autopay_enrollment_saved_method_id"), ["saved_method_id"], unique=False
        )

    op.create_table(
        "payment_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("saved_method_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "current", "completed", "ended", name="plan_state", native_enum=False, length=12
            ),
            nullable=False,
        ),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("ended_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["portal_user.id"],
            name=op.f("fk_payment_plan_created_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_payment_plan_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_method_id"],
            ["saved_method.id"],
            name=op.f("fk_payment_plan_saved_method_id_saved_method"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan")),
    )
    with op.batch_alter_table("payment_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_plan_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_plan_saved_method_id"), ["saved_method_id"], unique=False
        )

    op.create_table(
        "scheduled_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("saved_method_id", sa.Integer(), nullable=True),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled",
                "cancelled",
                "done",
                name="schedule_state",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["portal_user.id"],
            name=op.f("fk_scheduled_payment_created_by_portal_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_scheduled_payment_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saved_method_id"],
            ["saved_method.id"],
            name=op.f("fk_scheduled_payment_saved_method_id_saved_method"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_payment")),
    )
    with op.batch_alter_table("scheduled_payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_payment_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_scheduled_payment_saved_method_id"), ["saved_method_id"], unique=False
        )

    op.create_table(
        "autopay_skip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["autopay_enrollment.id"],
            name=op.f("fk_autopay_skip_enrollment_id_autopay_enrollment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_autopay_skip_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_autopay_skip")),
        sa.UniqueConstraint("enrollment_id", "invoice_id", name="uq_autopay_skip"),
    )
    op.create_table(
        "charge_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "autopay", "schedule", "plan", name="charge_source", native_enum=False, length=10
            ),
            nullable=False,
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "charging",
                "succeeded",
                "retry",
                "failed",
                name="charge_run_state",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("next_try_on", sa.Date(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_charge_run_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["portal_payment.id"],
            name=op.f("fk_charge_run_payment_id_portal_payment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_run")),
        sa.UniqueConstraint("source", "source_id", "run_on", name="uq_charge_run"),
    )
    with op.batch_alter_table("charge_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charge_run_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index("ix_charge_run_open", ["state", "next_try_on"], unique=False)

    op.create_table(
        "plan_installment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_plan_installment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["payment_plan.id"],
            name=op.f("fk_plan_installment_plan_id_payment_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_installment")),
        sa.UniqueConstraint("plan_id", "number", name="uq_plan_installment"),
    )
    op.create_table(
        "plan_invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_plan_invoice_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["payment_plan.id"],
            name=op.f("fk_plan_invoice_plan_id_payment_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_invoice")),
        sa.UniqueConstraint("plan_id", "invoice_id", name="uq_plan_invoice"),
    )
    with op.batch_alter_table("plan_invoice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_invoice_invoice_id"), ["invoice_id"], unique=False
        )

    op.create_table(
        "scheduled_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_scheduled_line_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_scheduled_line_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["scheduled_payment.id"],
            name=op.f("fk_scheduled_line_schedule_id_scheduled_payment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_line")),
    )
    with op.batch_alter_table("scheduled_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_line_schedule_id"), ["schedule_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_line_schedule_id"))

    op.drop_table("scheduled_line")
    with op.batch_alter_table("plan_invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_invoice_invoice_id"))

    op.drop_table("plan_invoice")
    op.drop_table("plan_installment")
    with op.batch_alter_table("charge_run", schema=None) as batch_op:
        batch_op.drop_index("ix_charge_run_open")
        batch_op.drop_index(batch_op.f("ix_charge_run_customer_id"))

    op.drop_table("charge_run")
    op.drop_table("autopay_skip")
    with op.batch_alter_table("scheduled_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_payment_saved_method_id"))
        batch_op.drop_index(batch_op.f("ix_scheduled_payment_customer_id"))

    op.drop_table("scheduled_payment")
    with op.batch_alter_table("payment_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_plan_saved_method_id"))
        batch_op.drop_index(batch_op.f("ix_payment_plan_customer_id"))

    op.drop_table("payment_plan")
    with op.batch_alter_table("autopay_enrollment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_autopay_enrollment_saved_method_id"))

    op.drop_table("autopay_enrollment")
