"""Staff settle a change that met a change of the same field in QuickBooks: send the portal's
values again (compared now with QuickBooks' current ones), or keep QuickBooks'."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.audit.service import Actor, record
from portal.billing.models import Customer
from portal.db import utcnow
from portal.details.models import ChangeStatus, CustomerChange
from portal.details.service import LABELS, send
from sync.models import request_sync


def open_conflicts(s: Session) -> list[tuple[CustomerChange, Customer]]:
    """Changes waiting for staff, oldest first, with their customers."""
    rows = s.execute(
        sa.select(CustomerChange, Customer)
        .join(Customer, Customer.id == CustomerChange.customer_id)
        .where(CustomerChange.status == ChangeStatus.CONFLICT)
        .order_by(CustomerChange.id)
    ).all()
    return [(change, customer) for change, customer in rows]


def _settle(
    s: Session, change_id: int, values: dict[str, object], sends: int | None = None
) -> CustomerChange | None:
    """Compare-and-set a conflict to its outcome: of two staff acting at once, one wins."""
    change = s.get(CustomerChange, change_id)
    if change is None or change.status is not ChangeStatus.CONFLICT:
        return None
    done = s.execute(
        sa.update(CustomerChange)
        .where(
            CustomerChange.id == change_id,
            CustomerChange.status == ChangeStatus.CONFLICT,
            CustomerChange.sends == (sends if sends is not None else change.sends),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return None
    s.refresh(change)
    return change


def apply_portal(s: Session, change_id: int, user_id: int, actor: Actor) -> bool:
    """Send the portal's values again, "seen" now being QuickBooks' current ones (so the
    write goes through unless QuickBooks changes them yet again)."""
    change = s.get(CustomerChange, change_id)
    if change is None or change.status is not ChangeStatus.CONFLICT:
        return False
    theirs = change.their_values
    fields = {n: [theirs.get(n, pair[0]), pair[1]] for n, pair in change.changes.items()}
    settled = _settle(
        s,
        change_id,
        {
            "status": ChangeStatus.PENDING,
            "fields": json.dumps(fields, sort_keys=True),
            "sends": change.sends + 1,
            "resolved_by": user_id,
            "resolved_at": utcnow(),
            "done_at": None,
        },
        sends=change.sends,
    )
    if settled is None:
        return False
    customer = s.get(Customer, settled.customer_id)
    assert customer is not None
    send(s, customer, settled)
    record(
        s,
        "details.conflict",
        customer_id=customer.id,
        actor=actor,
        summary=f"Staff sent the portal's {', '.join(LABELS[n] for n in theirs)} again",
        before=theirs,
        after={n: pair[1] for n, pair in fields.items() if n in theirs},
    )
    return True


def keep_quickbooks(s: Session, change_id: int, user_id: int, actor: Actor) -> bool:
    """Close the change: QuickBooks' values stand (the mirror is asked to catch up)."""
    settled = _settle(
        s,
        change_id,
        {"status": ChangeStatus.DISMISSED, "resolved_by": user_id, "resolved_at": utcnow()},
    )
    if settled is None:
        return False
    customer = s.get(Customer, settled.customer_id)
    assert customer is not None
    request_sync(s, customer.realm_id)
    theirs = settled.their_values
    record(
        s,
        "details.conflict",
        customer_id=customer.id,
        actor=actor,
        summary=f"Staff kept QuickBooks' {', '.join(LABELS[n] for n in theirs)}",
        before={n: pair[1] for n, pair in settled.changes.items() if n in theirs},
        after=theirs,
    )
    return True
