"""A customer pays with the keyboard alone, on a phone and a desktop: from the dashboard's
invoice link to the invoice, its Pay link, a second invoice ticked with Space, a partial
amount typed, the method chosen with the arrow keys, card details typed, and Enter on the
pay button. The receipt shows the total, and the portal, the processor and QuickBooks agree."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from sync.service import write_back
from tests.browser import test_paying as paying
from tests.conftest import PASSWORD
from tests.ledgers import assert_ledgers_agree

sandboxes, app, payer = paying.sandboxes, paying.app, paying.payer

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
MOST_TABS = 80  # more than any page here has stops; a page needing more is a finding


def tab_to(page: Page, selector: str, key: str = "Tab") -> None:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`."""
    for _ in range(MOST_TABS):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} is not reachable with {key} ({MOST_TABS} presses)")


def type_over(page: Page, text: str) -> None:
    """Replace what the focused field holds, as a person does: select all, then type."""
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


@pytest.mark.parametrize("size", SIZES)
def test_a_customer_pays_two_invoices_one_in_part_with_the_keyboard_alone(
    page: Page, app: Flask, payer, size: str
):
    customer, (first, second, _) = payer
    partial = (second.balance / 2).quantize(Decimal("0.01"))
    total = first.balance + partial
    page.set_viewport_size(SIZES[size])  # type: ignore[arg-type]

    page.goto("/login")  # the username field has focus on arrival
    expect(page.get_by_label("Username or e-mail")).to_be_focused()
    page.keyboard.type("payer")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("balance-due")).to_be_visible()

    # The first Tab reaches the skip link; Enter on it moves on to the page's content.
    page.keyboard.press("Tab")
    page.wait_for_function(
        "document.activeElement && document.activeElement.textContent === 'Skip to content'"
    )
    page.keyboard.press("Enter")
    # Following the link moves focus a moment later (a busy machine showed the old focus).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'main'")
    tab_to(page, f"main a[href='/invoices/{first.id}']")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("invoice-balance")).to_be_visible()
    tab_to(page, f"main a[href='/pay?invoice={first.id}']")
    page.keyboard.press("Enter")

    # Only the invoice we came from is ticked; tick the second with Space, pay part of it.
    expect(page.locator(f"#pick-{first.id}")).to_be_checked()
    expect(page.locator(f"#pick-{second.id}")).not_to_be_checked()
    tab_to(page, f"#pick-{second.id}")
    page.keyboard.press("Space")
    expect(page.locator(f"#pick-{second.id}")).to_be_checked()
    tab_to(page, f"#amount-{second.id}")
    type_over(page, str(partial))
    expect(page.get_by_test_id("pay-total")).to_have_text(f"${total:,.2f}")

    # A radio group is one Tab stop; the arrow keys move the choice (bank, then card again).
    tab_to(page, "input[name=method]:checked")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Routing number")).to_be_visible()
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("Card number")).to_be_visible()
    for field, text in (
        ("#card-number", "4111 1111 1111 1111"),
        ("#card-expiry", "12/30"),
        ("#card-cvv", "123"),
        ("#card-zip", "98004"),
        ("#card-name", customer.display_name),
    ):
        tab_to(page, field)
        page.keyboard.type(text)
    tab_to(page, "#pay-button")
    expect(page.locator("#pay-button")).to_have_text(f"Pay ${total:,.2f}")
    expect(page.locator("#pay-button")).to_be_in_viewport()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    expect(page.get_by_test_id("receipt-total")).to_have_text(f"${total:,.2f}")
    with app.app_context():
        assert write_back(app).done == 1  # what the worker does every 15 seconds
    assert_ledgers_agree(app, strict=True)


def test_the_phone_menu_opens_and_closes_from_the_keyboard(page: Page, payer):
    page.set_viewport_size(SIZES["phone"])  # type: ignore[arg-type]
    page.goto("/login")
    expect(page.get_by_label("Username or e-mail")).to_be_focused()
    page.keyboard.type("payer")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    menu = page.get_by_role("button", name="Menu")
    invoices = page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(invoices).to_be_hidden()
    tab_to(page, ".menu-toggle")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    tab_to(page, "#site-nav a[href='/invoices']")
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    page.keyboard.press("Space")
    tab_to(page, "#site-nav a[href='/invoices']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your invoices")).to_be_visible()


def test_without_javascript_the_phone_nav_wraps_inside_320_pixels(browser, live_url: str, payer):
    context = browser.new_context(
        base_url=live_url, java_script_enabled=False, viewport={"width": 320, "height": 640}
    )
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill("payer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Payment methods")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    page.wait_for_load_state("load")  # measured once laid out, not while the page streams in
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40))"""
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    context.close()
