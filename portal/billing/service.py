"""Read models of a customer's account, always scoped to one customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import Customer, Invoice
from portal.db import MONEY


@dataclass(frozen=True)
class AccountSummary:
    """The numbers at the top of the dashboard."""

    customer: Customer
    balance_due: Decimal
    open_count: int
    next_due: date | None
    overdue_count: int


def _open(customer_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        Invoice.customer_id == customer_id, Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted
    )


def account_summary(s: Session, customer_id: int, today: date) -> AccountSummary:
    """Balance due, open and overdue counts and the next due date, in one query."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    total, count, next_due, overdue = s.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Invoice.balance, type_=MONEY), 0),
            sa.func.count(Invoice.id),
            sa.func.min(sa.case((Invoice.due_date >= today, Invoice.due_date))),
            sa.func.count(sa.case((Invoice.due_date < today, Invoice.id))),
        ).where(_open(customer_id))
    ).one()
    return AccountSummary(
        customer=customer,
        balance_due=Decimal(total).quantize(Decimal("0.01")),
        open_count=count,
        next_due=next_due,
        overdue_count=overdue,
    )


def open_invoices(s: Session, customer_id: int, limit: int = 50) -> list[Invoice]:
    """The customer's unpaid invoices, oldest due first."""
    return list(
        s.scalars(
            sa.select(Invoice)
            .where(_open(customer_id))
            .order_by(Invoice.due_date.asc().nulls_last(), Invoice.id)
            .limit(limit)
        )
    )
