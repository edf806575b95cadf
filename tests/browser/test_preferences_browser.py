"""Preferences in a real browser, on a phone and a desktop: dark theme and larger text
chosen, kept across logging out and in again, and dashboard sections reordered from the
keyboard."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
DARK_BG = "rgb(15, 20, 25)"  # --bg of the dark theme (themes.css)


def look(page: Page) -> dict[str, str]:
    """What <html> says and what the browser computed from it (once the stylesheets loaded)."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)'"
    )
    return page.evaluate(
        """() => ({
            theme: document.documentElement.dataset.theme,
            text: document.documentElement.dataset.text,
            fontSize: getComputedStyle(document.documentElement).fontSize,
            background: getComputedStyle(document.body).backgroundColor,
        })"""
    )


@pytest.mark.parametrize("size", SIZES)
def test_dark_theme_and_larger_text_stay_after_logging_out_and_in(
    page: Page, size: str, make_customer, make_invoice, make_user
):
    page.set_viewport_size(SIZES[size])  # type: ignore[arg-type]
    ada = make_customer("Ada Lovelace")
    make_invoice(ada, "35.50", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    log_in(page, "ada", PASSWORD)
    page.goto("/account")
    page.get_by_role("link", name="Preferences").click()
    page.get_by_label("Dark", exact=True).check()
    page.get_by_label("Larger", exact=True).check()
    page.get_by_role("button", name="Save preferences").first.click()
    expect(page.get_by_role("status")).to_contain_text("Preferences saved.")
    applied = look(page)
    assert applied == {
        "theme": "dark",
        "text": "larger",
        "fontSize": "22px",  # 137.5% of 16px
        "background": DARK_BG,
    }

    # The form, not the nav: a phone layout may fold the nav behind a menu button.
    page.locator("form[action='/logout']").evaluate("form => form.requestSubmit()")
    page.wait_for_url("**/login")
    assert look(page)["theme"] == "auto" and look(page)["text"] == "normal"

    log_in(page, "ada", PASSWORD)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert look(page) == applied


def test_a_section_moves_up_from_the_keyboard(page: Page, make_customer, make_invoice, make_user):
    ada = make_customer("Ada Lovelace")
    make_invoice(ada, "35.50", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    log_in(page, "ada", PASSWORD)
    page.goto("/account/preferences")
    # The section's name is visually hidden (out of the flow), so Chrome reads "Move up : …".
    page.get_by_role("button", name=re.compile(r"^Move up\W+Recent activity$")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Moved")
    page.goto("/")
    order = page.locator("[data-widget]").evaluate_all(
        "sections => sections.map(s => s.dataset.widget)"
    )
    assert order[:3] == ["balance", "activity", "invoices"]
