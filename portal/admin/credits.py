"""Partial credits issued by staff: a QuickBooks CreditMemo applied to one invoice."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal import outbox
from portal.audit import events
from portal.audit.service import SYSTEM, Actor
from portal.billing.models import Customer, Invoice
from portal.formatting import money
from portal.outbox import OutboxMessage
from portal.payments.service import PaymentRefused, parse_amount


class CreditRefused(ValueError):
    """The credit cannot be issued as asked; the message says why."""


def check_credit(
    s: Session, customer_id: int, invoice_id: int, raw_amount: str, lock: bool = False
) -> tuple[Invoice, Decimal]:
    """The invoice (locked when about to change) and the amount a credit would take off it,
    or CreditRefused."""
    query = sa.select(Invoice).where(Invoice.id == invoice_id, Invoice.customer_id == customer_id)
    invoice = s.scalar(query.with_for_update() if lock else query)
    if invoice is None or not invoice.is_open:
        raise CreditRefused("Choose an open invoice of this customer.")
    try:
        amount = parse_amount(raw_amount, f"invoice {invoice.doc_number or invoice.qbo_id}")
    except PaymentRefused as exc:
        raise CreditRefused(str(exc)) from None
    if amount > invoice.balance:
        balance = money(invoice.balance)
        raise CreditRefused(f"A credit cannot be more than the balance of {balance}.")
    return invoice, amount


def issue_credit(
    s: Session,
    customer_id: int,
    invoice_id: int,
    raw_amount: str,
    reason: str,
    by: int | None,
    key: str | None = None,
    actor: Actor | None = None,
) -> bool:
    """Lower the invoice now (optimistically) and queue the CreditMemo + application; False
    when the form with this idempotency `key` was already taken (a double submit)."""
    if key is not None and s.scalar(
        sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"credit:{key}")
    ):
        return False
    invoice, amount = check_credit(s, customer_id, invoice_id, raw_amount, lock=True)
    customer = s.get(Customer, customer_id)
    assert customer is not None
    invoice.balance -= amount
    customer.balance -= amount
    outbox.enqueue(
        s,
        "qbo.credit",
        customer.realm_id,
        {
            "customer_qbo_id": customer.qbo_id,
            "invoice_qbo_id": invoice.qbo_id,
            "amount": str(amount),
            "reason": reason[:200],
            "issued_by": by,
        },
        dedupe_key=f"credit:{key}" if key else None,
        effects=[(invoice.qbo_id, -amount)],
    )
    doc = invoice.doc_number or invoice.qbo_id
    events.credit_applied(s, actor or SYSTEM, customer_id, doc, amount, reason[:200])
    return True
