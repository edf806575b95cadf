"""Write-back handlers: portal payments become QuickBooks Payments, exactly once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.billing.models import Customer
from portal.payments.models import Payment
from sync.accounting import AccountingAdapter, AccountingError, AppliedLine
from sync.outbox import OutboxMessage, handler

logger = logging.getLogger(__name__)

BUSINESS_RULE = "6000"


@handler("qbo.payment")
def write_payment(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """One QuickBooks Payment per portal payment, one line per invoice; requestid = outbox id."""
    payment = s.get(Payment, message.data["payment_id"])
    if payment is None:
        raise AccountingError(f"portal payment {message.data['payment_id']} no longer exists")
    customer = s.get(Customer, payment.customer_id)
    assert customer is not None
    applied = [AppliedLine("Invoice", a.invoice_qbo_id, a.amount) for a in payment.allocations]
    try:
        saved = _record(adapter, customer, payment, applied, message.request_id, options)
    except AccountingError as exc:
        if exc.code != BUSINESS_RULE:
            raise
        # An invoice was paid in QuickBooks meanwhile: apply what still fits, keep the rest
        # on the customer's account as a credit, and tell the bookkeeper.
        fitted = _fit(adapter, applied)
        saved = _record(adapter, customer, payment, fitted, f"{message.request_id}-fit", options)
        left = payment.total - sum((a.amount for a in fitted), Decimal(0))
        payment.review_note = (
            f"QuickBooks refused the allocation ({exc}); ${left:,.2f} was left unapplied as "
            "a credit on the customer's account."
        )[:500]
        logger.warning("payment %s written back with %s unapplied", payment.id, left)
    payment.qbo_payment_id = saved
    return saved


def _record(
    adapter: AccountingAdapter,
    customer: Customer,
    payment: Payment,
    applied: list[AppliedLine],
    request_id: str,
    options: Mapping[str, str],
) -> str:
    charged = payment.charged_at or payment.created_at
    record = adapter.record_payment(
        customer.qbo_id,
        applied,
        payment.total,
        payment.gateway_trans_id,
        charged.date(),
        request_id,
        deposit_account_id=options.get("deposit_account_id") or None,
        payment_method_id=options.get("payment_method_id") or None,
        note=f"Portal payment {payment.gateway_key}",
    )
    return record.id


def _fit(adapter: AccountingAdapter, applied: list[AppliedLine]) -> list[AppliedLine]:
    """Each line cut to its invoice's balance now in QuickBooks (lines at zero dropped)."""
    fitted = []
    for line in applied:
        balance = adapter.get_invoice(line.txn_id).balance
        amount = min(line.amount, balance)
        if amount > 0:
            fitted.append(AppliedLine(line.txn_type, line.txn_id, amount))
    return fitted
