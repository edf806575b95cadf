"""A customer with two service locations pays an invoice of each in one payment, in a real
browser; the pay page and the locations page fit a 320-pixel phone without sideways scroll."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect
from quickbooks.objects.payment import Payment as QboPayment

from portal import db
from portal import demo as demo_env
from portal.accounts.models import Role
from portal.accounts.service import create_user
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import QboSandbox
from sandbox.qbo.locations import PARENT_NAME
from sync.service import write_back
from tests.browser.test_account_flows import log_in
from tests.browser.test_paying import quickbooks_client, wired_to
from tests.conftest import PASSWORD

NARROWEST = {"width": 320, "height": 640}


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[tuple[QboSandbox, AnetSandbox]]:
    qbo = demo_env.start_sandbox(settings, 0, customers=3, invoices=20, locations=True)
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.stop()
    qbo.stop()


@pytest.fixture
def app(settings: Settings, sandboxes, monkeypatch) -> Iterator[Flask]:
    yield from wired_to(settings, sandboxes, monkeypatch)


@pytest.fixture
def harbor(app: Flask) -> tuple[Customer, Invoice, Invoice]:
    """The customer with locations, a login for it, and an open invoice of each location."""
    with app.app_context():
        s = db.session()
        parent = s.scalar(sa.select(Customer).where(Customer.display_name == PARENT_NAME))
        assert parent is not None
        open_ = list(
            s.scalars(
                sa.select(Invoice)
                .join(Customer)
                .where(Customer.parent_id == parent.id, Invoice.balance > 0)
                .order_by(Invoice.customer_id, Invoice.id)
            )
        )
        first = open_[0]
        second = next(i for i in open_ if i.customer_id != first.customer_id)
        with db.transaction() as tx:
            create_user(
                tx,
                app.extensions["portal.account_policy"],
                username="harbor",
                email="harbor@example.com",
                password=PASSWORD,
                role=Role.CUSTOMER,
                customer_id=parent.id,
            )
        s.expunge_all()
        return parent, first, second


def sideways(page: Page) -> int:
    """How many CSS pixels the page scrolls sideways at 320 px wide (0: none)."""
    size = page.viewport_size
    page.set_viewport_size(NARROWEST)  # type: ignore[arg-type]
    extra = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(size)  # type: ignore[arg-type]
    return max(int(extra), 0)


def test_one_payment_pays_invoices_of_two_locations_and_quickbooks_links_both(
    page: Page, app: Flask, harbor, sandboxes
):
    parent, first, second = harbor
    log_in(page, "harbor", PASSWORD)
    page.goto("/locations")
    page.get_by_label("Name for Harborview - 12 Pier Rd").fill("Pier Road shop")
    page.get_by_role("button", name="Save the name for Harborview - 12 Pier Rd").click()
    expect(page.get_by_text("The location is now called Pier Road shop.")).to_be_visible()
    assert sideways(page) == 0
    page.goto("/pay")
    assert sideways(page) == 0
    expect(page.get_by_test_id("location").first).to_be_visible()
    for box in page.locator("input[name=invoice]").all():
        if box.get_attribute("value") not in {str(first.id), str(second.id)}:
            box.uncheck()
    expect(page.get_by_label(f"Pay invoice {first.doc_number} (Pier Road shop)")).to_be_checked()
    total = first.balance + second.balance
    expect(page.get_by_test_id("pay-total")).to_have_text(f"${total:,.2f}")
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("98004")
    page.get_by_label("Name on card").fill(parent.display_name)
    page.get_by_role("button", name=f"Pay ${total:,.2f}").click()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    trans_id = page.get_by_test_id("receipt-transaction").inner_text()
    with app.app_context():
        assert write_back(app).done == 1
    qbo, anet = sandboxes
    assert len(anet.state.transactions) == 1
    found = QboPayment.filter(
        PaymentRefNum=trans_id, qb=quickbooks_client(qbo, demo_env.DEMO_REALM)
    )
    assert len(found) == 1
    assert found[0].CustomerRef.value == parent.qbo_id
    lines = {line.LinkedTxn[0].TxnId: Decimal(str(line.Amount)) for line in found[0].Line}
    assert lines == {first.qbo_id: first.balance, second.qbo_id: second.balance}
    page.goto("/invoices")
    expect(page.get_by_text("Pier Road shop").first).to_be_visible()
    assert sideways(page) == 0
