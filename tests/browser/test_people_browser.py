"""People on an account, in a real browser against both sandboxes: an owner invites a "pay"
person who pays but cannot manage people, and a person on two accounts switches and pays
each; QuickBooks (via python-quickbooks) and the processor each see every payment once."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect
from quickbooks.objects.payment import Payment as QboPayment

from portal import db
from portal import demo as demo_env
from portal.accounts.models import Role
from portal.accounts.service import create_user
from portal.billing.models import Customer, Invoice
from sync.service import write_back
from tests.browser.test_account_flows import log_in
from tests.browser.test_paying import app, quickbooks_client, sandboxes  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD, Mailbox
from tests.ledgers import assert_ledgers_agree


def _customers_with_open_invoices(wired: Flask, count: int) -> list[tuple[Customer, Invoice]]:
    """`count` mirrored customers, each with an open invoice (the oldest) to pay."""
    with wired.app_context():
        s = db.session()
        found = []
        for customer in s.scalars(sa.select(Customer).order_by(Customer.id)):
            invoice = s.scalars(
                sa.select(Invoice)
                .where(Invoice.customer_id == customer.id, Invoice.balance > 5, ~Invoice.voided)
                .order_by(Invoice.id)
            ).first()
            if invoice is not None:
                found.append((customer, invoice))
            if len(found) == count:
                return found
    raise AssertionError("the sandbox has too few customers with open invoices")


def _login_for(wired: Flask, username: str, email: str, customer: Customer) -> None:
    with wired.app_context(), db.transaction() as s:
        create_user(
            s,
            wired.extensions["portal.account_policy"],
            username=username,
            email=email,
            password=PASSWORD,
            role=Role.CUSTOMER,
            customer_id=customer.id,
        )


def _pay_only(page: Page, invoice: Invoice, name: str) -> str:
    """Pay one invoice in full by card on /pay; the receipt's transaction id."""
    page.goto(f"/pay?invoice={invoice.id}")
    for box in page.locator("input[name=invoice]").all():
        if box.get_attribute("value") != str(invoice.id):
            box.uncheck()
        else:
            box.check()
    expect(page.get_by_test_id("pay-total")).to_have_text(f"${invoice.balance:,.2f}")
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("98004")
    page.get_by_label("Name on card").fill(name)
    page.get_by_role("button", name=f"Pay ${invoice.balance:,.2f}").click()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    return page.get_by_test_id("receipt-transaction").inner_text()


def _found_once(sandboxes, trans_id: str, customer: Customer, invoice: Invoice) -> None:  # noqa: F811
    qbo, _ = sandboxes
    client = quickbooks_client(qbo, demo_env.DEMO_REALM)
    found = QboPayment.filter(PaymentRefNum=trans_id, qb=client)
    assert len(found) == 1
    assert found[0].CustomerRef.value == customer.qbo_id
    lines = {line.LinkedTxn[0].TxnId: Decimal(str(line.Amount)) for line in found[0].Line}
    assert lines == {invoice.qbo_id: invoice.balance}


def test_owner_invites_a_pay_person_who_pays_but_cannot_see_people_or_the_log(
    page: Page,
    app: Flask,  # noqa: F811
    sandboxes,  # noqa: F811
    mailbox: Mailbox,
):
    [(customer, invoice)] = _customers_with_open_invoices(app, 1)
    _login_for(app, "owner", "owner@example.com", customer)
    log_in(page, "owner", PASSWORD)
    page.goto("/account")
    page.get_by_role("link", name="People on this account").click()
    page.get_by_label("E-mail").fill("manager@example.com")
    page.get_by_label("Access").select_option("pay")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to manager@example.com")
    page.get_by_role("button", name="Log out").click()

    page.goto(urlsplit(mailbox.last_link()).path)
    page.get_by_label("Choose a username").fill("manager")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_role("button", name="Create login").click()
    expect(page.get_by_role("heading", name=customer.display_name)).to_be_visible()

    trans_id = _pay_only(page, invoice, customer.display_name)
    page.goto("/account")
    expect(page.get_by_role("link", name="People on this account")).to_have_count(0)
    for path in ("/account/people", "/account/activity-log", "/autopay"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path

    with app.app_context():
        assert write_back(app).done == 1
    _found_once(sandboxes, trans_id, customer, invoice)
    _, anet = sandboxes
    assert len(anet.state.transactions) == 1
    assert_ledgers_agree(app)


def test_a_person_on_two_accounts_switches_between_them_and_pays_each(
    page: Page,
    app: Flask,  # noqa: F811
    sandboxes,  # noqa: F811
    mailbox: Mailbox,
):
    (first, first_invoice), (second, second_invoice) = _customers_with_open_invoices(app, 2)
    _login_for(app, "books", "books@example.com", first)
    _login_for(app, "secondowner", "owner2@example.com", second)

    log_in(page, "secondowner", PASSWORD)
    page.goto("/account/people")
    page.get_by_label("E-mail").fill("books@example.com")
    page.get_by_label("Access").select_option("pay")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent")
    page.get_by_role("button", name="Log out").click()

    invitation = urlsplit(mailbox.last_link()).path
    page.goto(invitation)
    page.get_by_role("link", name="Log in to accept").click()
    page.get_by_label("Username or e-mail").fill("books")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name=f"Add {second.display_name} to my login").click()
    expect(page.get_by_role("heading", name=second.display_name)).to_be_visible()
    expect(page.get_by_test_id("account-bar")).to_contain_text(second.display_name)
    second_trans = _pay_only(page, second_invoice, second.display_name)

    page.get_by_role("link", name="Switch account").click()
    page.get_by_role("button", name=f"Show {first.display_name}").click()
    expect(page.get_by_role("heading", name=first.display_name)).to_be_visible()
    expect(page.get_by_test_id("account-bar")).to_contain_text(first.display_name)
    first_trans = _pay_only(page, first_invoice, first.display_name)

    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/", "/accounts", "/pay"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} scrolls sideways at 320 px ({width})"

    with app.app_context():
        assert write_back(app).done == 2
    _found_once(sandboxes, first_trans, first, first_invoice)
    _found_once(sandboxes, second_trans, second, second_invoice)
    assert_ledgers_agree(app)
