"""Where focus lands after the portal answers: a page asking "Are you sure?" starts at its
question; a form sent back starts at its first mistake, which names what is wrong."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from portal import db
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD
from tests.rows import saved_card


def test_a_confirmation_page_starts_at_its_question(
    page: Page, app: Flask, make_customer, make_user
):
    ada = make_customer("Ada Lovelace")
    make_user("ada", customer=ada)
    with app.app_context(), db.transaction() as s:
        s.add(saved_card(ada.id, is_default=True))
    log_in(page, "ada", PASSWORD)
    page.goto("/payment-methods")
    page.get_by_role("button", name="Remove Visa ending in 1111").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove Visa ending in 1111?")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.keyboard.press("Tab")  # on from the question: the button that acts
    expect(page.get_by_role("button", name="Remove")).to_be_focused()


def test_a_form_sent_back_starts_at_its_first_mistake(page: Page, make_user):
    make_user("ada")
    make_user("bob")
    log_in(page, "ada", PASSWORD)
    page.goto("/account")
    page.get_by_label("New username").fill("bob")
    page.get_by_role("button", name="Change username").click()
    field = page.get_by_label("New username")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description("That username is taken. Choose another.")
