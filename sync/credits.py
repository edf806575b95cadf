"""Write-back of partial credits: a QuickBooks CreditMemo applied to one invoice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import CatalogItem
from portal.outbox import OutboxMessage
from sync.accounting import AccountingAdapter, AccountingError, BusinessRule, NotFound
from sync.outbox import handler, written

logger = logging.getLogger(__name__)


@handler("qbo.credit")
def write_credit(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """A CreditMemo for the amount, applied to the invoice by a zero-total Payment.

    Two writes, each with its own request id derived from the outbox id: after a failure
    between them, the retry gets the same memo back and only then applies it."""
    data = message.data
    amount = Decimal(str(data["amount"]))
    item = options.get("credit_item_id") or _credit_item(s, message.realm_id)
    memo = adapter.create_credit_memo(
        data["customer_qbo_id"],
        item,
        amount,
        f"Portal credit: {data['reason']}",
        f"{message.request_id}-memo",
    )
    try:
        applied = adapter.apply_credit(
            data["customer_qbo_id"],
            data["invoice_qbo_id"],
            memo.id,
            amount,
            f"{message.request_id}-apply",
        )
    except (BusinessRule, NotFound) as exc:  # paid, voided or deleted meanwhile
        return _apply_what_fits(s, adapter, message, memo.id, amount, exc)
    written(s, message, linked_txn_id=applied.id)
    return f"{memo.id}/{applied.id}"


def _apply_what_fits(
    s: Session,
    adapter: AccountingAdapter,
    message: OutboxMessage,
    memo_id: str,
    amount: Decimal,
    refusal: AccountingError,
) -> str:
    """The invoice owes less than the credit now (paid or changed in QuickBooks meanwhile):
    re-read it and apply what fits under a new request id (the refused one would only replay
    its refusal); what is left stays on the memo as credit on the customer's account."""
    invoice_id = message.data["invoice_qbo_id"]
    try:
        invoice = adapter.get_invoice(invoice_id)
        balance = Decimal(0) if invoice.voided else invoice.balance
    except NotFound:
        balance = Decimal(0)  # deleted
    fits = min(amount, balance)
    logger.warning("credit %s: %s; applying %s of %s", message.id, refusal, fits, amount)
    if fits <= 0:
        written(s, message, not_applied=[invoice_id])
        return f"{memo_id}/unapplied"
    applied = adapter.apply_credit(
        message.data["customer_qbo_id"],
        invoice_id,
        memo_id,
        fits,
        f"{message.request_id}-apply-{fits}",
    )
    written(s, message, linked_txn_id=applied.id)
    return f"{memo_id}/{applied.id}"


def _credit_item(s: Session, realm: str) -> str:
    """The Item for credit memo lines when none is configured: one named "Portal credit",
    else the first active service that is not the late fee."""
    rows = s.execute(
        sa.select(CatalogItem.qbo_id, CatalogItem.name)
        .where(CatalogItem.realm_id == realm, CatalogItem.active, CatalogItem.type == "Service")
        .order_by(CatalogItem.id)
    ).all()
    named = [q for q, name in rows if name.lower() == "portal credit"]
    others = [q for q, name in rows if name.lower() != "late fee"]
    if not (named or others):
        raise AccountingError("no service item for a credit memo: set quickbooks.credit_item_id")
    return (named or others)[0]
