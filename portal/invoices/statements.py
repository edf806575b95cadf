"""A customer's statement for a date range: opening balance, activity with a running balance,
closing balance and the aging of what is open today. Money is Decimal from end to end."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.billing.locations import family_of
from portal.billing.models import CreditMemo, Customer, Invoice, ReceivedPayment
from portal.db import MONEY

ZERO = Decimal("0.00")
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_YEARS = 2
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadRange(ValueError):
    """The dates asked for cannot make a statement: a message for each field that is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def _parse_date(raw: str, name: str) -> date:
    """The day typed into the `name` field; ValueError says what is wrong with it."""
    raw = raw.strip()
    # fromisoformat alone also takes "20240101" and week dates; the form sends YYYY-MM-DD.
    if not _ISO_DATE.fullmatch(raw):
        raise ValueError(f"The {name} date must be written YYYY-MM-DD, such as 2025-01-31.")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"The {name} date {raw} is not a day of the calendar.") from None
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"The {name} date must be between 2000-01-01 and 2100-12-31.")
    return day


def oldest_open_invoice(s: Session, customer_id: int) -> date | None:
    """The date of the customer's oldest invoice with a balance, if any is open."""
    return s.scalar(
        sa.select(sa.func.min(Invoice.txn_date)).where(
            Invoice.customer_id.in_(family_of(customer_id)),
            Invoice.balance > 0,
            ~Invoice.voided,
            ~Invoice.deleted,
        )
    )


def default_start(end: date, oldest_open: date | None) -> date:
    """The earlier of 12 months before `end` and the oldest open invoice, so the statement
    opens on activity; never longer than a statement may be, nor before the earliest day."""
    start = _add_years(end, -1)
    if oldest_open is not None and oldest_open < start:
        start = oldest_open
    return max(start, _add_years(end, -MAX_YEARS), EARLIEST)


def parse_range(
    start: str | None, end: str | None, today: date, oldest_open: date | None = None
) -> tuple[date, date]:
    """The statement's dates (default: `default_start` to today), or BadRange saying what is
    wrong with which field."""
    errors: dict[str, str] = {}
    first: date | None = None
    last = today
    for name, raw in (("start", start), ("end", end)):
        if not raw:
            continue
        try:
            if name == "start":
                first = _parse_date(raw, name)
            else:
                last = _parse_date(raw, name)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise BadRange(errors)
    if first is None:
        first = default_start(last, oldest_open)
    if last < first:
        raise BadRange({"end": "The end date is before the start date."})
    if last > _add_years(first, MAX_YEARS):
        message = f"A statement covers at most {MAX_YEARS} years; choose a shorter range."
        raise BadRange({"end": message})
    return first, last


@dataclass(frozen=True)
class Entry:
    """One transaction on the statement: a charge raises the balance, a credit lowers it."""

    on: date
    kind: str  # "Invoice", "Credit memo" or "Payment"
    number: str
    charge: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Aging:
    """Today's open invoice balances by days past due."""

    current: Decimal = ZERO
    days_1_30: Decimal = ZERO
    days_31_60: Decimal = ZERO
    days_61_90: Decimal = ZERO
    over_90: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """All open balances."""
        return self.current + self.days_1_30 + self.days_31_60 + self.days_61_90 + self.over_90

    def buckets(self) -> list[tuple[str, Decimal]]:
        """(label, amount) in the order printed."""
        return [
            ("Current", self.current),
            ("1-30 days", self.days_1_30),
            ("31-60 days", self.days_31_60),
            ("61-90 days", self.days_61_90),
            ("Over 90 days", self.over_90),
        ]


@dataclass(frozen=True)
class Statement:
    """Everything printed on a statement."""

    customer: Customer
    start: date
    end: date
    today: date
    opening: Decimal
    entries: list[Entry]
    closing: Decimal
    aging: Aging


def _sum(column: InstrumentedAttribute[Decimal]) -> sa.ColumnElement[Decimal]:
    return sa.func.coalesce(sa.func.sum(column, type_=MONEY), 0)


