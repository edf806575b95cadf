"""The staff customer list: search, a whitelisted sort, pages, and each one's last invitation."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import AccountMember, AccountToken, PortalUser, TokenPurpose
from portal.billing.models import Customer, Invoice
from portal.db import MONEY
from portal.overdue.ladder import open_overdue

PER_PAGE = 25
MAX_SEARCH = 100
# What each sort means; anything else asked for is the default, never a column name.
SORTS = {"name": "Name (A to Z)", "balance": "Balance (highest first)", "overdue": "Overdue (most)"}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class CustomerQuery:
    """What the staff member asked the list for, made safe."""

    q: str = ""
    sort: str = "name"
    page: int = 1

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query-string arguments of this list, some changed (for links); defaults left out."""
        values: dict[str, Any] = {"q": self.q, "sort": self.sort, "page": self.page}
        values.update(changes)
        defaults = {"q": "", "sort": "name", "page": 1}
        return {k: v for k, v in values.items() if v != defaults[k]}


def parse_query(args: Mapping[str, str]) -> CustomerQuery:
    """Read q, sort and page leniently: a staff list falls back to its defaults, never fails."""
    text = "".join(c for c in args.get("q", "") if unicodedata.category(c)[0] != "C")
    sort = args.get("sort", "name")
    return CustomerQuery(
        q=" ".join(text.split())[:MAX_SEARCH],
        sort=sort if sort in SORTS else "name",
        page=_page_number(args.get("page", "")),
    )


def _page_number(raw: str) -> int:
    """ASCII digits only (other digits, "-3", "2.5" and words are page 1); huge is clamped later."""
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit():
        return 1
    return int(raw) if len(raw) <= 9 else 10**9


@dataclass(frozen=True)
class Invitation:
    """The latest invitation to a customer: to whom and when, and what became of it."""

    email: str
    sent_at: datetime
    accepted_at: datetime | None
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return self.accepted_at is None and self.expires_at <= now


@dataclass(frozen=True)
class CustomerRow:
    """One line of the list."""

    customer: Customer
    logins: int
    overdue: Decimal
    invitation: Invitation | None


@dataclass(frozen=True)
class CustomerPage:
    """One page of customers, with the query as served (page clamped to 1..pages)."""

    rows: list[CustomerRow]
    query: CustomerQuery
    total: int
    pages: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(q: str) -> sa.ColumnElement[bool]:
    """Name, QuickBooks e-mail, or a login's username or e-mail contains q (any case)."""
    pattern = _like(q.lower())
    logins = (
        sa.select(AccountMember.customer_id)
        .join(PortalUser, PortalUser.id == AccountMember.user_id)
        .where(
            sa.or_(
                PortalUser.username_key.like(pattern, escape="\\"),
                PortalUser.email_key.like(pattern, escape="\\"),
            ),
        )
    )
    return sa.or_(
        sa.func.lower(Customer.display_name).like(pattern, escape="\\"),
        sa.func.lower(Customer.email).like(pattern, escape="\\"),
        Customer.id.in_(logins),
    )


def customer_page(s: Session, query: CustomerQuery, today: date) -> CustomerPage:
    """The page asked for, in four queries whatever the number of customers."""
    where = [_matches(query.q)] if query.q else []
    total = s.scalar(sa.select(sa.func.count(Customer.id)).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(query.page, 1), pages)
    owed = (
        sa.select(Invoice.customer_id, sa.func.sum(Invoice.balance, type_=MONEY).label("owed"))
        .where(open_overdue(today))
        .group_by(Invoice.customer_id)
        .subquery()
    )
    overdue = sa.func.coalesce(owed.c.owed, 0)
    order: dict[str, sa.ColumnElement[Any]] = {
        "name": sa.func.lower(Customer.display_name).asc(),
        "balance": Customer.balance.desc(),
        "overdue": overdue.desc(),
    }
    found = s.execute(
        sa.select(Customer, overdue)
        .outerjoin(owed, owed.c.customer_id == Customer.id)
        .where(*where)
        .order_by(order[query.sort], sa.func.lower(Customer.display_name), Customer.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    ids = [c.id for c, _ in found]
    logins, invitations = _logins(s, ids), _invitations(s, ids)
    rows = [
        CustomerRow(c, logins.get(c.id, 0), Decimal(o or 0).quantize(ZERO), invitations.get(c.id))
        for c, o in found
    ]
    return CustomerPage(rows, CustomerQuery(query.q, query.sort, page), total, pages)


def _logins(s: Session, ids: list[int]) -> dict[int, int]:
    """How many people are on each account."""
    rows = s.execute(
        sa.select(AccountMember.customer_id, sa.func.count(AccountMember.id))
        .where(AccountMember.customer_id.in_(ids))
        .group_by(AccountMember.customer_id)
    )
    return {customer_id: count for customer_id, count in rows}


def _invitations(s: Session, ids: list[int]) -> dict[int, Invitation]:
    """Each customer's newest invitation (the address it went to is kept with its token)."""
    newest = (
        sa.select(sa.func.max(AccountToken.id))
        .where(AccountToken.purpose == TokenPurpose.INVITE, AccountToken.customer_id.in_(ids))
        .group_by(AccountToken.customer_id)
    )
    found = {}
    for token in s.scalars(sa.select(AccountToken).where(AccountToken.id.in_(newest))):
        if token.customer_id is not None and token.email:
            found[token.customer_id] = Invitation(
                token.email, token.created_at, token.used_at, token.expires_at
            )
    return found
