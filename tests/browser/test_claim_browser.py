"""A new customer, in a real browser, claims an account from an invoice number and the link
that arrives at the e-mail address on file, and lands on their dashboard."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Page, expect

from portal.mail import deliver
from tests.browser.test_accessibility import violations
from tests.conftest import PASSWORD, Mailbox

NARROWEST = {"width": 320, "height": 640}


def fits_320(page: Page) -> bool:
    """Whether the page needs no sideways scrolling on a 320 px wide phone."""
    size = page.viewport_size
    page.set_viewport_size(NARROWEST)  # type: ignore[arg-type]
    fits = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size(size)  # type: ignore[arg-type]
    return bool(fits)


def test_a_new_customer_claims_an_account_from_an_invoice_number_and_the_mailbox_link(
    page: Page, app: Flask, make_customer, make_invoice, mailbox: Mailbox
):
    bakery = make_customer("Ada's Bakery", email="ada@bakery.example", bill_postal_code="94110")
    claimed = make_invoice(bakery, "1234.50", txn=date(2026, 10, 1), due=date(2099, 1, 1))
    other = make_invoice(bakery, "80.00", txn=date(2026, 11, 1), due=date(2099, 2, 1))
    stranger = make_invoice(make_customer("Someone Else"), "9.99", due=date(2099, 1, 1))

    page.goto("/login")
    page.get_by_role("link", name="Create your login").click()
    assert fits_320(page) and violations(page) == []
    page.get_by_label("The invoice's total").fill("\u0661\u0662\u0663\u0664")  # not 0-9
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_label("The invoice's total")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").first).to_be_visible()
    assert fits_320(page) and violations(page) == []
    page.get_by_label("Invoice number").fill(claimed.doc_number or "")
    page.get_by_label("The invoice's total").fill("$1,234.50")
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_test_id("claim-answer")).to_contain_text(
        "If the details match an account, we have sent a link"
    )
    assert fits_320(page) and violations(page) == []

    with app.app_context():  # the worker's e-mail round
        deliver()
    (message,) = mailbox.messages()
    assert message["To"] == "ada@bakery.example"
    page.goto(urlsplit(mailbox.last_link()).path)
    expect(page.get_by_text("ada@bakery.example")).to_be_visible()
    assert fits_320(page) and violations(page) == []
    page.get_by_label("Choose a username").fill("adasbakery")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_role("button", name="Create login").click()

    expect(page.get_by_role("status")).to_contain_text("Your login is ready")
    expect(page.get_by_role("heading", name="Ada's Bakery")).to_be_visible()
    expect(page.get_by_role("link", name=claimed.doc_number or "", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=other.doc_number or "", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=stranger.doc_number or "", exact=True)).to_have_count(0)
    assert fits_320(page)
