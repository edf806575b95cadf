"""A customer adds a card on the payment methods page, in a real browser, through the
Accept.js stand-in; the processor checks it and keeps it in the customer's one profile."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal import demo as demo_env
from portal.app import create_app
from portal.config import Settings
from sandbox.authorizenet import AnetSandbox
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD, _wipe


@pytest.fixture
def anet() -> Iterator[AnetSandbox]:
    server = demo_env.start_anet(0)
    yield server
    server.stop()


@pytest.fixture
def app(settings: Settings, anet: AnetSandbox) -> Iterator[Flask]:
    """The portal paying through the Authorize.Net sandbox (QuickBooks is not needed here)."""
    gateway = dataclasses.replace(
        settings.authorizenet,
        api_login_id=anet.state.api_login_id,
        transaction_key=anet.state.transaction_key,
        api_url=anet.api_url,
        accept_js_url=anet.accept_js_url,
        timeout_seconds=10,
    )
    wired = create_app(
        {"SETTINGS": dataclasses.replace(settings, authorizenet=gateway), "ARGON2_CHEAP": True}
    )
    yield wired
    _wipe(wired.extensions["portal.db"].engine)
    wired.extensions["portal.db"].engine.dispose()


def test_a_card_added_on_the_methods_page_is_listed_and_kept_by_the_processor(
    page: Page, app: Flask, anet: AnetSandbox, make_customer, make_user
):
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    make_user("ada", customer=ada)
    log_in(page, "ada", PASSWORD)
    page.goto("/payment-methods")
    expect(page.get_by_text("No saved methods.")).to_be_visible()
    page.get_by_role("link", name="Add a card").click()
    expect(page.get_by_role("heading", name="Add a card")).to_be_visible()
    page.get_by_label("Card number").fill("5424 0000 0000 0015")
    page.get_by_label("Expiry (MM/YY)").fill("04/31")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("46282")  # the sandbox declines this ZIP's check
    page.get_by_label("Name on card").fill("Ada Lovelace")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("alert").filter(has_text="It was not saved")).to_be_visible()

    page.get_by_label("Card number").fill("5424 0000 0000 0015")
    page.get_by_label("Expiry (MM/YY)").fill("04/31")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("98004")
    page.get_by_label("Name on card").fill("Ada Lovelace")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("MasterCard ending in 0015 was saved.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="MasterCard ending in 0015")
    expect(row).to_contain_text("04/2031")
    expect(row).to_contain_text("Default")
    [profile] = anet.state.profiles.values()
    [kept] = profile.payment_profiles.values()
    assert kept.method.last4 == "0015"
    assert anet.state.transactions == {}  # checked, never charged
