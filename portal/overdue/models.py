"""Late fees charged, the saved late-fee policy and each customer's overdue state."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class LateFeePolicyRow(Base):
    """The policy an admin saved; one row at most, overriding [late_fees] while it exists."""

    __tablename__ = "late_fee_policy"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("amount >= 0 AND minimum >= 0", name="amounts_not_negative"),
        sa.CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    enabled: Mapped[bool]
    grace_days: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(10))
    amount: Mapped[Decimal]
    percent: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2, asdecimal=True))
    minimum: Mapped[Decimal]
    cap: Mapped[Decimal | None]
    frequency: Mapped[str] = mapped_column(sa.String(10))
    item_name: Mapped[str] = mapped_column(sa.String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )


class LateFee(Base):
    """One fee on one invoice for one period; the unique pair makes charging idempotent."""

    __tablename__ = "late_fee"
    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "period", name="uq_late_fee_invoice_period"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id", ondelete="CASCADE"))
    # "once", or the month a monthly fee is for ("2026-03")
    period: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[Decimal]
    description: Mapped[str] = mapped_column(sa.String(200))
    # The Item named by the policy in force when the fee was charged.
    item_name: Mapped[str] = mapped_column(sa.String(100))
    outbox_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_at: Mapped[datetime | None]


class CustomerOverdue(Base):
    """A customer's overdue state as the hourly job last saw it (absent: current)."""

    __tablename__ = "customer_overdue"

    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(sa.String(12), index=True)
    since: Mapped[date]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
