"""An account's service locations: QuickBooks sub-customers billed with the parent.

The account is a customer and, at any depth, its sub-customers billed with it ("the
family"): every customer page reads invoices, balances and payments of the account through
`family_of`, so a location's invoice shows under the parent and can be paid with the rest. A
sub-customer billed on its own is an account of its own and is never shown under the parent."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from portal.audit.service import Actor, record
from portal.billing.models import Customer, Invoice
from portal.db import MONEY

NAME_MAX = 100  # characters, as the column holds them


def family_of(customer_id: int) -> sa.Select[int]:
    """The ids of the account `customer_id` (a SELECT to use inside a query: no round trip):
    the customer and its sub-customers billed with it, at every level."""
    top = sa.select(Customer.id).where(Customer.id == customer_id).cte(recursive=True)
    child = aliased(Customer)
    family = top.union_all(
        sa.select(child.id).where(child.parent_id == top.c.id, child.bill_with_parent)
    )
    return sa.select(family.c.id)


def account_customer_ids(s: Session, customer_id: int) -> list[int]:
    """The customers whose invoices are the account's (itself first), in one query."""
    ids = list(s.scalars(family_of(customer_id)))
    return sorted(ids, key=lambda i: (i != customer_id, i))


@dataclass(frozen=True)
class Location:
    """One service location of the account, with what is open on it."""

    customer: Customer
    address: str
    open_balance: Decimal
    open_count: int

    @property
    def name(self) -> str:
        return self.customer.shown_name


def address_of(customer: Customer) -> str:
    """The service address (QuickBooks' ShipAddr) when there is one, else the billing one."""
    ship = [getattr(customer, f"ship_{part}", None) for part in ("line1", "city", "region")]
    parts = ship if any(ship) else [customer.bill_line1, customer.bill_city, customer.bill_region]
    postal = getattr(customer, "ship_postal_code", None) if any(ship) else customer.bill_postal_code
    text = ", ".join(p for p in parts if p)
    return f"{text} {postal}".strip() if postal else text


def locations(s: Session, account_id: int) -> list[Location]:
    """The account's locations (sub-customers billed with it), each with its open balance and
    open invoice count, in one query whatever their number."""
    open_ = sa.and_(
        Invoice.customer_id == Customer.id, Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted
    )
    rows = s.execute(
        sa.select(
            Customer,
            sa.func.coalesce(sa.func.sum(Invoice.balance, type_=MONEY), 0),
            sa.func.count(Invoice.id),
        )
        .outerjoin(Invoice, open_)
        .where(Customer.id.in_(family_of(account_id)), Customer.id != account_id)
        .group_by(Customer.id)
        .order_by(Customer.level, Customer.display_name, Customer.id)
    )
    return [
        Location(c, address_of(c), Decimal(total).quantize(Decimal("0.01")), count)
        for c, total, count in rows
    ]


class BadName(ValueError):
    """The name cannot be saved; the message is for the customer."""


def clean_name(raw: str) -> str | None:
    """The name as saved (NFC, spaces collapsed), None to go back to QuickBooks' name;
    BadName when too long or holding control or invisible format characters."""
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if not text:
        return None
    if len(text) > NAME_MAX:
        raise BadName(f"Use at most {NAME_MAX} characters for the name.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text):
        raise BadName("The name has characters that cannot be shown. Type it again.")
    return text


def own_location(s: Session, account_id: int, location_id: int) -> Customer | None:
    """The account's location with this id, or None (missing, or not this account's)."""
    return s.scalar(
        sa.select(Customer).where(
            Customer.id == location_id,
            Customer.id != account_id,
            Customer.id.in_(family_of(account_id)),
        )
    )


def rename(s: Session, account_id: int, location_id: int, raw: str, actor: Actor) -> Customer:
    """Give a location the customer's own name (never written to QuickBooks); LookupError when
    it is not one of the account's, BadName when the name cannot be saved."""
    name = clean_name(raw)
    location = own_location(s, account_id, location_id)
    if location is None:
        raise LookupError(location_id)
    before = location.location_name
    if before == name:
        return location
    location.location_name = name
    record(
        s,
        "location.renamed",
        customer_id=account_id,
        actor=actor,
        summary=f"Location {location.display_name} named {name or 'as in QuickBooks'}",
        before={"location_id": location.id, "name": before},
        after={"location_id": location.id, "name": name},
    )
    return location
