"""The late-fee job: one fee per invoice and period, committed with its QuickBooks write-back.

A fee row is unique per (invoice, period) and is inserted in the same transaction as its
outbox message and the optimistic change to the mirrored invoice, so a second run, a
concurrent run or a crash midway never charges twice: the row either exists with its message
or neither does. The mirrored invoice gets its balance, total and a labelled fee line at once;
the next sync after the write-back replaces that line with QuickBooks' own (same text)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portal import outbox
from portal.autopay.models import outside_current_plans
from portal.billing.locations import family_of
from portal.billing.models import CatalogItem, Customer, Invoice, InvoiceLine
from portal.config import Settings
from portal.db import MONEY
from portal.outbox import OutboxMessage, OutboxStatus
from portal.overdue.models import LateFee
from portal.overdue.policy import LateFeePolicy, fee_description, fee_for, fee_period
from portal.overdue.store import current_policy

logger = logging.getLogger(__name__)

KIND = "qbo.late_fee"


@dataclass
class FeeRun:
    """What one run of the fee job did."""

    added: int = 0
    skipped: int = 0  # another run charged it first, or nothing was left to charge on
    warnings: list[str] = field(default_factory=list)


def open_invoice() -> sa.ColumnElement[bool]:
    """Something is still owed on the invoice."""
    return sa.and_(Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted)


def apply_late_fees(sessions: sessionmaker[Session], settings: Settings, today: date) -> FeeRun:
    """Charge every fee due today that is not charged yet (the hourly job)."""
    run = FeeRun()
    with sessions() as s:
        policy = current_policy(s, settings)
        if not policy.enabled:
            return run
        due = _due(s, policy, today, settings.autopay.plan_holds_ladder)
        charged = _charged(s, [invoice_id for invoice_id, _, _ in due])
        items = fee_items(s, policy.item_name)
    missing: set[str] = set()
    for invoice_id, realm, due_date in due:
        period = fee_period(policy, due_date, today)
        if period is None or (invoice_id, period) in charged:
            continue
        if realm not in items:
            missing.add(realm)
            continue
        # One transaction per fee: a crash keeps the fees already committed, whole.
        with sessions() as s:
            try:
                added = charge(s, policy, invoice_id, period, items[realm])
                s.commit()
            except IntegrityError:  # a concurrent run inserted the same (invoice, period)
                s.rollback()
                added = False
        run.added += added
        run.skipped += not added
    for realm in sorted(missing):
        run.warnings.append(
            f"QuickBooks company {realm} has no active service item named "
            f"{policy.item_name!r}: no late fees were added there. Create it in QuickBooks "
            "(income account: Other Income) and sync, or change the item on the policy."
        )
        logger.warning("late fees skipped in %s: no item named %r", realm, policy.item_name)
    return run


def _due(
    s: Session, policy: LateFeePolicy, today: date, plans_hold: bool
) -> list[tuple[int, str, date]]:
    """Open invoices past due by more than the grace days, but none a current payment plan
    covers when `plans_hold`: (id, realm, due date)."""
    last_due = today - timedelta(days=policy.grace_days)
    held = outside_current_plans(Invoice.id) if plans_hold else sa.true()
    rows = s.execute(
        sa.select(Invoice.id, Invoice.realm_id, Invoice.due_date)
        .where(open_invoice(), Invoice.due_date.is_not(None), Invoice.due_date < last_due, held)
        .order_by(Invoice.id)
    ).all()
    return [(i, realm, due) for i, realm, due in rows if due is not None]


def _charged(s: Session, invoice_ids: list[int]) -> set[tuple[int, str]]:
    """(invoice, period) pairs already charged, so a repeat run opens no transaction."""
    if not invoice_ids:
        return set()
    rows = s.execute(
        sa.select(LateFee.invoice_id, LateFee.period).where(LateFee.invoice_id.in_(invoice_ids))
    ).all()
    return {(i, p) for i, p in rows}


def fee_items(s: Session, name: str) -> dict[str, str]:
    """The fee Item's QuickBooks Id per company, matched by name as QuickBooks does (no case)."""
    rows = s.execute(
        sa.select(CatalogItem.realm_id, CatalogItem.qbo_id)
        .where(sa.func.lower(CatalogItem.name) == name.strip().lower(), CatalogItem.active)
        .order_by(CatalogItem.id.desc())
    ).all()
    return {realm: qbo_id for realm, qbo_id in rows}