def opening_balance(s: Session, customer_id: int, start: date) -> Decimal:
    """Balance forward at the start: Σ invoices - Σ payments - Σ credit memos dated before it.

    Invoice totals count when neither voided nor deleted; payment and credit memo totals when not
    deleted. A payment's total is the money received (an applied credit memo is a zero-total
    payment, so it moves nothing) and includes any unapplied part, so the result is what
    QuickBooks calls the customer's balance on that day: open invoice balances less unused
    payments and credits.
    """
    invoiced = (
        sa.select(_sum(Invoice.total_amt))
        .where(
            Invoice.customer_id.in_(family_of(customer_id)),
            Invoice.txn_date < start,
            ~Invoice.voided,
            ~Invoice.deleted,
        )
        .scalar_subquery()
    )
    paid = (
        sa.select(_sum(ReceivedPayment.total_amt))
        .where(
            ReceivedPayment.customer_id.in_(family_of(customer_id)),
            ReceivedPayment.txn_date < start,
            ~ReceivedPayment.deleted,
        )
        .scalar_subquery()
    )
    credited = (
        sa.select(_sum(CreditMemo.total_amt))
        .where(
            CreditMemo.customer_id.in_(family_of(customer_id)),
            CreditMemo.txn_date < start,
            ~CreditMemo.deleted,
        )
        .scalar_subquery()
    )
    row = s.execute(sa.select(invoiced, paid, credited)).one()
    return _money(row[0]) - _money(row[1]) - _money(row[2])


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _activity(
    s: Session, customer_id: int, start: date, end: date
) -> list[tuple[date, int, str, str, Decimal]]:
    """(date, order within the day, kind, number, signed amount) of the range, unsorted."""
    rows: list[tuple[date, int, str, str, Decimal]] = []
    invoices = s.execute(
        sa.select(Invoice.txn_date, Invoice.doc_number, Invoice.qbo_id, Invoice.total_amt).where(
            Invoice.customer_id.in_(family_of(customer_id)),
            Invoice.txn_date.between(start, end),
            ~Invoice.voided,
            ~Invoice.deleted,
        )
    )
    rows += [(on, 0, "Invoice", num or qbo, _money(amt)) for on, num, qbo, amt in invoices]
    memos = s.execute(
        sa.select(
            CreditMemo.txn_date, CreditMemo.doc_number, CreditMemo.qbo_id, CreditMemo.total_amt
        ).where(
            CreditMemo.customer_id.in_(family_of(customer_id)),
            CreditMemo.txn_date.between(start, end),
            ~CreditMemo.deleted,
        )
    )
    rows += [(on, 1, "Credit memo", num or qbo, -_money(amt)) for on, num, qbo, amt in memos]
    payments = s.execute(
        sa.select(
            ReceivedPayment.txn_date,
            ReceivedPayment.reference,
            ReceivedPayment.qbo_id,
            ReceivedPayment.total_amt,
        ).where(
            ReceivedPayment.customer_id.in_(family_of(customer_id)),
            ReceivedPayment.txn_date.between(start, end),
            ~ReceivedPayment.deleted,
            # A zero-total payment only applies a credit memo to an invoice: no money moved.
            ReceivedPayment.total_amt != 0,
        )
    )
    rows += [(on, 2, "Payment", ref or qbo, -_money(amt)) for on, ref, qbo, amt in payments]
    return rows


def _bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "days_1_30"
    if days_past_due <= 60:
        return "days_31_60"
    if days_past_due <= 90:
        return "days_61_90"
    return "over_90"


def aging(s: Session, customer_id: int, today: date) -> Aging:
    """Open invoice balances today by days past due (no due date: due on its date)."""
    rows = s.execute(
        sa.select(sa.func.coalesce(Invoice.due_date, Invoice.txn_date), Invoice.balance).where(
            Invoice.customer_id.in_(family_of(customer_id)),
            Invoice.balance > 0,
            ~Invoice.voided,
            ~Invoice.deleted,
        )
    )
    totals = dict.fromkeys(("current", "days_1_30", "days_31_60", "days_61_90", "over_90"), ZERO)
    for due, balance in rows:
        key = _bucket((today - due).days)
        totals[key] += _money(balance)
    return Aging(**totals)


def build_statement(
    s: Session, customer: Customer, start: date, end: date, today: date
) -> Statement:
    """The statement of one customer for start..end (both included)."""
    opening = opening_balance(s, customer.id, start)
    balance = opening
    entries: list[Entry] = []
    for on, _order, kind, number, signed in sorted(_activity(s, customer.id, start, end)):
        balance += signed
        charge, credit = (signed, ZERO) if signed >= 0 else (ZERO, -signed)
        entries.append(Entry(on, kind, number, charge, credit, balance))
    return Statement(
        customer=customer,
        start=start,
        end=end,
        today=today,
        opening=opening,
        entries=entries,
        closing=balance,
        aging=aging(s, customer.id, today),
    )
