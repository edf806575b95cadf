"""Read models of a customer's invoices: the filtered, sorted, paged list and one invoice's
detail with what was applied to it. Every query is scoped to one customer."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, joinedload, selectinload

from portal.billing.locations import family_of
from portal.billing.models import CreditMemo, Invoice, PaymentApplication, ReceivedPayment
from portal.payments.models import Payment, PaymentAllocation, PaymentState

PER_PAGE = 50
MAX_QUERY = 50  # longer than any doc number (21), so nothing real is cut
LATE_FEE_ITEM = "late fee"
MAX_ID = 2**31 - 1  # ids are INTEGER columns


class InvoiceStatus(enum.StrEnum):
    """What the customer sees on an invoice's badge."""

    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    OVERDUE = "overdue"
    PAID = "paid"
    VOIDED = "voided"

    @property
    def label(self) -> str:
        """The badge text."""
        return self.value.replace("_", " ").capitalize()


SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "date": Invoice.txn_date,
    "due": Invoice.due_date,
    "number": Invoice.doc_number,
    "total": Invoice.total_amt,
    "balance": Invoice.balance,
}
FILTERS = ("all", *(s.value for s in InvoiceStatus))


class BadListQuery(ValueError):
    """A list parameter outside its whitelist; the message is shown to the customer."""


@dataclass(frozen=True)
class ListQuery:
    """What the customer asked the list for, validated."""

    status: str = "all"
    q: str = ""
    sort: str = "date"
    direction: str = "desc"
    page: int = 1

    def args(self, **changes: object) -> dict[str, object]:
        """The query-string arguments of this list, with some changed (for links)."""
        values: dict[str, object] = {
            "status": self.status,
            "q": self.q,
            "sort": self.sort,
            "dir": self.direction,
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}


def parse_list_query(args: Mapping[str, str]) -> ListQuery:
    """Validate status, q, sort, dir and page; raise BadListQuery saying what is wrong."""
    status = args.get("status", "all") or "all"
    if status not in FILTERS:
        raise BadListQuery(
            f"Unknown status filter “{status[:30]}”. Choose one of: " + ", ".join(FILTERS) + "."
        )
    sort = args.get("sort", "date") or "date"
    if sort not in SORTS:
        raise BadListQuery(f"Unknown sort “{sort[:30]}”. Sort by one of: " + ", ".join(SORTS) + ".")
    direction = args.get("dir", "desc") or "desc"
    if direction not in ("asc", "desc"):
        raise BadListQuery("The sort direction must be “asc” or “desc”.")
    return ListQuery(
        status=status,
        q=args.get("q", "").strip()[:MAX_QUERY],
        sort=sort,
        direction=direction,
        page=_page_number(args.get("page", "1")),
    )


def _page_number(raw: str) -> int:
    """A page number as asked; out-of-range values are clamped later, words are refused."""
    raw = raw.strip() or "1"
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise BadListQuery("The page must be a whole number, such as 1 or 2.")
    if len(raw) > 12:  # beyond any real page: the last (or first) page, without a huge int
        return 1 if raw.startswith("-") else 10**12
    return int(raw)


def status_of(invoice: Invoice, today: date) -> InvoiceStatus:
    """The badge of one invoice; overdue wins over partly paid (kept in step with _status_is)."""
    if invoice.voided:
        return InvoiceStatus.VOIDED
    if invoice.balance <= 0:
        return InvoiceStatus.PAID
    if invoice.due_date is not None and invoice.due_date < today:
        return InvoiceStatus.OVERDUE
    if invoice.balance < invoice.total_amt:
        return InvoiceStatus.PARTLY_PAID
    return InvoiceStatus.OPEN


def _status_is(status: InvoiceStatus, today: date) -> sa.ColumnElement[bool]:
    """The SQL twin of status_of, so a filter shows exactly the invoices with that badge."""
    owed = sa.and_(~Invoice.voided, Invoice.balance > 0)
    overdue = sa.and_(Invoice.due_date.is_not(None), Invoice.due_date < today)
    clauses: dict[InvoiceStatus, sa.ColumnElement[bool]] = {
        InvoiceStatus.VOIDED: Invoice.voided.is_(True),
        InvoiceStatus.PAID: sa.and_(~Invoice.voided, Invoice.balance <= 0),
        InvoiceStatus.OVERDUE: sa.and_(owed, overdue),
        InvoiceStatus.PARTLY_PAID: sa.and_(owed, ~overdue, Invoice.balance < Invoice.total_amt),
        InvoiceStatus.OPEN: sa.and_(owed, ~overdue, Invoice.balance >= Invoice.total_amt),
    }
    return clauses[status]


@dataclass(frozen=True)
class InvoiceRow:
    """One line of the list."""

    invoice: Invoice
    status: InvoiceStatus


