"""Write-back handlers: portal payments become QuickBooks Payments, exactly once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from portal.billing.models import Customer
from portal.clock import company_today
from portal.outbox import OutboxMessage
from portal.payments.models import Payment
from sync.accounting import (
    AccountingAdapter,
    AccountingError,
    AppliedLine,
    BusinessRule,
    NotFound,
    PaymentRecord,
    PaymentWrite,
)
from sync.outbox import batcher, handler, written
from sync.outbox_batch import PaymentBatcher

logger = logging.getLogger(__name__)

# An invoice paid (more than its open balance), voided or deleted in QuickBooks meanwhile.
REFUSED_ALLOCATION = (BusinessRule, NotFound)


@handler("qbo.payment")
def write_payment(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """One QuickBooks Payment per portal payment, one line per invoice; requestid = outbox id.

    A message sent before (its answer lost, or parked and retried) first asks QuickBooks for
    a Payment with its transaction id, and adopts one that exists instead of writing again."""
    payment = _payment(s, message)
    write = payment_write(s, message, options)
    if _sent_before(message) and write.reference:
        adopted = _adopt(adapter, write)
        if adopted is not None:
            logger.warning("payment %s: adopted QuickBooks Payment %s", payment.id, adopted.id)
            return _recorded(s, message, payment, adopted)
    try:
        saved = adapter.record_payment(**_record_args(write, message.request_id))
    except AccountingError as exc:
        if not isinstance(exc, REFUSED_ALLOCATION):
            raise
        # An invoice was paid, voided or deleted in QuickBooks meanwhile: apply what still
        # fits, keep the rest on the customer's account as a credit, tell the bookkeeper.
        fitted = _fit(adapter, write.applied)
        cut = dataclasses.replace(write, applied=tuple(fitted))
        saved = adapter.record_payment(**_record_args(cut, f"{message.request_id}-fit"))
        left = payment.total - sum((a.amount for a in fitted), Decimal(0))
        payment.review_note = (
            f"QuickBooks refused the allocation ({exc}); ${left:,.2f} was left unapplied as "
            "a credit on the customer's account."
        )[:500]
        logger.warning("payment %s written back with %s unapplied", payment.id, left)
    return _recorded(s, message, payment, saved)


def _sent_before(message: OutboxMessage) -> bool:
    """Whether an earlier try may have reached QuickBooks."""
    return message.attempts > 1 or message.generation > 0 or message.last_error is not None


def _adopt(adapter: AccountingAdapter, write: PaymentWrite) -> PaymentRecord | None:
    """The Payment an earlier try already made for this charge, if QuickBooks has one."""
    assert write.reference is not None
    found = adapter.find_payments(write.customer_id, write.reference)
    matching = [p for p in found if p.total == write.total]
    if len(matching) > 1:
        logger.error("QuickBooks has %s Payments for charge %s", len(matching), write.reference)
    return min(matching, key=lambda p: int(p.id) if p.id.isdigit() else 0, default=None)


def _recorded(s: Session, message: OutboxMessage, payment: Payment, record: PaymentRecord) -> str:
    """Keep the QuickBooks Payment's id and how the mirror will see it on each invoice."""
    payment.qbo_payment_id = record.id
    linked = {a.txn_id for a in record.applied if a.txn_type == "Invoice"}
    missing = [a.invoice_qbo_id for a in payment.allocations if a.invoice_qbo_id not in linked]
    written(s, message, linked_txn_id=record.id, not_applied=missing)
    return record.id


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
        # the company's business day of the charge (8 pm in California is not tomorrow)
        txn_date=company_today(s, options.get("timezone", ""), charged, message.realm_id),
        deposit_account_id=options.get("deposit_account_id") or None,
        payment_method_id=options.get("payment_method_id") or None,
        note=f"Portal payment {payment.gateway_key}",
    )


def payment_recorded(s: Session, message: OutboxMessage, record: PaymentRecord) -> str:
    """Keep the id of the QuickBooks Payment a batch made for the message."""
    return _recorded(s, message, _payment(s, message), record)


def _payment(s: Session, message: OutboxMessage) -> Payment:
    payment = s.get(Payment, message.data["payment_id"])
    if payment is None:
        raise AccountingError(f"portal payment {message.data['payment_id']} no longer exists")
    return payment


def _record_args(write: PaymentWrite, request_id: str) -> dict[str, Any]:
    """The keyword arguments of AccountingAdapter.record_payment for a write."""
    return {
        "customer_id": write.customer_id,
        "applied": write.applied,
        "total": write.total,
        "reference": write.reference,
        "txn_date": write.txn_date,
        "request_id": request_id,
        "deposit_account_id": write.deposit_account_id,
        "payment_method_id": write.payment_method_id,
        "note": write.note,
    }


def _fit(adapter: AccountingAdapter, applied: tuple[AppliedLine, ...]) -> list[AppliedLine]:
    """Each line cut to its invoice's balance now in QuickBooks (lines at zero dropped)."""
    fitted = []
    for line in applied:
        try:
            invoice = adapter.get_invoice(line.txn_id)
        except NotFound:
            continue  # deleted in QuickBooks: nothing left to apply to
        balance = Decimal(0) if invoice.voided else invoice.balance
        amount = min(line.amount, balance)
        if amount > 0:
            fitted.append(AppliedLine(line.txn_type, line.txn_id, amount))
    return fitted


def preload_payments(s: Session, messages: Sequence[OutboxMessage]) -> None:
    """The payments of a batch, their allocations and customers, in three queries."""
    ids = [m.data["payment_id"] for m in messages]
    payments = s.scalars(
        sa.select(Payment).where(Payment.id.in_(ids)).options(selectinload(Payment.allocations))
    ).all()
    customers = s.scalars(
        sa.select(Customer).where(Customer.id.in_({p.customer_id for p in payments}))
    ).all()
    # the session's identity map holds objects weakly: keep them for the unit of work
    s.info.setdefault("preloaded", []).extend([*payments, *customers])


# Payments go in batches of up to 30; a refused allocation (an invoice no longer open enough,
# voided or deleted) sends the item through write_payment at once, whose fallback knows what
# to do.
batcher(
    "qbo.payment",
    PaymentBatcher(
        payment_write, payment_recorded, alone=REFUSED_ALLOCATION, preload=preload_payments
    ),
)