def charge(s: Session, policy: LateFeePolicy, invoice_id: int, period: str, item_id: str) -> bool:
    """Add one fee, its outbox message and the mirrored line; False when nothing is owed."""
    invoice = s.scalar(
        sa.select(Invoice).where(Invoice.id == invoice_id, open_invoice()).with_for_update()
    )
    if invoice is None:  # paid or voided since the job looked
        return False
    amount = fee_for(policy, fee_base(s, invoice))
    if amount <= 0:
        return False
    fee = LateFee(
        invoice_id=invoice.id,
        period=period,
        amount=amount,
        description=fee_description(period, invoice.doc_number),
        item_name=policy.item_name,
    )
    s.add(fee)
    s.flush()  # the unique (invoice, period) is checked here
    message = outbox.enqueue(
        s,
        KIND,
        invoice.realm_id,
        {"late_fee_id": fee.id},
        dedupe_key=f"late_fee:{fee.id}",
        effects=[(invoice.qbo_id, amount)],
    )
    s.flush()
    fee.outbox_id = message.id
    _mirror(s, invoice, fee, item_id)
    logger.info("late fee %s of %s on invoice %s for %s", fee.id, amount, invoice.id, period)
    return True


def fee_base(s: Session, invoice: Invoice) -> Decimal:
    """The overdue balance a percentage applies to: fees already charged are not charged on."""
    fees = s.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LateFee.amount, type_=MONEY), 0)).where(
            LateFee.invoice_id == invoice.id
        )
    )
    return max(Decimal(0), invoice.balance - Decimal(fees or 0))


def _mirror(s: Session, invoice: Invoice, fee: LateFee, item_id: str) -> None:
    """Show the fee now: invoice total and balance, customer balance, and a labelled line."""
    # Increments in SQL: a payment landing meanwhile is never overwritten.
    s.execute(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(total_amt=Invoice.total_amt + fee.amount, balance=Invoice.balance + fee.amount)
        .execution_options(synchronize_session="fetch")
    )
    s.execute(
        sa.update(Customer)
        .where(Customer.id == invoice.customer_id)
        .values(balance=Customer.balance + fee.amount)
        .execution_options(synchronize_session=False)
    )
    last = s.scalar(
        sa.select(sa.func.coalesce(sa.func.max(InvoiceLine.position), 0)).where(
            InvoiceLine.invoice_id == invoice.id
        )
    )
    s.add(
        InvoiceLine(
            invoice_id=invoice.id,
            position=int(last or 0) + 1,
            item_ref=item_id,
            item_name=fee.item_name,
            description=fee.description,
            qty=Decimal(1),
            unit_price=fee.amount,
            amount=fee.amount,
        )
    )


def unpaid_fees(s: Session, customer_id: int) -> Decimal:
    """Late fees still owed on the account (its locations' included): per open invoice, its
    fees capped by its balance, summed."""
    fees = (
        sa.select(LateFee.invoice_id, sa.func.sum(LateFee.amount, type_=MONEY).label("total"))
        .group_by(LateFee.invoice_id)
        .subquery()
    )
    owed = sa.case((fees.c.total < Invoice.balance, fees.c.total), else_=Invoice.balance)
    total = s.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(owed, type_=MONEY), 0))
        .join(fees, fees.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id.in_(family_of(customer_id)), open_invoice())
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class FeeRow:
    """One charged fee for the admin page."""

    fee: LateFee
    invoice: Invoice
    customer: Customer
    message: OutboxMessage | None

    @property
    def status(self) -> str:
        """In words, for staff."""
        if self.message is None or self.message.status is OutboxStatus.PENDING:
            return "queued"
        if self.message.status is OutboxStatus.PARKED:
            return "parked"
        return "written to QuickBooks"


def recent_fees(s: Session, limit: int = 50) -> list[FeeRow]:
    """The latest fees with their invoice, customer and write-back message."""
    rows = s.execute(
        sa.select(LateFee, Invoice, Customer, OutboxMessage)
        .join(Invoice, Invoice.id == LateFee.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == LateFee.outbox_id)
        .order_by(LateFee.id.desc())
        .limit(limit)
    ).all()
    return [FeeRow(f, i, c, m) for f, i, c, m in rows]
