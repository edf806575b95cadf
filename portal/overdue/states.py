"""Overdue states kept per customer by the hourly job, and the staff list built on them."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from portal.autopay.models import outside_current_plans
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from portal.db import MONEY, utcnow
from portal.notifications.jobs import ladder_draft, ladder_notices
from portal.notifications.service import Draft
from portal.overdue.ladder import OverdueState, OverdueStatus, open_overdue, state_for
from portal.overdue.models import CustomerOverdue

logger = logging.getLogger(__name__)


def _oldest_by_customer(today: date, settings: Settings) -> sa.Subquery:
    """Per customer with something overdue: the oldest due date and the overdue balance
    (invoices of a current payment plan hold, when the admin's policy says so)."""
    held = outside_current_plans(Invoice.id) if settings.autopay.plan_holds_ladder else sa.true()
    return (
        sa.select(
            Invoice.customer_id,
            sa.func.min(Invoice.due_date).label("oldest"),
            sa.func.sum(Invoice.balance, type_=MONEY).label("owed"),
        )
        .where(open_overdue(today), held)
        .group_by(Invoice.customer_id)
        .subquery()
    )


def refresh_states(
    sessions: sessionmaker[Session], settings: Settings, today: date
) -> Counter[str]:
    """Record every customer's state in a unit of work of its own (the hourly job)."""
    with sessions() as s:
        counts = record_states(s, settings, today)
        s.commit()
    return counts


def record_states(s: Session, settings: Settings, today: date) -> Counter[str]:
    """Record every customer's state in the caller's unit of work; counts by state."""
    counts: Counter[str] = Counter()
    overdue = _oldest_by_customer(today, settings)
    rows = s.execute(sa.select(overdue.c.customer_id, overdue.c.oldest)).all()
    oldest: dict[int, date] = {customer_id: due for customer_id, due in rows}
    stored = {row.customer_id: row for row in s.scalars(sa.select(CustomerOverdue))}
    notices: list[Draft | None] = []
    for customer_id, due in oldest.items():
        status = state_for(due, today, settings)
        if not status.overdue or status.since is None:
            continue
        counts[status.name.value] += 1
        row = stored.pop(customer_id, None)
        old = row.state if row is not None else None
        if row is None:
            row = CustomerOverdue(customer_id=customer_id)
            s.add(row)
        if old != status.name.value:
            logger.info("customer %s is now %s", customer_id, status.name.value)
            notices.append(
                ladder_draft(
                    customer_id,
                    old,
                    status.name,
                    status.since,
                    status.message,
                    status.turn_off_date,
                )
            )
        row.state, row.since, row.updated_at = status.name.value, status.since, utcnow()
    for row in stored.values():  # paid up (or within the first days): current again
        notices.append(
            ladder_draft(row.customer_id, row.state, OverdueState.CURRENT, today, "", None)
        )
        s.delete(row)
    # The notices are written with the states, in this unit of work: once per step.
    ladder_notices(s, notices)
    return counts


@dataclass(frozen=True)
class OverdueRow:
    """One overdue customer for the staff page: the recorded state beside the live one."""

    customer: Customer
    recorded: OverdueState
    recorded_since: date
    checked_at: datetime
    oldest_due_date: date | None
    overdue_balance: Decimal
    live: OverdueStatus


def overdue_customers(
    s: Session, settings: Settings, today: date, state: OverdueState | None = None
) -> list[OverdueRow]:
    """Customers the job recorded as overdue (optionally in one state), worst first."""
    overdue = _oldest_by_customer(today, settings)
    query = (
        sa.select(CustomerOverdue, Customer, overdue.c.oldest, overdue.c.owed)
        .join(Customer, Customer.id == CustomerOverdue.customer_id)
        .outerjoin(overdue, overdue.c.customer_id == CustomerOverdue.customer_id)
        .order_by(CustomerOverdue.since, Customer.display_name)
    )
    if state is not None:
        query = query.where(CustomerOverdue.state == state.value)
    rows = []
    for row, customer, oldest, owed in s.execute(query).all():
        rows.append(
            OverdueRow(
                customer=customer,
                recorded=OverdueState(row.state),
                recorded_since=row.since,
                checked_at=row.updated_at,
                oldest_due_date=oldest,
                overdue_balance=Decimal(owed or 0).quantize(Decimal("0.01")),
                live=state_for(oldest, today, settings),
            )
        )
    severity = list(OverdueState)
    rows.sort(key=lambda r: -severity.index(r.recorded))  # stable: oldest first within a state
    return rows
