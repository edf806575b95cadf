"""The three ledgers of money compared: portal payments, QuickBooks Payments and the card
processor's transactions, matched by the processor's transaction id (QuickBooks keeps it as
PaymentRefNum) and, at the processor, by our attempt key (invoiceNumber)."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from portal.billing.models import Customer
from portal.clock import today
from portal.db import utcnow
from portal.formatting import moment, money
from portal.payments.gateway import Outcome, PaymentGateway, ProcessorTransaction
from portal.payments.models import Payment, PaymentState
from sync.accounting import AccountingAdapter, Entity, PaymentRecord
from sync.quickbooks.connection import connected_realms
from sync.service import default_adapters, sessions_of

logger = logging.getLogger(__name__)

PORTAL, QUICKBOOKS, PROCESSOR = "portal", "QuickBooks", "processor"
DEFAULT_DAYS = 90
# A write-back still queued, or a payment still being settled, is normal for this long.
GRACE = timedelta(hours=1)
# The shape of the keys payments.service.start makes ("P" + 18 upper-case hex digits): a
# processor transaction with another key (or none) was made by someone else, not the portal.
OUR_KEY = re.compile(r"P[0-9A-F]{18}")
AdapterFactory = Callable[[str], AccountingAdapter]
IN_FLIGHT = (PaymentState.INIT, PaymentState.PENDING, PaymentState.UNKNOWN)
CHUNK = 500  # keys in one IN (...) list


class ReconcileError(Exception):
    """A ledger could not be read; safe to show."""


@dataclass(frozen=True)
class PortalPayment:
    """What reconciliation needs of a portal payment."""

    id: int
    state: PaymentState
    gateway_key: str
    total: Decimal
    created_at: datetime
    trans_id: str | None = None
    qbo_payment_id: str | None = None
    charged_at: datetime | None = None

    @classmethod
    def of(cls, p: Payment) -> PortalPayment:
        """The plain record of a payment row."""
        return cls(
            p.id,
            p.state,
            p.gateway_key,
            p.total,
            p.created_at,
            p.gateway_trans_id,
            p.qbo_payment_id,
            p.charged_at,
        )


@dataclass(frozen=True)
class Tally:
    """How many payments one ledger holds, and their sum."""

    count: int = 0
    total: Decimal = Decimal("0.00")


@dataclass
class Report:
    """The ledgers side by side; `differences` are what a person must look at."""

    counts: dict[str, Tally]
    differences: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # write-backs queued under an hour
    needs_review: list[str] = field(default_factory=list)  # being settled, under an hour

    @property
    def ok(self) -> bool:
        """True when the three ledgers agree."""
        return not self.differences

    def lines(self) -> list[str]:
        """The report in words: a table of the ledgers, then everything noticed."""
        out = [f"{'ledger':<12}{'payments':>10}{'total':>16}"]
        for name, tally in self.counts.items():
            out.append(f"{name:<12}{tally.count:>10}{_money(tally.total):>16}")
        out += [f"waiting for write-back: {line}" for line in self.waiting]
        out += [f"needs review: {line}" for line in self.needs_review]
        if self.ok:
            out.append("the three ledgers agree")
        else:
            out.append(f"{len(self.differences)} difference(s):")
            out += self.differences
        return out


def _money(amount: Decimal) -> str:
    return money(amount, signed=amount < 0)  # a shortfall is "-$5.00", never "$5.00 credit"


def _stamp(instant: datetime) -> str:
    return moment(instant)  # in the company's zone when run inside the app


def _tally(amounts: Iterable[Decimal]) -> Tally:
    listed = list(amounts)
    return Tally(len(listed), sum(listed, Decimal("0.00")))


def reconcile(
    portal_payments: Sequence[PortalPayment],
    qbo_payments: Sequence[PaymentRecord],
    processor_txns: Sequence[ProcessorTransaction],
    now: datetime | None = None,
) -> Report:
    """Compare the three ledgers; QuickBooks Payments and processor transactions that the
    portal did not make (no matching transaction id or key) are left out."""
    now = now or utcnow()
    by_key = {p.gateway_key: p for p in portal_payments}
    succeeded = [p for p in portal_payments if p.state is PaymentState.SUCCEEDED]
    by_trans = {p.trans_id: p for p in succeeded if p.trans_id}
    portal_ids = {p.trans_id for p in portal_payments if p.trans_id}
    ours = [
        t
        for t in processor_txns
        if t.trans_id in portal_ids or (t.key and (t.key in by_key or OUR_KEY.fullmatch(t.key)))
    ]
    txn_by_id = {t.trans_id: t for t in ours}
    approved = [t for t in ours if t.outcome is Outcome.APPROVED]
    known = portal_ids | set(txn_by_id)
    qbo_by_ref: dict[str, list[PaymentRecord]] = defaultdict(list)
    for q in qbo_payments:
        if q.reference and q.reference in known:
            qbo_by_ref[q.reference].append(q)

    report = Report(
        counts={
            PORTAL: _tally(p.total for p in succeeded),
            QUICKBOOKS: _tally(q.total for qs in qbo_by_ref.values() for q in qs),
            PROCESSOR: _tally(t.amount for t in approved),
        }
    )
    for t in sorted(approved, key=lambda t: t.trans_id):
        if t.trans_id not in by_trans:
            _not_recorded(report, t, by_key.get(t.key or ""), now)
    for p in sorted(succeeded, key=lambda p: p.id):
        _check_succeeded(report, p, txn_by_id, qbo_by_ref.get(p.trans_id or "", []), now)
    for ref, qs in sorted(qbo_by_ref.items()):
        _check_quickbooks(report, ref, qs, by_trans.get(ref), txn_by_id.get(ref))
    for p in sorted(portal_payments, key=lambda p: p.id):
        _check_in_flight(report, p, now)
    return report


def _not_recorded(
    report: Report, t: ProcessorTransaction, p: PortalPayment | None, now: datetime
) -> None:
    """The processor took money the portal has no success for."""
    if p is not None and p.state in IN_FLIGHT and now - p.created_at < GRACE:
        return  # recovery has not asked yet: listed under needs review
    line = (
        f"charged but not recorded in the portal: processor transaction {t.trans_id} "
        f"(key {t.key or 'none'}, {_money(t.amount)}, {t.status})"
    )
    if p is not None and p.state is PaymentState.SUCCEEDED:
        line += f"; portal payment {p.id} with that key succeeded as transaction {p.trans_id}"
    elif p is not None:
        line += f"; portal payment {p.id} with that key is {p.state.value}"
    report.differences.append(line)


def _check_succeeded(
    report: Report,
    p: PortalPayment,
    txn_by_id: dict[str, ProcessorTransaction],
    in_qbo: list[PaymentRecord],
    now: datetime,
) -> None:
    """A portal success must be a charge at the processor and one Payment in QuickBooks."""
    what = f"portal payment {p.id} (transaction {p.trans_id}, {_money(p.total)})"
    if not p.trans_id:
        report.differences.append(
            f"recorded but not charged: portal payment {p.id} ({_money(p.total)}) succeeded "
            "without a processor transaction id"
        )
        return
    t = txn_by_id.get(p.trans_id)
    if t is None:
        report.differences.append(
            f"recorded but not charged: {what} is not listed by the processor"
        )
    elif t.outcome is not Outcome.APPROVED:
        report.differences.append(
            f"recorded but not charged: {what} is {t.status} ({t.outcome.value}) at the processor"
        )
    amounts = {PORTAL: p.total}
    if t is not None and t.outcome is Outcome.APPROVED:
        amounts[PROCESSOR] = t.amount
    if len(in_qbo) == 1:
        amounts[QUICKBOOKS] = in_qbo[0].total
        if p.qbo_payment_id and p.qbo_payment_id != in_qbo[0].id:
            report.differences.append(
                f"{what} links QuickBooks Payment {p.qbo_payment_id}, but the Payment with "
                f"PaymentRefNum {p.trans_id} is {in_qbo[0].id}"
            )
    if len(set(amounts.values())) > 1:
        listed = ", ".join(f"{name} {_money(a)}" for name, a in amounts.items())
        report.differences.append(f"amounts differ for transaction {p.trans_id}: {listed}")
    if not in_qbo:
        _missing_in_quickbooks(report, p, what, now)


def _missing_in_quickbooks(report: Report, p: PortalPayment, what: str, now: datetime) -> None:
    charged = p.charged_at or p.created_at
    if p.qbo_payment_id is None and now - charged < GRACE:
        report.waiting.append(f"{what}, charged {_stamp(charged)}")
    elif p.qbo_payment_id is None:
        report.differences.append(
            f"charged but not in QuickBooks: {what}, charged {_stamp(charged)}, is still "
            "waiting for its write-back"
        )
    else:
        report.differences.append(
            f"charged but not in QuickBooks: {what} was written as QuickBooks Payment "
            f"{p.qbo_payment_id}, but no Payment has PaymentRefNum {p.trans_id}"
        )


def _check_quickbooks(
    report: Report,
    ref: str,
    qs: list[PaymentRecord],
    p: PortalPayment | None,
    t: ProcessorTransaction | None,
) -> None:
    """One QuickBooks Payment per charge, and only for money actually taken."""
    ids = ", ".join(q.id for q in qs)
    if len(qs) > 1:
        times = "twice" if len(qs) == 2 else f"{len(qs)} times"
        amounts = ", ".join(_money(q.total) for q in qs)
        report.differences.append(
            f"in QuickBooks {times}: transaction {ref} is on Payments {ids} ({amounts})"
        )
    if p is not None:
        return  # checked with the portal payment
    if t is None or t.outcome is not Outcome.APPROVED:
        status = f"is {t.status} at the processor" if t else "no ledger shows as charged"
        report.differences.append(
            f"in QuickBooks but not charged: Payment {ids} has PaymentRefNum {ref}, which {status}"
        )
    elif len(qs) == 1 and qs[0].total != t.amount:
        report.differences.append(
            f"amounts differ for transaction {ref}: processor {_money(t.amount)}, "
            f"QuickBooks {_money(qs[0].total)}"
        )


def _check_in_flight(report: Report, p: PortalPayment, now: datetime) -> None:
    """Payments being settled (UNKNOWN, or PENDING past the grace) need a person after an hour."""
    age = now - p.created_at
    if p.state is not PaymentState.UNKNOWN and not (
        p.state is PaymentState.PENDING and age >= GRACE
    ):
        return
    what = (
        f"portal payment {p.id} (key {p.gateway_key}, {_money(p.total)}) is {p.state.value} "
        f"since {_stamp(p.created_at)}"
    )
    if age < GRACE:
        report.needs_review.append(what)
    else:
        report.differences.append(f"needs review: {what}")


# --- reading the ledgers -----------------------------------------------------------------


def start_of(since: date | None) -> datetime:
    """The first moment compared: midnight UTC of `since` (default: 90 days ago)."""
    return datetime.combine(since or today() - timedelta(days=DEFAULT_DAYS), time(), UTC)


def gather(
    app: Flask,
    since: date | None = None,
    now: datetime | None = None,
    gateway: PaymentGateway | None = None,
    adapters: AdapterFactory | None = None,
) -> Report:
    """Read the three ledgers from `since` on and compare them; the processor and QuickBooks
    are the app's unless given. Raises ReconcileError, and GatewayError or AccountingError
    when the processor or QuickBooks cannot be read."""
    start = start_of(since)
    if gateway is None:
        gateway = app.extensions.get("portal.gateway")
    if gateway is None:
        raise ReconcileError("online payments are off (authorizenet is not configured)")
    sessions = sessions_of(app)
    listed = gateway.transactions(start)
    with sessions() as s:
        portal, realms = _portal_payments(s, start, listed)
    realms |= set(connected_realms(sessions))
    if not realms:
        raise ReconcileError("QuickBooks is not connected: connect it on /admin/quickbooks")
    adapters = adapters or default_adapters(app)
    seen: dict[tuple[str, str], PaymentRecord] = {}
    for realm in sorted(realms):
        adapter = adapters(realm)
        for page in adapter.pages(Entity.PAYMENT):
            for row in page:
                if isinstance(row, PaymentRecord):
                    seen[(adapter.realm_id, row.id)] = row
    logger.info(
        "reconciling since %s: %d portal payments, %d processor transactions, %d QuickBooks "
        "Payments",
        start.date(),
        len(portal),
        len(listed),
        len(seen),
    )
    return reconcile(portal, list(seen.values()), listed, now)


def _portal_payments(
    s: Session, start: datetime, listed: list[ProcessorTransaction]
) -> tuple[list[PortalPayment], set[str]]:
    """Payments made since `start`, plus older ones of ours the processor lists (it lists
    what settled since `start`, whenever it was charged); with their customers' realms."""
    query = sa.select(Payment, Customer.realm_id).join(Customer, Customer.id == Payment.customer_id)
    rows = list(s.execute(query.where(Payment.created_at >= start)).all())
    recent = {p.gateway_key for p, _ in rows}
    older = sorted({t.key for t in listed if t.key and OUR_KEY.fullmatch(t.key)} - recent)
    for at in range(0, len(older), CHUNK):
        chunk = older[at : at + CHUNK]
        rows += s.execute(query.where(Payment.gateway_key.in_(chunk))).all()
    return [PortalPayment.of(p) for p, _ in rows], {realm for _, realm in rows}
