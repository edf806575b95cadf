"""A customer changes the billing address on "Your details" in a real browser, sees "saving
to our books", the worker writes it, and the bookkeeper finds it on the QuickBooks Customer
(python-quickbooks); the page fits a 320 px phone without scrolling sideways."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from quickbooks.objects.customer import Customer as QboCustomer

from portal import demo as demo_env
from sync.service import write_back
from tests.browser import test_paying as paying
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD

sandboxes, app, payer = paying.sandboxes, paying.app, paying.payer


def test_a_new_billing_address_is_saved_to_our_books_and_found_in_quickbooks(
    page: Page, app: Flask, payer, sandboxes
):
    customer, _invoices = payer
    log_in(page, "payer", PASSWORD)
    page.goto("/account")
    page.locator("#main").get_by_role("link", name="Your details").click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    billing = page.get_by_role("group", name="Billing address")
    billing.get_by_label("Street address").fill("221 Baker Street")
    billing.get_by_label("Apartment, suite, unit (optional)").fill("Flat B")
    billing.get_by_label("City").fill("Seattle")
    billing.get_by_label("State, province or county").fill("WA")
    billing.get_by_label("ZIP or postal code").fill("98101")
    billing.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Save details").click()

    expect(page.get_by_test_id("details-saving")).to_contain_text("Saving to our books")
    expect(billing.get_by_label("Street address")).to_have_value("221 Baker Street")
    page.set_viewport_size({"width": 320, "height": 640})
    sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert sideways <= 0, f"the details page scrolls {sideways}px sideways at 320px"

    with app.app_context():
        assert write_back(app).done == 1  # what the worker does every 15 seconds
    page.reload()
    expect(page.get_by_test_id("details-saving")).to_have_count(0)
    expect(billing.get_by_label("City")).to_have_value("Seattle")

    qbo, _anet = sandboxes
    client = paying.quickbooks_client(qbo, demo_env.DEMO_REALM)
    address = QboCustomer.get(customer.qbo_id, qb=client).BillAddr
    assert (address.Line1, address.Line2, address.City) == ("221 Baker Street", "Flat B", "Seattle")
    assert (address.CountrySubDivisionCode, address.PostalCode) == ("WA", "98101")
