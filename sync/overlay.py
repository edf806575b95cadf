"""What the customer owes = QuickBooks' balance + the portal's writes QuickBooks does not show
yet (payments and credits lower it, fees raise it). The mirror applies this overlay to every
snapshot it stores, so a sync never brings back money already paid, nor drops a fee not yet
written; every page that reads `Invoice.balance` sees the overlay."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import Customer, Invoice
from portal.db import utcnow
from portal.outbox import OutboxEffect, OutboxMessage, OutboxStatus
from sync.accounting import CustomerRecord, InvoiceRecord

CHUNK = 500  # ids per IN (...): well inside every database's limit on bound parameters


def invoice_overlay(s: Session, realm: str, records: Sequence[InvoiceRecord]) -> dict[str, Decimal]:
    """Per invoice Id, the signed sum of the portal's effects this snapshot does not show;
    effects it does show are marked confirmed (QuickBooks' balance carries them now)."""
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    out: dict[str, Decimal] = {}
    shown: list[int] = []
    for start in range(0, len(ids), CHUNK):
        rows = s.execute(
            sa.select(
                OutboxEffect.id,
                OutboxEffect.invoice_qbo_id,
                OutboxEffect.amount,
                OutboxEffect.linked_txn_id,
                OutboxEffect.sync_token,
                OutboxMessage.status,
            )
            .join(OutboxMessage, OutboxMessage.id == OutboxEffect.message_id)
            .where(
                OutboxEffect.realm_id == realm,
                OutboxEffect.invoice_qbo_id.in_(ids[start : start + CHUNK]),
                OutboxEffect.confirmed_at.is_(None),
            )
        ).all()
        for effect_id, invoice_id, amount, linked, token, status in rows:
            if _shows(by_id[invoice_id], status, linked, token):
                shown.append(effect_id)
            else:
                out[invoice_id] = out.get(invoice_id, Decimal(0)) + Decimal(amount)
    if shown:
        s.execute(
            sa.update(OutboxEffect)
            .where(OutboxEffect.id.in_(shown))
            .values(confirmed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return out


def _shows(
    record: InvoiceRecord, status: OutboxStatus, linked: str | None, token: str | None
) -> bool:
    """Whether this snapshot of the invoice already carries a written effect."""
    if record.voided:
        return True  # nothing is owed on a voided invoice, whatever the portal still writes
    if status is not OutboxStatus.DONE:
        return False
    if linked is not None:
        return linked in record.linked_payment_ids
    if token is not None:
        return _version(record.sync_token) >= _version(token)
    return True


def _version(token: str) -> int:
    return int(token) if token.isdigit() else -1


def customer_overlay(
    s: Session, realm: str, records: Sequence[CustomerRecord]
) -> dict[str, Decimal]:
    """Per customer Id, the signed sum of the portal's writes still to land in QuickBooks."""
    ids = [r.id for r in records]
    out: dict[str, Decimal] = {}
    for start in range(0, len(ids), CHUNK):
        rows = s.execute(
            sa.select(Customer.qbo_id, sa.func.sum(OutboxEffect.amount))
            .join(OutboxMessage, OutboxMessage.id == OutboxEffect.message_id)
            .join(
                Invoice,
                sa.and_(
                    Invoice.realm_id == OutboxEffect.realm_id,
                    Invoice.qbo_id == OutboxEffect.invoice_qbo_id,
                ),
            )
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(
                OutboxEffect.realm_id == realm,
                Customer.qbo_id.in_(ids[start : start + CHUNK]),
                OutboxMessage.status != OutboxStatus.DONE,
            )
            .group_by(Customer.qbo_id)
        ).all()
        out.update({qbo_id: Decimal(total) for qbo_id, total in rows if total})
    return out


def owed(qbo_balance: Decimal, overlay: Decimal) -> Decimal:
    """An invoice's balance as the portal shows it (never below zero)."""
    return max(Decimal("0.00"), qbo_balance + overlay)