@dataclass(frozen=True)
class InvoicePage:
    """One page of the customer's invoices."""

    rows: list[InvoiceRow]
    query: ListQuery  # with the page clamped to 1..pages
    total: int
    pages: int


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_invoices(s: Session, customer_id: int, query: ListQuery, today: date) -> InvoicePage:
    """The page asked for, in two queries (count, rows) whatever the number of invoices; the
    account's locations' invoices are among them, each with its customer (for the name)."""
    where = [Invoice.customer_id.in_(family_of(customer_id)), ~Invoice.deleted]
    if query.status != "all":
        where.append(_status_is(InvoiceStatus(query.status), today))
    if query.q:
        where.append(Invoice.doc_number.ilike(f"%{_like_escaped(query.q)}%", escape="\\"))
    total = s.scalar(sa.select(sa.func.count(Invoice.id)).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(query.page, 1), pages)
    column = SORTS[query.sort]
    ordered = column.asc() if query.direction == "asc" else column.desc()
    tiebreak = Invoice.id.asc() if query.direction == "asc" else Invoice.id.desc()
    invoices = s.scalars(
        sa.select(Invoice)
        .options(joinedload(Invoice.customer))
        .where(*where)
        .order_by(ordered.nulls_last(), tiebreak)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    rows = [InvoiceRow(i, status_of(i, today)) for i in invoices]
    clamped = ListQuery(query.status, query.q, query.sort, query.direction, page)
    return InvoicePage(rows=rows, query=clamped, total=total, pages=pages)


def own_invoice(s: Session, customer_id: int, invoice_id: int) -> Invoice | None:
    """The account's invoice (its own or a location's) with its lines, or None (missing,
    deleted or someone else's, a sub-customer billed on its own included)."""
    if not 0 < invoice_id <= MAX_ID:  # the database would refuse it: an error, not a 404
        return None
    return s.scalar(
        sa.select(Invoice)
        .options(selectinload(Invoice.lines), joinedload(Invoice.customer))
        .where(
            Invoice.id == invoice_id,
            Invoice.customer_id.in_(family_of(customer_id)),
            ~Invoice.deleted,
        )
    )


def is_late_fee(item_name: str | None) -> bool:
    """Whether a line is a late fee (the QuickBooks item the overdue job adds)."""
    return (item_name or "").strip().lower() == LATE_FEE_ITEM


@dataclass(frozen=True)
class AppliedPayment:
    """A payment as applied to one invoice."""

    on: date
    reference: str | None
    payment_total: Decimal
    applied: Decimal
    pending: bool  # taken by the portal, not yet in QuickBooks


@dataclass(frozen=True)
class AppliedCredit:
    """A credit memo applied (through a QuickBooks payment) alongside this invoice."""

    on: date
    doc_number: str | None
    amount: Decimal


@dataclass(frozen=True)
class Applied:
    """Everything applied to one invoice."""

    payments: list[AppliedPayment]
    credits: list[AppliedCredit]


def applied_to(s: Session, invoice: Invoice) -> Applied:
    """Mirrored payments and credits applied to the invoice, then portal payments not yet
    mirrored, in three queries. Whoever paid (a location's invoice is paid by the account, the
    parent in QuickBooks), the link to this invoice is what counts."""
    mirrored = list(
        s.execute(
            sa.select(ReceivedPayment, PaymentApplication.amount)
            .join(PaymentApplication, PaymentApplication.payment_id == ReceivedPayment.id)
            .where(
                ReceivedPayment.realm_id == invoice.realm_id,
                ~ReceivedPayment.deleted,
                PaymentApplication.txn_type == "Invoice",
                PaymentApplication.txn_qbo_id == invoice.qbo_id,
            )
            .order_by(ReceivedPayment.txn_date, ReceivedPayment.id)
        )
    )
    payments = [
        AppliedPayment(p.txn_date, p.reference, p.total_amt, amount, pending=False)
        for p, amount in mirrored
    ]
    credits = _credits(s, invoice, [p.id for p, _ in mirrored])
    payments += _pending_portal_payments(s, invoice)
    return Applied(payments=payments, credits=credits)


def _credits(s: Session, invoice: Invoice, payment_ids: list[int]) -> list[AppliedCredit]:
    """Credit memo lines of the payments that paid this invoice (QuickBooks applies a credit
    as a payment linking the memo and the invoice)."""
    if not payment_ids:
        return []
    memo = aliased(CreditMemo)
    rows = s.execute(
        sa.select(ReceivedPayment.txn_date, memo.doc_number, PaymentApplication.amount)
        .join(PaymentApplication, PaymentApplication.payment_id == ReceivedPayment.id)
        .outerjoin(
            memo,
            sa.and_(
                memo.realm_id == invoice.realm_id,
                memo.qbo_id == PaymentApplication.txn_qbo_id,
            ),
        )
        .where(ReceivedPayment.id.in_(payment_ids), PaymentApplication.txn_type == "CreditMemo")
        .order_by(ReceivedPayment.txn_date, PaymentApplication.id)
    )
    return [AppliedCredit(on, number, amount) for on, number, amount in rows]


def _pending_portal_payments(s: Session, invoice: Invoice) -> list[AppliedPayment]:
    """Succeeded portal payments whose QuickBooks payment is not mirrored yet: the customer
    paid, so the page says so before the next sync catches up."""
    mirrored = sa.exists().where(
        ReceivedPayment.realm_id == invoice.realm_id,
        ReceivedPayment.qbo_id == Payment.qbo_payment_id,
    )
    rows = s.execute(
        sa.select(Payment, PaymentAllocation.amount)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.invoice_id == invoice.id,
            Payment.state == PaymentState.SUCCEEDED,
            sa.or_(Payment.qbo_payment_id.is_(None), ~mirrored),
        )
        .order_by(Payment.id)
    )
    return [
        AppliedPayment(
            (p.charged_at or p.created_at).date(), p.gateway_key, p.total, amount, pending=True
        )
        for p, amount in rows
    ]
