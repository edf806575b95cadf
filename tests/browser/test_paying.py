"""A customer pays two invoices in full and one in part with a card, in a real browser,
through the Accept.js stand-in; the bookkeeper then finds one QuickBooks Payment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from playwright.sync_api import Page, expect
from quickbooks import QuickBooks
from quickbooks.objects.payment import Payment as QboPayment

from portal import db
from portal import demo as demo_env
from portal.accounts.models import Role
from portal.accounts.service import create_user
from portal.app import create_app
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import QboSandbox
from sync.service import sync_realm, write_back
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD, _wipe


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[tuple[QboSandbox, AnetSandbox]]:
    qbo = demo_env.start_sandbox(settings, 0, customers=5, invoices=60)
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.stop()
    qbo.stop()


@pytest.fixture
def app(settings: Settings, sandboxes, monkeypatch) -> Iterator[Flask]:
    yield from wired_to(settings, sandboxes, monkeypatch)


def wired_to(
    settings: Settings, sandboxes: tuple[QboSandbox, AnetSandbox], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The portal wired to both sandboxes, connected and mirrored, as `portal demo` does."""
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    qbo, anet = sandboxes
    wired = create_app(
        {"SETTINGS": demo_env.sandbox_settings(settings, qbo, anet), "ARGON2_CHEAP": True}
    )
    with wired.app_context():
        realm = demo_env.connect(wired, wired.config["PORTAL_SETTINGS"])
        run = sync_realm(wired, realm)
        assert run is not None and run.error is None
    yield wired
    _wipe(wired.extensions["portal.db"].engine)
    wired.extensions["portal.db"].engine.dispose()


@pytest.fixture
def payer(app: Flask) -> tuple[Customer, list[Invoice]]:
    """A mirrored customer with at least three open invoices, and a login for them."""
    with app.app_context():
        s = db.session()
        counts = (
            sa.select(Invoice.customer_id)
            .where(Invoice.balance > 10, ~Invoice.voided)
            .group_by(Invoice.customer_id)
            .having(sa.func.count() >= 3)
        )
        customer = s.scalars(sa.select(Customer).where(Customer.id.in_(counts))).first()
        assert customer is not None
        invoices = list(
            s.scalars(
                sa.select(Invoice)
                .where(Invoice.customer_id == customer.id, Invoice.balance > 10, ~Invoice.voided)
                .order_by(Invoice.id)
                .limit(3)
            )
        )
        with db.transaction() as tx:
            create_user(
                tx,
                app.extensions["portal.account_policy"],
                username="payer",
                email="payer@example.com",
                password=PASSWORD,
                role=Role.CUSTOMER,
                customer_id=customer.id,
            )
        return customer, invoices


def quickbooks_client(qbo: QboSandbox, realm: str) -> QuickBooks:
    """python-quickbooks as a bookkeeper's tool would use it, with its own OAuth grant."""
    auth = AuthClient(
        demo_env.DEMO_CLIENT[0],
        demo_env.DEMO_CLIENT[1],
        "http://127.0.0.1/callback",
        environment=qbo.discovery_url,
    )
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="bk")
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    code = location.split("code=")[1].split("&")[0]
    auth.get_bearer_token(code, realm_id=realm)
    client = QuickBooks(
        auth_client=auth, refresh_token=auth.refresh_token, company_id=realm, minorversion=75
    )
    client.api_url_v3 = qbo.api_base_url
    return client


def test_two_invoices_in_full_and_one_in_part_make_one_linked_quickbooks_payment(
    page: Page, app: Flask, payer, sandboxes
):
    customer, (first, second, third) = payer
    partial = (third.balance / 2).quantize(Decimal("0.01"))
    log_in(page, "payer", PASSWORD)
    page.goto("/pay")
    for box in page.locator("input[name=invoice]").all():
        if box.get_attribute("value") not in {str(first.id), str(second.id), str(third.id)}:
            box.uncheck()
    page.locator(f"input[name='amount-{third.id}']").fill(str(partial))
    total = first.balance + second.balance + partial
    expect(page.get_by_test_id("pay-total")).to_have_text(f"${total:,.2f}")
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("98004")
    page.get_by_label("Name on card").fill(customer.display_name)
    page.get_by_role("button", name=f"Pay ${total:,.2f}").click()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    expect(page.get_by_test_id("receipt-total")).to_have_text(f"${total:,.2f}")
    trans_id = page.get_by_test_id("receipt-transaction").inner_text()

    with app.app_context():
        result = write_back(app)  # what the worker does every 15 seconds
        assert result.done == 1
        balances = dict(
            db.session()
            .execute(
                sa.select(Invoice.id, Invoice.balance).where(Invoice.customer_id == customer.id)
            )
            .all()
        )
    assert balances[first.id] == 0 and balances[second.id] == 0
    assert balances[third.id] == third.balance - partial

    qbo, anet = sandboxes
    assert len([t for t in anet.state.transactions.values()]) == 1
    client = quickbooks_client(qbo, demo_env.DEMO_REALM)
    found = QboPayment.filter(PaymentRefNum=trans_id, qb=client)
    assert len(found) == 1
    lines = {line.LinkedTxn[0].TxnId: Decimal(str(line.Amount)) for line in found[0].Line}
    assert lines == {
        first.qbo_id: first.balance,
        second.qbo_id: second.balance,
        third.qbo_id: partial,
    }
    assert Decimal(str(found[0].TotalAmt)) == total
    page.goto("/")
    expect(page.get_by_test_id("balance-due")).to_be_visible()
