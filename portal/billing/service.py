"""Read models of a customer's account, always scoped to one customer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import PortalUser, Role
from portal.billing.locations import family_of
from portal.billing.models import CatalogItem, Customer, Invoice
from portal.db import MONEY
from portal.mail import queue_email
from portal.mail.models import OutboundEmail
from portal.overdue.ladder import OverdueStatus, long_date


@dataclass(frozen=True)
class AccountSummary:
    """The numbers at the top of the dashboard."""

    customer: Customer
    balance_due: Decimal
    open_count: int
    next_due: date | None  # the earliest unpaid due date, passed or not
    overdue_count: int
    overdue_since: date | None = None  # next_due, once it has passed


def _open(customer_id: int) -> sa.ColumnElement[bool]:
    """Open invoices of the account: the customer's and its locations' (billed with it)."""
    return sa.and_(
        Invoice.customer_id.in_(family_of(customer_id)),
        Invoice.balance > 0,
        ~Invoice.voided,
        ~Invoice.deleted,
    )


def account_summary(s: Session, customer_id: int, today: date) -> AccountSummary:
    """Balance due, open and overdue counts and the earliest due date, in one query."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    total, count, next_due, overdue = s.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Invoice.balance, type_=MONEY), 0),
            sa.func.count(Invoice.id),
            sa.func.min(Invoice.due_date),
            sa.func.count(sa.case((Invoice.due_date < today, Invoice.id))),
        ).where(_open(customer_id))
    ).one()
    return AccountSummary(
        customer=customer,
        balance_due=Decimal(total).quantize(Decimal("0.01")),
        open_count=count,
        next_due=next_due,
        overdue_count=overdue,
        overdue_since=next_due if next_due is not None and next_due < today else None,
    )


def open_invoices(s: Session, customer_id: int, limit: int = 50) -> list[Invoice]:
    """The account's unpaid invoices, oldest due first (each with its customer: a location's
    name is shown beside its invoices)."""
    return list(
        s.scalars(
            sa.select(Invoice)
            .options(joinedload(Invoice.customer))
            .where(_open(customer_id))
            .order_by(Invoice.due_date.asc().nulls_last(), Invoice.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class PastDueNotice:
    """The dashboard's one past-due message, its turn-off date said once (between
    `before` and `after`, so the page can make the date stand out)."""

    count: int
    before: str
    turn_off: str
    after: str
    service_off: bool


def past_due_notice(summary: AccountSummary, status: OverdueStatus) -> PastDueNotice | None:
    """What to tell a customer with overdue invoices, or None when nothing is overdue."""
    if not summary.overdue_count:
        return None
    if not status.overdue or status.turn_off_date is None:
        return PastDueNotice(summary.overdue_count, "", "", "", False)
    when = long_date(status.turn_off_date)
    before, found, after = status.message.partition(when)
    if not found:  # the configured message does not name the date: say it once, after it
        before, after = f"{status.message} Service turn-off date for non-payment: ", "."
    return PastDueNotice(summary.overdue_count, before, when, after, status.service_off)


def ask_about_service(s: Session, customer: Customer, item_id: int, day: date) -> CatalogItem:
    """E-mail the staff that this customer would like a recommended service (once a day
    per service); LookupError if it is not an active service of the customer's company."""
    item = s.scalar(
        sa.select(CatalogItem).where(
            CatalogItem.id == item_id,
            CatalogItem.realm_id == customer.realm_id,
            CatalogItem.active,
            CatalogItem.type == "Service",
        )
    )
    if item is None:
        raise LookupError(item_id)
    staff = s.scalars(
        sa.select(PortalUser.email).where(
            PortalUser.role.in_([Role.ADMIN, Role.BOOKKEEPER]), PortalUser.active
        )
    )
    for email in staff:
        cause = f"{customer.id}:{item.id}:{email}:{day.isoformat()}"
        key = "service-ask:" + hashlib.sha256(cause.encode()).hexdigest()[:40]
        if s.scalar(sa.select(OutboundEmail.id).where(OutboundEmail.dedupe_key == key)):
            continue
        queue_email(
            s,
            email,
            f"{customer.display_name} asks about {item.name}",
            "email/service_interest.txt",
            dedupe_key=key,
            customer=customer,
            item=item,
        )
    return item
