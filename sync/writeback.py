"""Write-back handlers: portal payments become QuickBooks Payments, exactly once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.billing.models import Customer
from portal.payments.models import Payment
from sync.accounting import (
    AccountingAdapter,
    AccountingError,
    AppliedLine,
    PaymentRecord,
    PaymentWrite,
)
from sync.outbox import OutboxMessage, batcher, handler
from sync.outbox_batch import PaymentBatcher

logger = logging.getLogger(__name__)

BUSINESS_RULE = "6000"


@handler("qbo.payment")
def write_payment(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """One QuickBooks Payment per portal payment, one line per invoice; requestid = outbox id."""
    payment = _payment(s, message)
    write = payment_write(s, message, options)
    try:
        saved = _record(adapter, write, message.request_id)
    except AccountingError as exc:
        if exc.code != BUSINESS_RULE:
            raise
        # An invoice was paid in QuickBooks meanwhile: apply what still fits, keep the rest
        # on the customer's account as a credit, and tell the bookkeeper.
        fitted = _fit(adapter, write.applied)
        cut = dataclasses.replace(write, applied=tuple(fitted))
        saved = _record(adapter, cut, f"{message.request_id}-fit")
        left = payment.total - sum((a.amount for a in fitted), Decimal(0))
        payment.review_note = (
            f"QuickBooks refused the allocation ({exc}); ${left:,.2f} was left unapplied as "
            "a credit on the customer's account."
        )[:500]
        logger.warning("payment %s written back with %s unapplied", payment.id, left)
    payment.qbo_payment_id = saved
    return saved


def payment_write(s: Session, message: OutboxMessage, options: Mapping[str, str]) -> PaymentWrite:
    """The QuickBooks Payment a message asks for (bid = outbox id)."""
    payment = _payment(s, message)
    customer = s.get(Customer, payment.customer_id)
    assert customer is not None
    charged = payment.charged_at or payment.created_at
    return PaymentWrite(
        bid=str(message.id),
        customer_id=customer.qbo_id,
        applied=tuple(
            AppliedLine("Invoice", a.invoice_qbo_id, a.amount) for a in payment.allocations
        ),
        total=payment.total,
        reference=payment.gateway_trans_id,
        txn_date=charged.date(),
        deposit_account_id=options.get("deposit_account_id") or None,
        payment_method_id=options.get("payment_method_id") or None,
        note=f"Portal payment {payment.gateway_key}",
    )


def payment_recorded(s: Session, message: OutboxMessage, record: PaymentRecord) -> str:
    """Keep the id of the QuickBooks Payment a batch made for the message."""
    payment = _payment(s, message)
    payment.qbo_payment_id = record.id
    return record.id


def _payment(s: Session, message: OutboxMessage) -> Payment:
    payment = s.get(Payment, message.data["payment_id"])
    if payment is None:
        raise AccountingError(f"portal payment {message.data['payment_id']} no longer exists")
    return payment


def _record(adapter: AccountingAdapter, write: PaymentWrite, request_id: str) -> str:
    record = adapter.record_payment(
        write.customer_id,
        write.applied,
        write.total,
        write.reference,
        write.txn_date,
        request_id,
        deposit_account_id=write.deposit_account_id,
        payment_method_id=write.payment_method_id,
        note=write.note,
    )
    return record.id


def _fit(adapter: AccountingAdapter, applied: tuple[AppliedLine, ...]) -> list[AppliedLine]:
    """Each line cut to its invoice's balance now in QuickBooks (lines at zero dropped)."""
    fitted = []
    for line in applied:
        balance = adapter.get_invoice(line.txn_id).balance
        amount = min(line.amount, balance)
        if amount > 0:
            fitted.append(AppliedLine(line.txn_type, line.txn_id, amount))
    return fitted


# Payments go in batches of up to 30; a 6000 fault (an invoice no longer open enough) sends
# the item through write_payment at once, whose fallback knows what to do.
batcher(
    "qbo.payment",
    PaymentBatcher(payment_write, payment_recorded, alone=frozenset({BUSINESS_RULE})),
)
