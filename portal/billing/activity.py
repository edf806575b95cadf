"""Dashboard read models: recent activity, the 12-month chart, recommended services.

Each is a fixed number of queries, whatever the number of invoices or payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.locations import family_of
from portal.billing.models import (
    CatalogItem,
    CreditMemo,
    Customer,
    Invoice,
    InvoiceLine,
    ReceivedPayment,
)
from portal.db import MONEY
from portal.formatting import local_date, month_name
from portal.payments.models import Payment, PaymentState

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Activity:
    """One line of recent activity."""

    day: date
    kind: str  # invoice | payment | credit
    label: str
    amount: Decimal


def recent_activity(s: Session, customer_id: int, limit: int = 8) -> list[Activity]:
    """The latest invoices, payments (QuickBooks and portal) and credits of the account (its
    locations' included), newest first."""
    family = family_of(customer_id)
    items: list[Activity] = []
    for inv in s.execute(
        sa.select(Invoice.txn_date, Invoice.doc_number, Invoice.qbo_id, Invoice.total_amt)
        .where(Invoice.customer_id.in_(family), ~Invoice.deleted)
        .order_by(Invoice.txn_date.desc(), Invoice.id.desc())
        .limit(limit)
    ):
        items.append(
            Activity(
                inv.txn_date, "invoice", f"Invoice {inv.doc_number or inv.qbo_id}", inv.total_amt
            )
        )
    mirrored = set()
    for pay in s.execute(
        sa.select(ReceivedPayment.txn_date, ReceivedPayment.total_amt, ReceivedPayment.qbo_id)
        .where(
            ReceivedPayment.customer_id.in_(family),
            ~ReceivedPayment.deleted,
            ReceivedPayment.total_amt > 0,
        )
        .order_by(ReceivedPayment.txn_date.desc(), ReceivedPayment.id.desc())
        .limit(limit)
    ):
        mirrored.add(pay.qbo_id)
        items.append(Activity(pay.txn_date, "payment", "Payment received", -pay.total_amt))
    for portal in s.execute(
        sa.select(Payment.charged_at, Payment.total, Payment.qbo_payment_id)
        .where(Payment.customer_id == customer_id, Payment.state == PaymentState.SUCCEEDED)
        .order_by(Payment.id.desc())
        .limit(limit)
    ):
        if portal.qbo_payment_id not in mirrored and portal.charged_at is not None:
            items.append(
                Activity(local_date(portal.charged_at), "payment", "Online payment", -portal.total)
            )
    for memo in s.execute(
        sa.select(CreditMemo.txn_date, CreditMemo.total_amt, CreditMemo.doc_number)
        .where(CreditMemo.customer_id.in_(family), ~CreditMemo.deleted)
        .order_by(CreditMemo.txn_date.desc(), CreditMemo.id.desc())
        .limit(limit)
    ):
        items.append(Activity(memo.txn_date, "credit", "Credit", -memo.total_amt))
    items.sort(key=lambda a: a.day, reverse=True)
    return items[:limit]


@dataclass(frozen=True)
class Month:
    """Amounts billed and paid in one calendar month."""

    year: int
    month: int
    billed: Decimal
    paid: Decimal

    @property
    def label(self) -> str:
        return month_name(date(self.year, self.month, 1))


def _months_back(today: date, count: int) -> list[tuple[int, int]]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(months))


def _by_month(
    s: Session,
    column: sa.orm.InstrumentedAttribute[date],
    amount: sa.orm.InstrumentedAttribute[Decimal],
    where: sa.ColumnElement[bool],
    since: date,
) -> dict[tuple[int, int], Decimal]:
    year, month = sa.extract("year", column), sa.extract("month", column)
    rows = s.execute(
        sa.select(year, month, sa.func.sum(amount, type_=MONEY))
        .where(where, column >= since)
        .group_by(year, month)
    )
    return {(int(y), int(m)): Decimal(total or 0).quantize(Decimal("0.01")) for y, m, total in rows}


def monthly(s: Session, customer_id: int, today: date, count: int = 12) -> list[Month]:
    """Billed (invoice totals) and paid (payments received) per month on the account (its
    locations' included), oldest first."""
    family = family_of(customer_id)
    months = _months_back(today, count)
    since = date(*months[0], 1)
    billed = _by_month(
        s,
        Invoice.txn_date,
        Invoice.total_amt,
        sa.and_(Invoice.customer_id.in_(family), ~Invoice.deleted, ~Invoice.voided),
        since,
    )
    paid = _by_month(
        s,
        ReceivedPayment.txn_date,
        ReceivedPayment.total_amt,
        sa.and_(ReceivedPayment.customer_id.in_(family), ~ReceivedPayment.deleted),
        since,
    )
    return [Month(y, m, billed.get((y, m), ZERO), paid.get((y, m), ZERO)) for y, m in months]


def recommended(
    s: Session, customer: Customer, exclude: str = "late fee", limit: int = 3
) -> list[CatalogItem]:
    """Active, priced services from the catalog this customer has never been billed for."""
    used = (
        sa.select(InvoiceLine.item_ref)
        .join(Invoice)
        .where(Invoice.customer_id == customer.id, InvoiceLine.item_ref.is_not(None))
    )
    return list(
        s.scalars(
            sa.select(CatalogItem)
            .where(
                CatalogItem.realm_id == customer.realm_id,
                CatalogItem.active,
                CatalogItem.type == "Service",
                CatalogItem.unit_price > 0,  # nothing to offer without a price
                sa.func.lower(CatalogItem.name) != exclude,
                CatalogItem.qbo_id.not_in(used),
            )
            .order_by(CatalogItem.name)
            .limit(limit)
        )
    )


def chart_scale(months: list[Month]) -> Decimal:
    """The largest bar, for scaling the SVG (at least 1 to avoid dividing by zero)."""
    top = max([m.billed for m in months] + [m.paid for m in months] + [Decimal(1)])
    return top
