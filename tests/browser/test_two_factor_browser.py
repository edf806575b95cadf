"""Two-factor sign-in in a real browser: a customer sets up an authenticator app (the code is
computed here, as the phone would), signs in with it and with a recovery code, and signs out
a session on another device from the Security page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, app_code


def _sign_in_first_step(page: Page, identifier: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill(identifier)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")


def test_a_customer_sets_up_an_app_and_signs_in_with_it_and_with_a_recovery_code(
    page: Page, app: Flask, make_user
):
    make_user("ada")
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill("ada")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto("/account")
    page.get_by_role("link", name="Two-factor sign-in").click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()

    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", c) for c in codes)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_text("Two-factor sign-in is on")).to_be_visible()
    _log_out(page)

    _sign_in_first_step(page, "ada")
    page.get_by_label("Code").fill(app_code(app, "ada"))  # the app's code of this moment
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("balance-due")).to_be_visible()
    _log_out(page)

    _sign_in_first_step(page, "ada")
    page.get_by_role("link", name="Use a recovery code").click()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("balance-due")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You used a recovery code; 9 left")


def test_a_customer_signs_out_a_session_on_another_device(
    browser: Browser, page: Page, live_url: str, make_user
):
    make_user("ada")
    other = browser.new_context(
        base_url=live_url,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    )
    try:
        phone = other.new_page()
        for p in (phone, page):
            p.goto("/login")
            p.get_by_label("Username or e-mail").fill("ada")
            p.get_by_label("Password", exact=True).fill(PASSWORD)
            p.get_by_role("button", name="Log in").click()
            expect(p.get_by_test_id("balance-due")).to_be_visible()

        page.goto("/account/security")
        page.get_by_role("button", name=re.compile(r"^Sign out the session")).click()
        expect(page.get_by_role("status")).to_contain_text("That session is signed out.")

        phone.goto("/invoices")
        assert urlsplit(phone.url).path == "/login"
        page.goto("/invoices")  # this device stays signed in
        assert urlsplit(page.url).path == "/invoices"
    finally:
        other.close()
