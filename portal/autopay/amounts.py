"""What each source charges on an attempt, computed fresh from the mirror: {invoice id:
amount}, never more than is still owed once unfinished payments are counted."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.autopay import charging
from portal.autopay.charging import Amounts
from portal.autopay.models import AutopayEnrollment, PlanInstallment, PlanInvoice, ScheduledPayment
from portal.autopay.service import covered_invoice_ids, skipped
from portal.billing.models import Invoice


def autopay_amounts(s: Session, enrollment: AutopayEnrollment, horizon: date) -> Amounts:
    """Open invoices due by `horizon`, neither skipped nor in a current plan."""
    invoices = list(
        s.scalars(
            sa.select(Invoice)
            .where(
                Invoice.customer_id == enrollment.customer_id,
                Invoice.due_date <= horizon,
                Invoice.balance > 0,
                ~Invoice.voided,
                ~Invoice.deleted,
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    leave_out = skipped(s, enrollment.id) | covered_invoice_ids(s, [i.id for i in invoices])
    return charging.available(s, [i for i in invoices if i.id not in leave_out])


def schedule_amounts(s: Session, planned: ScheduledPayment) -> Amounts:
    """The chosen amounts, each at most what is still owed."""
    invoices = list(
        s.scalars(sa.select(Invoice).where(Invoice.id.in_([x.invoice_id for x in planned.lines])))
    )
    owed = charging.available(s, invoices)
    out = {}
    for line in planned.lines:
        amount = min(line.amount, owed.get(line.invoice_id, Decimal(0)))
        if amount > 0:
            out[line.invoice_id] = amount
    return out


def plan_amounts(s: Session, installment: PlanInstallment) -> Amounts:
    """The installment spread over the plan's invoices, oldest first."""
    invoices = list(
        s.scalars(
            sa.select(Invoice)
            .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
            .where(PlanInvoice.plan_id == installment.plan_id)
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    left, out = installment.amount, {}
    for invoice_id, owed in charging.available(s, invoices).items():
        if left <= 0:
            break
        out[invoice_id] = min(owed, left)
        left -= out[invoice_id]
    return out


def digest(amounts: Amounts) -> str:
    """A short fingerprint of which invoices are charged (a notice's key)."""
    return hashlib.sha256(",".join(map(str, sorted(amounts))).encode()).hexdigest()[:16]
