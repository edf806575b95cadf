"""On a phone (390 x 844) and a desktop (1280 x 800) the pay page never surprises: a decline
brings back the amount the customer typed, bad amounts are refused in the page before anything
is sent, and the pay button says the amount and then "Paying…", disabled, so nobody pays
twice."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from playwright.sync_api import Page, Route, expect

from sandbox.authorizenet.cards import DECLINE_ZIP
from tests.browser import test_paying as paying
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD

# The paying fixtures: both sandboxes, the portal connected and mirrored, a customer login.
sandboxes, app, payer = paying.sandboxes, paying.app, paying.payer

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def _only(page: Page, invoice_id: int, amount: str) -> None:
    """Pay `amount` on one invoice and nothing on the others."""
    for box in page.locator("input[name=invoice]").all():
        if box.get_attribute("value") != str(invoice_id):
            box.uncheck()
    page.locator(f"#amount-{invoice_id}").fill(amount)


def _card(page: Page, zip_code: str = "98004") -> None:
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill(zip_code)
    page.get_by_label("Name on card").fill("Pat Payer")


@pytest.mark.parametrize("size", SIZES)
def test_after_a_decline_the_page_still_says_one_dollar(page: Page, payer, sandboxes, size: str):
    _, (invoice, _, _) = payer
    page.set_viewport_size(SIZES[size])  # type: ignore[arg-type]
    log_in(page, "payer", PASSWORD)
    page.goto("/pay")
    _only(page, invoice.id, "1.00")
    expect(page.get_by_test_id("pay-total")).to_have_text("$1.00")
    _card(page, zip_code=DECLINE_ZIP)  # the sandbox declines this billing ZIP
    page.get_by_role("button", name="Pay $1.00").click()

    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("declined")
    expect(summary).to_be_focused()
    amount = page.locator(f"#amount-{invoice.id}")
    expect(amount).to_have_value("1.00")
    expect(page.get_by_test_id("pay-total")).to_have_text("$1.00")
    expect(page.locator("#pay-button")).to_have_text("Pay $1.00")
    # The total and the button stay on screen while the focused summary is at the top.
    expect(page.get_by_test_id("pay-total")).to_be_in_viewport()
    expect(page.locator("#pay-button")).to_be_in_viewport()
    for box in page.locator("input[name=invoice]").all():
        expect(box).to_be_checked(checked=box.get_attribute("value") == str(invoice.id))
    [declined] = sandboxes[1].state.transactions.values()
    assert Decimal(str(declined.settle_amount)) == 0


@pytest.mark.parametrize("size", SIZES)
def test_bad_amounts_are_refused_in_the_page_and_paying_shows_once(
    page: Page, payer, sandboxes, size: str
):
    _, (invoice, _, _) = payer
    page.set_viewport_size(SIZES[size])  # type: ignore[arg-type]
    log_in(page, "payer", PASSWORD)
    page.goto("/pay")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _card(page)
    amount = page.locator(f"#amount-{invoice.id}")
    note = page.locator(f"#amount-{invoice.id}-error")
    for typed, message in (("0", "more than zero"), ("1.234", "dollars and cents")):
        _only(page, invoice.id, typed)
        page.locator("#pay-button").click()
        expect(note).to_contain_text(message)
        expect(amount).to_have_attribute("aria-describedby", f"amount-{invoice.id}-error")
        expect(amount).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#error-summary")).to_be_focused()
    assert posts == []  # neither the processor nor the portal was sent anything
    assert sandboxes[1].state.transactions == {}

    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)  # the card step, answered once the button has been looked at
        else:
            route.continue_()

    page.route("**/v1/tokens", hold)
    _only(page, invoice.id, "1.00")
    button = page.locator("#pay-button")
    expect(button).to_have_text("Pay $1.00")
    expect(note).to_be_hidden()
    button.click()
    expect(button).to_have_text("Paying\u2026")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-busy", "true")
    button.click(force=True)  # a second tap on the disabled button sends nothing more
    expect(button).to_have_text("Paying\u2026")
    assert len(held) == 1 and posts == [held[0].request.url]
    held[0].continue_()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    expect(page.get_by_test_id("receipt-total")).to_have_text("$1.00")
    assert len(sandboxes[1].state.transactions) == 1


def test_the_running_total_is_written_in_the_company_s_currency_and_locale(page: Page, app, payer):
    _, (invoice, _, _) = payer
    settings = app.config["PORTAL_SETTINGS"]
    portal = dataclasses.replace(settings.portal, locale="en_GB", currency="GBP")
    app.config["PORTAL_SETTINGS"] = dataclasses.replace(settings, portal=portal)
    log_in(page, "payer", PASSWORD)
    page.goto("/pay")
    expect(page.get_by_test_id("pay-total")).to_contain_text("£")  # the server's total
    _only(page, invoice.id, "1234.5")
    expect(page.get_by_test_id("pay-total")).to_have_text("£1,234.50")  # the page's own sum
    expect(page.locator("#pay-button")).to_have_text("Pay £1,234.50")
