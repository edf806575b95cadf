"""`portal demo`: the whole product on the bundled QuickBooks sandbox, with demo logins.

The sandbox company is seeded once, relative to the day it is made (a few accounts at each
step of the overdue ladder, the rest current, invoices due in the coming weeks), connected
through the real OAuth round trip, mirrored by the real adapter, and kept in step by webhooks
and the scheduled jobs, exactly as a live installation is with Intuit. Both sandboxes keep
their state in the instance folder, written before each answer, so a demo stopped any way
(Ctrl-C, SIGTERM, a crash) carries on where it was when started again."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from portal.accounts import factors, people
from portal.accounts.models import MemberRole, PortalUser, Role
from portal.accounts.service import AccountPolicy, create_user
from portal.billing.models import Customer, Invoice
from portal.config import OverdueSettings, Settings
from portal.overdue.ladder import OverdueState, state_for
from sandbox.authorizenet import AnetSandbox, AnetState
from sandbox.qbo import QboSandbox, SandboxState, seed_company
from sandbox.qbo.locations import PARENT_NAME as LOCATIONS_PARENT
from sandbox.qbo.locations import seed_locations
from sandbox.twilio import TwilioSandbox
from sync.quickbooks.connection import authorization_url, connected_realms
from sync.quickbooks.connection import connect as store

logger = logging.getLogger(__name__)

DEMO_REALM = "9341453050091720"
DEMO_CLIENT = ("demo-portal-client", "demo-portal-secret")
DEMO_VERIFIER = "demo-webhook-verifier"
QBO_STATE_FILE = "qbo-sandbox.json"
ANET_STATE_FILE = "anet-sandbox.json"
TWILIO_STATE_FILE = "twilio-sandbox.json"


@dataclass(frozen=True)
class DemoLogin:
    """A login printed for the person trying the demo."""

    username: str
    password: str
    role: Role
    # Staff must use a second factor: the demo's admin has an authenticator app with this key
    # (printed, to add to a phone), and can also ask for a code by e-mail.
    app_key: str | None = None


DEMO_LOGINS = (
    DemoLogin("demo", "sunny-harbor-lantern-42", Role.CUSTOMER),
    DemoLogin("demo2", "copper-kettle-morning-7", Role.CUSTOMER),
    DemoLogin("admin", "quiet-granite-orchard-19", Role.ADMIN, "DEMOADMINKEYNOTFORREALUSE2345672"),
    # a customer with two service locations (QuickBooks sub-customers billed with it), when
    # the company has one (`portal demo` seeds it)
    DemoLogin("demo3", "tidal-birch-compass-8", Role.CUSTOMER),
)
LOCATIONS_LOGIN = "demo3"


def start_sandbox(
    settings: Settings, port: int, customers: int, invoices: int, locations: bool = False
) -> QboSandbox:
    """The QuickBooks sandbox on loopback, seeded on first start and kept in the instance;
    with `locations`, also a customer with two service locations (made after the rest, so
    the other customers and their data are the same with or without it)."""
    state = SandboxState(client_id=DEMO_CLIENT[0], client_secret=DEMO_CLIENT[1])
    sandbox = QboSandbox(state, port=port, state_file=settings.instance / QBO_STATE_FILE)
    sandbox.start()
    with state.lock:  # no request sees (and no state file keeps) a half-seeded company
        if DEMO_REALM not in state.companies:
            state.add_company(DEMO_REALM, name="Demo Utility Co.")
            seed_company(
                state,
                DEMO_REALM,
                customers=customers,
                invoices=invoices,
                rng_seed=2026,
                **ladder_seed(settings.overdue),
            )
            state.checkpoint()
        company = state.companies[DEMO_REALM]
        if locations and company.find_name("Customer", LOCATIONS_PARENT) is None:
            seed_locations(company)
            state.checkpoint()
    return sandbox


def ladder_seed(overdue: OverdueSettings) -> dict[str, Any]:
    """seed_company's arguments for a company that collects: invoices further behind than the
    warning step have been paid, except for one customer at the warning step (turn-off date
    ahead), one suspended lately and one past due (in that order, so the first customer is
    the warning); recent invoices are left as they come, some paid, some just overdue."""
    warning = (overdue.warning_days + overdue.suspend_days) // 2
    past_due = (overdue.past_due_days + overdue.warning_days) // 2
    return {
        "collect_after_days": overdue.warning_days - 1,
        "late_days": (warning, overdue.suspend_days + 5, past_due),
    }


def start_anet(port: int, settings: Settings | None = None) -> AnetSandbox:
    """The Authorize.Net sandbox on loopback; its transactions are kept in the instance folder
    when settings are given (as `portal demo` does), else only in memory (tests)."""
    state_file = settings.instance / ANET_STATE_FILE if settings else None
    return AnetSandbox(AnetState(), port=port, state_file=state_file).start()


def start_twilio(port: int, settings: Settings | None = None) -> TwilioSandbox:
    """The Twilio (SMS) sandbox on loopback; its messages kept in the instance folder when
    settings are given (as `portal demo` does)."""
    state_file = settings.instance / TWILIO_STATE_FILE if settings else None
    return TwilioSandbox(port=port, state_file=state_file).start()


def sandbox_settings(
    settings: Settings,
    sandbox: QboSandbox,
    anet: AnetSandbox | None = None,
    public_url: str | None = None,
    twilio: TwilioSandbox | None = None,
) -> Settings:
    """Settings pointing the portal's adapters at the sandboxes: only URLs differ. Links in
    e-mails and the OAuth callback use `public_url` when given (where `portal demo` serves)."""
    qbo = dataclasses.replace(
        settings.quickbooks,
        client_id=DEMO_CLIENT[0],
        client_secret=DEMO_CLIENT[1],
        discovery_url=sandbox.discovery_url,
        api_base_url=sandbox.api_base_url,
        webhook_verifier_token=DEMO_VERIFIER,
        throttle_wait_seconds=5,
    )
    portal = settings.portal
    if public_url:
        portal = dataclasses.replace(portal, public_url=public_url)
        qbo = dataclasses.replace(qbo, redirect_uri="")  # the callback under public_url
    # The demo shows the whole policy at work: a flat fee ten days after the due date.
    fees = dataclasses.replace(settings.late_fees, enabled=True)
    settings = dataclasses.replace(settings, portal=portal, quickbooks=qbo, late_fees=fees)
    if twilio is not None:
        sms = dataclasses.replace(
            settings.sms,
            account_sid=twilio.state.account_sid,
            auth_token=twilio.state.auth_token,
            from_number=twilio.state.from_number,
            api_base_url=twilio.base_url,
            timeout_seconds=10,
        )
        settings = dataclasses.replace(settings, sms=sms)
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

    sessions = app.extensions["portal.db"].sessions
    if DEMO_REALM in connected_realms(sessions):
        return DEMO_REALM
    answer = requests.get(authorization_url(settings, "demo"), allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    store(
        settings, sessions, app.extensions["portal.fernet"], query["code"][0], query["realmId"][0]
    )
    return DEMO_REALM


# the overdue step the first demo login shows, in order of preference
SHOWN_FIRST = (OverdueState.WARNING, OverdueState.PAST_DUE, OverdueState.SUSPENDED)


def _login_customers(s: Session, today: date, overdue: OverdueSettings) -> list[Customer]:
    """Two customers worth showing: one overdue (at the warning step when there is one, so the
    turn-off date shows), one whose open invoices are not due yet (else any with open ones)."""
    open_ = sa.and_(Invoice.balance > 0, ~Invoice.voided, ~Invoice.deleted)
    oldest_due = (
        sa.select(Customer.id, sa.func.min(Invoice.due_date))
        .join(Invoice)
        .where(Customer.realm_id == DEMO_REALM, open_, Invoice.due_date < today)
        .group_by(Customer.id)
        .order_by(Customer.id)
    )
    steps = {cid: state_for(due, today, overdue).name for cid, due in s.execute(oldest_due)}
    ranked = sorted(
        (cid for cid, step in steps.items() if step in SHOWN_FIRST),
        key=lambda cid: SHOWN_FIRST.index(steps[cid]),
    )
    first = s.get(Customer, ranked[0]) if ranked else None
    with_open = (
        sa.select(Customer)
        .join(Invoice)
        .where(Customer.realm_id == DEMO_REALM, open_, Customer.id != (first.id if first else 0))
        .order_by(Customer.id)
    )
    current = s.scalars(with_open.where(Customer.id.not_in(list(steps))).limit(1)).first()
    second = current or s.scalars(with_open.limit(1)).first()
    return [c for c in (first, second) if c is not None]


def _locations_customer(s: Session) -> Customer | None:
    """The demo customer with service locations, if the company has it."""
    return s.scalar(
        sa.select(Customer).where(
            Customer.realm_id == DEMO_REALM, Customer.display_name == LOCATIONS_PARENT
        )
    )


def ensure_logins(
    s: Session, policy: AccountPolicy, today: date, overdue: OverdueSettings | None = None
) -> list[tuple[DemoLogin, str]]:
    """Create the demo logins once; returns each with the customer it belongs to."""
    customers = _login_customers(s, today, overdue or OverdueSettings())
    out = []
    for login in DEMO_LOGINS:
        existing = s.scalar(sa.select(PortalUser).where(PortalUser.username_key == login.username))
        if existing is None:
            if login.username == LOCATIONS_LOGIN:
                customer = _locations_customer(s)
            else:
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
            if login.app_key:
                s.flush()
                factors.enrol_app(s, existing, login.app_key)
        name = existing.customer.display_name if existing.customer else "staff"
        out.append((login, name))
    _share_account(s, "demo", "demo2")
    return out


def _share_account(s: Session, person: str, owner: str) -> None:
    """Put `person` on `owner`'s account too (with "pay" access), so the demo shows a login on
    two accounts and the switch between them; once."""
    found = {
        u.username_key: u
        for u in s.scalars(
            sa.select(PortalUser).where(PortalUser.username_key.in_([person, owner]))
        )
    }
    who, whose = found.get(person), found.get(owner)
    if who is None or whose is None or whose.customer_id is None:
        return
    if people.role_on(s, who.id, whose.customer_id) is None:
        people.join(s, who, whose.customer_id, MemberRole.PAY)
