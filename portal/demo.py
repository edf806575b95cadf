"""`portal demo`: the whole product on the bundled QuickBooks sandbox, with demo logins.

The sandbox company is seeded once (and kept in the instance folder), connected through the
real OAuth round trip, mirrored by the real adapter, and kept in step by webhooks and the
scheduled jobs, exactly as a live installation is with Intuit."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser, Role
from portal.accounts.service import AccountPolicy, create_user
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from sandbox.authorizenet import AnetSandbox, AnetState
from sandbox.qbo import QboSandbox, SandboxState, seed_company

logger = logging.getLogger(__name__)

DEMO_REALM = "9341453050091720"
DEMO_CLIENT = ("demo-portal-client", "demo-portal-secret")
DEMO_VERIFIER = "demo-webhook-verifier"


@dataclass(frozen=True)
class DemoLogin:
    """A login printed for the person trying the demo."""

    username: str
    password: str
    role: Role


DEMO_LOGINS = (
    DemoLogin("demo", "sunny-harbor-lantern-42", Role.CUSTOMER),
    DemoLogin("demo2", "copper-kettle-morning-7", Role.CUSTOMER),
    DemoLogin("admin", "quiet-granite-orchard-19", Role.ADMIN),
)


def start_sandbox(settings: Settings, port: int, customers: int, invoices: int) -> QboSandbox:
    """The QuickBooks sandbox on loopback, seeded on first start and kept in the instance."""
    state = SandboxState(client_id=DEMO_CLIENT[0], client_secret=DEMO_CLIENT[1])
    sandbox = QboSandbox(state, port=port, state_file=settings.instance / "qbo-sandbox.json")
    sandbox.start()
    if DEMO_REALM not in state.companies:
        state.add_company(DEMO_REALM, name="Demo Utility Co.")
        seed_company(state, DEMO_REALM, customers=customers, invoices=invoices, rng_seed=2026)
    return sandbox


def start_anet(port: int) -> AnetSandbox:
    """The Authorize.Net sandbox on loopback (its transactions live as long as the demo)."""
    return AnetSandbox(AnetState(), port=port).start()


def sandbox_settings(
    settings: Settings, sandbox: QboSandbox, anet: AnetSandbox | None = None
) -> Settings:
    """Settings pointing the portal's adapters at the sandboxes: only URLs differ."""
    qbo = dataclasses.replace(
        settings.quickbooks,
        client_id=DEMO_CLIENT[0],
        client_secret=DEMO_CLIENT[1],
        discovery_url=sandbox.discovery_url,
        api_base_url=sandbox.api_base_url,
        webhook_verifier_token=DEMO_VERIFIER,
        throttle_wait_seconds=5,
    )
    # The demo shows the whole policy at work: a flat fee ten days after the due date.
    fees = dataclasses.replace(settings.late_fees, enabled=True)
    settings = dataclasses.replace(settings, quickbooks=qbo, late_fees=fees)
    if anet is None:
        return settings
    gateway = dataclasses.replace(
        settings.authorizenet,
        api_login_id=anet.state.api_login_id,
        transaction_key=anet.state.transaction_key,
        api_url=anet.api_url,
        accept_js_url=anet.accept_js_url,
        signature_key=anet.state.signature_key,
        timeout_seconds=10,
    )
    return dataclasses.replace(settings, authorizenet=gateway)


def connect(app: Flask, settings: Settings) -> str:
    """Connect the demo company with the real OAuth round trip (the sandbox auto-approves)."""
    from sync.quickbooks.connection import authorization_url, connected_realms
    from sync.quickbooks.connection import connect as store

    sessions = app.extensions["portal.db"].sessions
    if DEMO_REALM in connected_realms(sessions):
        return DEMO_REALM
    answer = requests.get(authorization_url(settings, "demo"), allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    store(
        settings, sessions, app.extensions["portal.fernet"], query["code"][0], query["realmId"][0]
    )
    return DEMO_REALM


def _login_customers(s: Session, today: date) -> list[Customer]:
    """Two customers worth showing: one with an overdue invoice, one with open invoices."""
    open_ = sa.and_(Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted)
    overdue = s.scalars(
        sa.select(Customer)
        .join(Invoice)
        .where(Customer.realm_id == DEMO_REALM, open_, Invoice.due_date < today)
        .order_by(Customer.id)
        .limit(1)
    ).first()
    others = s.scalars(
        sa.select(Customer)
        .join(Invoice)
        .where(
            Customer.realm_id == DEMO_REALM, open_, Customer.id != (overdue.id if overdue else 0)
        )
        .order_by(Customer.id)
        .limit(1)
    ).first()
    return [c for c in (overdue, others) if c is not None]


def ensure_logins(s: Session, policy: AccountPolicy, today: date) -> list[tuple[DemoLogin, str]]:
    """Create the demo logins once; returns each with the customer it belongs to."""
    customers = _login_customers(s, today)
    out = []
    for login in DEMO_LOGINS:
        existing = s.scalar(sa.select(PortalUser).where(PortalUser.username_key == login.username))
        if existing is None:
            customer = customers.pop(0) if login.role is Role.CUSTOMER and customers else None
            if login.role is Role.CUSTOMER and customer is None:
                continue
            existing = create_user(
                s,
                policy,
                username=login.username,
                email=f"{login.username}@demo.example",
                password=login.password,
                role=login.role,
                customer_id=customer.id if customer else None,
            )
        name = existing.customer.display_name if existing.customer else "staff"
        out.append((login, name))
    return out
