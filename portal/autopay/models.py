"""Autopay enrollments, scheduled one-time payments, payment plans, and the charge runs that
pay them through the ordinary payment path."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, QueryableAttribute, mapped_column, relationship

from portal.db import Base, str_enum, utcnow


class Consent(enum.StrEnum):
    """Who turned autopay on: the customer, or staff with the customer's consent."""

    CUSTOMER = "customer"
    STAFF = "staff"


class AutopayEnrollment(Base):
    """A customer's standing order: pay each invoice in full on its due date or N days before."""

    __tablename__ = "autopay_enrollment"
    __table_args__ = (
        sa.CheckConstraint("days_before >= 0 AND days_before <= 30", name="days_before_range"),
        sa.CheckConstraint("max_amount IS NULL OR max_amount > 0", name="max_amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), unique=True
    )
    saved_method_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("saved_method.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    days_before: Mapped[int] = mapped_column(default=0)  # 0: on the due date
    max_amount: Mapped[Decimal | None]
    paused_reason: Mapped[str | None] = mapped_column(sa.String(300))
    consent_via: Mapped[Consent] = mapped_column(str_enum(Consent, "autopay_consent", 10))
    consent_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    consent_note: Mapped[str | None] = mapped_column(sa.String(500))
    consent_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutopaySkip(Base):
    """An invoice the customer asked autopay not to charge (they pay it another way)."""

    __tablename__ = "autopay_skip"
    __table_args__ = (sa.UniqueConstraint("enrollment_id", "invoice_id", name="uq_autopay_skip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("autopay_enrollment.id", ondelete="CASCADE")
    )
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleState(enum.StrEnum):
    """Where a scheduled one-time payment stands."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    DONE = "done"  # its charge run was made (the run says how it went)


class ScheduledPayment(Base):
    """A one-time payment of chosen invoices and amounts on a future company date."""

    __tablename__ = "scheduled_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    saved_method_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("saved_method.id", ondelete="SET NULL"), index=True
    )
    run_on: Mapped[date]
    state: Mapped[ScheduleState] = mapped_column(
        str_enum(ScheduleState, "schedule_state"), default=ScheduleState.SCHEDULED
    )
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[ScheduledLine]] = relationship(
        cascade="all, delete-orphan", order_by="ScheduledLine.id"
    )


class ScheduledLine(Base):
    """How much of a scheduled payment goes to one invoice."""

    __tablename__ = "scheduled_line"
    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        sa.ForeignKey("scheduled_payment.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="CASCADE"))
    amount: Mapped[Decimal]


class PlanState(enum.StrEnum):
    """Where a payment plan stands."""

    CURRENT = "current"
    COMPLETED = "completed"
    ENDED = "ended"  # an installment failed after every retry, or it was cancelled


class PaymentPlan(Base):
    """An overdue balance split into installments, charged by autopay oldest invoice first."""

    __tablename__ = "payment_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    saved_method_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("saved_method.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[PlanState] = mapped_column(
        str_enum(PlanState, "plan_state"), default=PlanState.CURRENT
    )
    total: Mapped[Decimal]
    ended_reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    installments: Mapped[list[PlanInstallment]] = relationship(
        cascade="all, delete-orphan", order_by="PlanInstallment.number"
    )
    invoices: Mapped[list[PlanInvoice]] = relationship(
        cascade="all, delete-orphan", order_by="PlanInvoice.id"
    )


class PlanInstallment(Base):
    """One installment of a plan, due on a company date."""

    __tablename__ = "plan_installment"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "number", name="uq_plan_installment"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_plan.id", ondelete="CASCADE"))
    number: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal]


class PlanInvoice(Base):
    """An invoice a plan covers (the ladder holds and no new fees while the plan is current)."""

    __tablename__ = "plan_invoice"
    __table_args__ = (sa.UniqueConstraint("plan_id", "invoice_id", name="uq_plan_invoice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_plan.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoice.id", ondelete="CASCADE"), index=True
    )


class Source(enum.StrEnum):
    """What a charge run pays for."""

    AUTOPAY = "autopay"
    SCHEDULE = "schedule"
    PLAN = "plan"


class RunState(enum.StrEnum):
    """Where a charge run stands."""

    CHARGING = "charging"  # an attempt's payment is made and may be in flight
    SUCCEEDED = "succeeded"
    RETRY = "retry"  # the last attempt failed; the next is due on `next_try_on`
    FAILED = "failed"  # every attempt failed (or there was nothing to charge it with)


class ChargeRun(Base):
    """One charge of an enrollment on a run date, a schedule, or a plan installment, with its
    attempts. Attempt n's payment carries the idempotency key `key(n)`, so a run that crashes
    or is made twice never charges twice."""

    __tablename__ = "charge_run"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_id", "run_on", name="uq_charge_run"),
        sa.Index("ix_charge_run_open", "state", "next_try_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[Source] = mapped_column(str_enum(Source, "charge_source", 10))
    source_id: Mapped[int]
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    run_on: Mapped[date]
    attempt: Mapped[int] = mapped_column(default=1)
    state: Mapped[RunState] = mapped_column(
        str_enum(RunState, "charge_run_state"), default=RunState.CHARGING
    )
    next_try_on: Mapped[date | None]
    payment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_payment.id", ondelete="SET NULL")
    )
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def key(self) -> str:
        """The idempotency key of the current attempt's payment."""
        return f"{self.source.value}-{self.source_id}-{self.run_on:%Y%m%d}-{self.attempt}"


def outside_current_plans(invoice_id: QueryableAttribute[int]) -> sa.ColumnElement[bool]:
    """The invoice is not covered by a current payment plan (the overdue ladder's and the late
    fees' hook: while a plan is current its invoices hold, by the admin's policy)."""
    covered = (
        sa.select(PlanInvoice.invoice_id)
        .join(PaymentPlan, PaymentPlan.id == PlanInvoice.plan_id)
        .where(PaymentPlan.state == PlanState.CURRENT)
    )
    return invoice_id.not_in(covered)


class PlanLimits(Base):
    """The admin's limits on payment plans: one row at most; absent means [autopay]'s."""

    __tablename__ = "plan_limits"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("max_installments BETWEEN 2 AND 60", name="max_installments_range"),
        sa.CheckConstraint("min_installment > 0", name="min_installment_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    max_installments: Mapped[int]
    min_installment: Mapped[Decimal]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
