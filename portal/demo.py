"""Demo data: a few customers with invoices in every state, and logins to try them with."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser, Role
from portal.accounts.service import AccountPolicy, create_user
from portal.billing.models import Customer, Invoice, InvoiceLine
from portal.db import utcnow

logger = logging.getLogger(__name__)

DEMO_REALM = "demo"


@dataclass(frozen=True)
class DemoLogin:
    """A login printed for the person trying the demo."""

    username: str
    email: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("maria", "maria.lopez@example.com", "sunny-harbor-lantern-42", "customer"),
    DemoLogin(
        "oakbakery", "accounts@oakstreetbakery.example", "copper-kettle-morning-7", "customer"
    ),
    DemoLogin("admin", "admin@example.com", "quiet-granite-orchard-19", "admin"),
)

# (display name, e-mail, [(age in days, amount, paid fraction)])
_CUSTOMERS: tuple[tuple[str, str, list[tuple[int, str, float]]], ...] = (
    (
        "Maria Lopez",
        "maria.lopez@example.com",
        [(95, "120.00", 1), (65, "120.00", 0), (35, "135.50", 0.5), (5, "135.50", 0)],
    ),
    (
        "Oak Street Bakery",
        "accounts@oakstreetbakery.example",
        [(200, "480.00", 1), (40, "512.75", 0), (10, "499.99", 0)],
    ),
    (
        "Harbor Dental Group",
        "billing@harbordental.example",
        [(50, "1250.00", 0.2), (20, "1250.00", 0)],
    ),
    ("Jonas Becker", "jonas.becker@example.com", [(15, "89.90", 1)]),
)

_ITEMS = (("Monthly service", "1"), ("Equipment rental", "2"), ("Support hours", "3"))


def seed(s: Session, policy: AccountPolicy, today: date) -> bool:
    """Add the demo data once; False when it is already there."""
    if s.scalar(sa.select(Customer.id).where(Customer.realm_id == DEMO_REALM).limit(1)):
        return False
    customers: dict[str, Customer] = {}
    invoice_no = 1001
    for n, (name, email, invoices) in enumerate(_CUSTOMERS, start=1):
        customer = Customer(
            realm_id=DEMO_REALM,
            qbo_id=str(n),
            display_name=name,
            email=email,
            qbo_updated_at=utcnow(),
        )
        s.add(customer)
        for age, amount, paid in invoices:
            _add_invoice(
                s,
                customer,
                str(invoice_no),
                today - timedelta(days=age),
                Decimal(amount),
                Decimal(str(paid)),
            )
            invoice_no += 1
        customer.balance = sum((i.balance for i in customer.invoices), Decimal("0.00"))
        customers[email] = customer
    s.flush()
    for login in DEMO_LOGINS:
        role = Role(login.role)
        owner = customers.get(login.email) if role is Role.CUSTOMER else None
        create_user(
            s,
            policy,
            username=login.username,
            email=login.email,
            password=login.password,
            role=role,
            customer_id=owner.id if owner else None,
        )
    return True


def _add_invoice(
    s: Session, customer: Customer, number: str, txn: date, total: Decimal, paid: Decimal
) -> None:
    item_name, item_id = _ITEMS[int(number) % len(_ITEMS)]
    balance = (total - (total * paid)).quantize(Decimal("0.01"))
    invoice = Invoice(
        realm_id=DEMO_REALM,
        qbo_id=number,
        doc_number=number,
        customer=customer,
        txn_date=txn,
        due_date=txn + timedelta(days=30),
        total_amt=total,
        balance=balance,
        qbo_updated_at=utcnow(),
    )
    invoice.lines.append(
        InvoiceLine(
            position=1,
            item_ref=item_id,
            item_name=item_name,
            qty=Decimal(1),
            unit_price=total,
            amount=total,
            description=f"{item_name}, {txn:%B %Y}",
        )
    )
    s.add(invoice)


def demo_users(s: Session) -> list[PortalUser]:
    """The demo logins present in the database."""
    names = [d.username.lower() for d in DEMO_LOGINS]
    return list(s.scalars(sa.select(PortalUser).where(PortalUser.username_key.in_(names))))
