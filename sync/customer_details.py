"""Write-back of a customer's details: a sparse update of the QuickBooks Customer.

A second edit while one is still on its way is a change of its own, queued after it rather
than merged into it: the first may be in flight (merging would race the write), and each
keeps its own request id, its own before/after for the audit log and its own conflict. The
handler makes them land in order (a later change waits while an earlier one is pending), so
a change whose "before" is the earlier one's "after" compares against the right values."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.models import Customer
from portal.db import utcnow
from portal.details.models import ChangeStatus, CustomerChange
from portal.outbox import OutboxMessage
from sync.accounting import (
    AccountingAdapter,
    AccountingError,
    ConflictingChange,
    CustomerRecord,
    DuplicateName,
    details_of,
)
from sync.outbox import handler

logger = logging.getLogger(__name__)


@handler("qbo.customer_details")
def write_details(
    s: Session, adapter: AccountingAdapter, message: OutboxMessage, options: Mapping[str, str]
) -> str:
    """Write one change (requestid = outbox id, so a retry after a lost answer writes none);
    a conflict or a refused name settles the change and the message (a retry could not help:
    staff or the customer decide), anything else is retried by the outbox."""
    change = s.get(CustomerChange, message.data["change_id"])
    if change is None:
        raise AccountingError(f"customer change {message.data['change_id']} no longer exists")
    if change.status is not ChangeStatus.PENDING:
        return f"change {change.id} is {change.status.value}"  # closed by staff meanwhile
    earlier = s.scalar(
        sa.select(CustomerChange.id)
        .where(
            CustomerChange.customer_id == change.customer_id,
            CustomerChange.id < change.id,
            CustomerChange.status == ChangeStatus.PENDING,
        )
        .limit(1)
    )
    if earlier is not None:
        raise AccountingError(
            f"waits for the customer's earlier change {earlier} to reach QuickBooks",
            retryable=True,
        )
    customer = s.get(Customer, change.customer_id)
    assert customer is not None  # the change cascades with its customer
    try:
        saved = adapter.update_customer_details(
            customer.qbo_id, change.wanted, change.seen, message.request_id
        )
    except ConflictingChange as exc:
        logger.warning("customer change %s conflicts with QuickBooks: %s", change.id, exc)
        change.status = ChangeStatus.CONFLICT
        change.problem = "Changed in QuickBooks too since the customer saw it."
        change.theirs = json.dumps(exc.theirs, sort_keys=True)
        change.done_at = utcnow()
        return "conflict"
    except DuplicateName:
        change.status = ChangeStatus.FAILED
        change.problem = "QuickBooks already has another customer by that name."
        change.done_at = utcnow()
        return "refused: name in use"
    mirror(customer, saved)
    change.status = ChangeStatus.DONE
    change.written_token = saved.sync_token
    change.done_at = utcnow()
    return saved.id


def mirror(customer: Customer, saved: CustomerRecord) -> None:
    """Take QuickBooks' answer into the mirror, unless a newer snapshot is there already."""
    if _version(saved.sync_token) < _version(customer.sync_token):
        return
    for name, value in details_of(saved).items():
        setattr(customer, name, value)
    customer.sync_token = saved.sync_token
    customer.qbo_updated_at = saved.updated_at


def _version(token: str | None) -> int:
    """A SyncToken as a number (QuickBooks counts them up from 0)."""
    return int(token) if token and token.isdigit() else -1
