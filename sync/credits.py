"""Write-back of partial credits: a QuickBooks CreditMemo applied to one invoice."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import CatalogItem
from sync.accounting import AccountingAdapter, AccountingError
from sync.outbox import OutboxMessage, handler


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
    applied = adapter.apply_credit(
        data["customer_qbo_id"],
        data["invoice_qbo_id"],
        memo.id,
        amount,
        f"{message.request_id}-apply",
    )
    return f"{memo.id}/{applied.id}"


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
