"""Every page of the portal, by who sees it, for the browser suites that walk them all
(accessibility, no sideways scrolling). Add a page here and every walk visits it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page

from portal import db
from portal.accounts import tokens
from portal.accounts.models import PortalUser, Role, TokenPurpose
from portal.accounts.service import create_user, invite_customer
from portal.billing.models import Customer, Invoice
from portal.billing.notices import Notice
from portal.payments.models import (
    PaymentState,
)
from sandbox.authorizenet import AnetSandbox
from tests.conftest import PASSWORD, enrol_app
from tests.integration import money_world
from tests.rows import payment_on, saved_card

# (username, role) of the logins the walks use; the customer one is the `payer` fixture's.
STAFF = ("keeper", Role.BOOKKEEPER)
ADMIN = ("boss", Role.ADMIN)


@dataclass(frozen=True)
class Visit:
    """One page: `path` (formatted with the world's ids), then `then` to reach a page that
    only a click shows (a confirmation, an error)."""

    name: str
    path: str
    then: Callable[[Page], None] | None = None
    status: int = 200


def _click(name: str) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        page.get_by_role("button", name=name).first.click()
        page.wait_for_load_state()

    return act


def _pay_nothing(page: Page) -> None:
    page.locator("input.amount").first.fill("0")
    page.locator("#pay-button").click()
    page.locator("#error-summary").wait_for()


def _save_a_bad_zip(page: Page) -> None:
    billing = page.get_by_role("group", name="Billing address")
    billing.get_by_label("ZIP or postal code").fill("1")
    _click("Save details")(page)


def _ask_for_a_credit(page: Page) -> None:
    page.locator("input[name=amount]").first.fill("1.00")
    page.locator("input[name=reason]").first.fill("Goodwill")
    _click("Issue credit")(page)


PUBLIC = [
    Visit("login", "/login"),
    Visit("forgot password", "/forgot-password"),
    Visit("reset password", "/reset-password/{reset}"),
    Visit("invitation", "/invite/{invite}"),
    Visit("create your login", "/claim"),
    Visit("create your login, sent", "/claim/requested"),
    Visit("claim link not valid", "/claim/not-a-token", status=400),
    Visit("link not valid", "/reset-password/not-a-token", status=400),
    Visit("not found", "/no-such-page", status=404),
    Visit("unsubscribe link not valid", "/notifications/unsubscribe/not-a-token", status=400),
]

CUSTOMER = [
    Visit("dashboard", "/"),
    Visit("invoices", "/invoices"),
    Visit("invoices, bad filter", "/invoices?status=nonsense", status=400),
    Visit("invoice", "/invoices/{invoice}"),
    Visit("statement", "/statements"),
    Visit("pay", "/pay"),
    Visit("pay, amount refused", "/pay", _pay_nothing),
    Visit("receipt", "/payments/{payment}"),
    Visit("payments", "/payments"),
    Visit("payment methods", "/payment-methods"),
    Visit("remove a method?", "/payment-methods", _click("Remove")),
    Visit("account", "/account"),
    Visit("preferences", "/account/preferences"),
    Visit("sessions", "/account/security"),
    Visit("two-factor", "/account/two-factor"),
    Visit("set up an authenticator app", "/account/two-factor/app"),
    Visit("confirm it is you", "/account/confirm?next=/account"),
    Visit("passkeys", "/account/passkeys"),
    Visit("change e-mail", "/account/email"),
    Visit("not found", "/no-such-page", status=404),
    Visit("notifications", "/notifications"),
    Visit("notification choices", "/notifications/preferences"),
    Visit("add a card", "/payment-methods/add-card"),
    Visit("add a bank account", "/payment-methods/add-bank-account"),
    Visit("people on the account", "/account/people"),
    Visit("your details", "/account/details"),
    Visit("your details, a mistake", "/account/details", _save_a_bad_zip),
    Visit("your accounts", "/accounts"),
]

STAFF_PAGES = [
    Visit("customers", "/admin/"),
    Visit("payments", "/admin/payments"),
    Visit("overdue", "/admin/overdue"),
    Visit("late fees", "/admin/late-fees"),
    Visit("quickbooks", "/admin/quickbooks"),
    Visit("account", "/account"),
    Visit("preferences", "/account/preferences"),
    Visit("sessions", "/account/security"),
    Visit("two-factor", "/account/two-factor"),
    Visit("notifications not delivered", "/admin/notifications"),
    Visit("customer notifications", "/admin/customers/{customer}/notifications"),
    Visit("people on an account", "/admin/customers/{customer}/people"),
    Visit("details changed twice", "/admin/customer-changes/"),
]

ADMIN_PAGES = [
    *STAFF_PAGES,
    Visit("credit", "/admin/customers/{customer}/credit"),
    Visit("issue a credit?", "/admin/customers/{customer}/credit", _ask_for_a_credit),
    Visit("settle a payment?", "/admin/payments", _click("Settle…")),
    Visit("news", "/admin/notices"),
    Visit("remove news?", "/admin/notices", _click("Remove")),
    Visit("disconnect quickbooks?", "/admin/quickbooks", _click("Disconnect")),
    Visit("branding", "/admin/branding"),
    Visit("sign-in rules", "/admin/security"),
    Visit("payment plan limits", "/admin/plan-limits"),
]

# role → (login or None, pages)
WALKS: dict[str, tuple[str | None, list[Visit]]] = {
    "public": (None, PUBLIC),
    "customer": ("payer", CUSTOMER),
    "staff": (STAFF[0], STAFF_PAGES),
    "admin": (ADMIN[0], ADMIN_PAGES),
}


def build_world(
    app: Flask, anet: AnetSandbox, customer: Customer, invoices: list[Invoice]
) -> dict[str, object]:
    """What the pages need to have something to show: a paid receipt, a saved method, a
    payment waiting for review, news, staff logins, and live reset and invitation links.
    Returns the ids the page paths are formatted with."""
    first, second, _ = invoices
    paid = money_world.pay(app, anet, first, Decimal("5.00"))
    policy = app.extensions["portal.account_policy"]
    with app.app_context(), db.transaction() as s:
        for username, role in (STAFF, ADMIN):
            staff = create_user(
                s,
                policy,
                username=username,
                email=f"{username}@example.com",
                password=PASSWORD,
                role=role,
            )
            s.flush()
            enrol_app(s, staff)  # staff must have a second factor
        s.add(
            saved_card(
                customer.id,
                gateway_customer_profile_id="900",
                gateway_payment_profile_id="901",
                expiry="12/2030",
                is_default=True,
            )
        )
        stuck = payment_on(
            second,
            "3.00",
            PaymentState.UNKNOWN,
            "w",
            gateway_key="PWALK1",
            review_note="The processor did not answer.",
        )
        s.add_all([stuck, Notice(title="Office closed Monday", body="Back on Tuesday.")])
        payer = s.scalars(sa.select(PortalUser).where(PortalUser.username == "payer")).one()
        reset = tokens.issue(s, TokenPurpose.RESET, timedelta(hours=1), user_id=payer.id)
        invite = invite_customer(s, policy, customer.id, "newcomer@example.com").rsplit("/", 1)[1]
    return {
        "invoice": first.id,
        "payment": paid.id,
        "customer": customer.id,
        "reset": reset,
        "invite": invite,
    }


def open_page(page: Page, visit: Visit, world: dict[str, object]) -> None:
    """Go to the visit's page (and click through to it), failing on an unexpected status."""
    response = page.goto(visit.path.format(**world))
    assert response is not None and response.status == visit.status, (
        f"{visit.name}: {visit.path} answered {response.status if response else None}"
    )
    if visit.then:
        visit.then(page)


# Autopay, scheduled payments and plans (issue 14).
CUSTOMER.append(Visit("autopay", "/autopay"))
CUSTOMER.append(Visit("skip an automatic payment?", "/autopay/skip/{invoice}"))
STAFF_PAGES.append(Visit("customer autopay", "/admin/customers/{customer}/autopay"))
ADMIN_PAGES.append(Visit("customer autopay", "/admin/customers/{customer}/autopay"))

# The audit log (issue 15).
CUSTOMER.append(Visit("activity log", "/account/activity-log"))
STAFF_PAGES.append(Visit("audit log", "/admin/audit?since=2000-01-01"))
ADMIN_PAGES.append(Visit("audit log", "/admin/audit"))
