"""Write-back of late fees: a "Late fee" line on the overdue invoice in QuickBooks."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import CatalogItem, Invoice
from portal.db import utcnow
from portal.outbox import OutboxMessage
from portal.overdue.models import LateFee
from sync.accounting import AccountingAdapter, AccountingError
from sync.models import request_sync
from sync.outbox import handler, written

logger = logging.getLogger(__name__)


@handler("qbo.late_fee")
def write_late_fee(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """Append the fee line; requestid = outbox id, so a retry after a lost answer adds none."""
    fee = s.get(LateFee, message.data["late_fee_id"])
    if fee is None:
        raise AccountingError(f"late fee {message.data['late_fee_id']} no longer exists")
    invoice = s.get(Invoice, fee.invoice_id)
    assert invoice is not None  # the fee row cascades with its invoice
    if invoice.voided or invoice.deleted:
        # Nothing is owed on it any more, so there is nothing to add the fee to: done, with
        # the reason as its result (a retry could never succeed; parking it would help no one).
        logger.warning(
            "late fee %s not added: invoice %s was voided or deleted in QuickBooks",
            fee.id,
            invoice.qbo_id,
        )
        written(s, message, not_applied=[invoice.qbo_id])
        return "not added: invoice voided"
    item = fee_item(s, message.realm_id, fee.item_name)
    saved = adapter.add_invoice_line(
        invoice.qbo_id, item, fee.amount, fee.description, request_id=message.request_id
    )
    fee.written_at = utcnow()
    written(s, message, sync_token=saved.sync_token)  # snapshots from this token on show it
    request_sync(s, message.realm_id)  # the mirror swaps our optimistic line for QuickBooks'
    return saved.id


def fee_item(s: Session, realm: str, name: str) -> str:
    """The QuickBooks Id of the active service Item named like the policy's fee item."""
    found = s.scalar(
        sa.select(CatalogItem.qbo_id)
        .where(
            CatalogItem.realm_id == realm,
            CatalogItem.active,
            sa.func.lower(CatalogItem.name) == name.strip().lower(),
        )
        .order_by(CatalogItem.id.desc())
        .limit(1)
    )
    if found is None:
        raise AccountingError(
            f"QuickBooks has no active service item named {name!r} for late fees: create it "
            "(income account: Other Income), sync, then retry this write"
        )
    return found
