"""A customer, in a real browser: log in, see the dashboard, change password, log out, reset."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

import pyotp
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, TOTP_SECRET, Mailbox

NEW = "violet-tram-sings-at-dusk"


def log_in(page: Page, identifier: str, password: str, secret: str = TOTP_SECRET) -> None:
    """Log in; a login with an authenticator app (staff) types the app's code next."""
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill(identifier)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if urlsplit(page.url).path == "/login/verify":
        page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.get_by_role("button", name="Continue").click()


def test_customer_logs_in_changes_password_and_logs_out(
    page: Page, make_customer, make_invoice, make_user
):
    ada = make_customer("Ada Lovelace")
    make_invoice(ada, "120.00", due=date(2000, 1, 1))
    make_invoice(ada, "35.50", balance="10.25", due=date(2099, 1, 1))
    make_user("ada", email="ada@example.com", customer=ada)

    log_in(page, "ada@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_test_id("balance-due")).to_have_text("$130.25")
    expect(page.get_by_role("alert")).to_contain_text("1 invoice is past due.")

    page.get_by_role("link", name="Account").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Repeat the new password").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))

    log_in(page, "ada", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    log_in(page, "ada", NEW)
    expect(page.get_by_test_id("balance-due")).to_have_text("$130.25")


def test_customer_resets_a_forgotten_password_through_the_emailed_link(
    page: Page, make_user, mailbox: Mailbox, live_url: str
):
    make_user("ada", email="ada@example.com")
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or e-mail").fill("ada")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account matches")

    link = urlsplit(mailbox.last_link())
    page.goto(link.path)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("Repeat the new password").fill(NEW)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    log_in(page, "ada", NEW)
    expect(page.get_by_test_id("balance-due")).to_be_visible()
    page.goto(link.path)  # a used link stays dead
    expect(page.get_by_role("alert")).to_contain_text("already been used")
