"""Passkeys in Chromium with its virtual authenticator (a platform passkey with user
verification): add one, see the recovery codes once, sign in with it without a password and
as the second step, and the pages pass axe and fit a 320 px phone.

WebAuthn refuses an IP address as the RP ID, so these pages are browsed at localhost (the
live server listens on 127.0.0.1) with public_url on localhost too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.config import Settings, load_settings
from tests.browser.test_accessibility import sideways, small_targets, violations
from tests.conftest import PASSWORD, write_config

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    config = write_config(tmp_path, database_url, portal={"public_url": "http://localhost:5000"})
    return load_settings(config, environ={})


@pytest.fixture
def local(browser: Browser, live_url: str) -> Iterator[Page]:
    """A phone-sized page on http://localhost:<the live server's port>, with a virtual
    authenticator that keeps passkeys and verifies its user."""
    port = urlsplit(live_url).port
    context = browser.new_context(base_url=f"http://localhost:{port}", viewport=PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    cdp: Any = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield page
    context.close()


def log_in(page: Page, identifier: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill(identifier)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Page) -> None:
    page.locator("form[action='/logout']").evaluate("form => form.requestSubmit()")
    page.wait_for_url("**/login")


def problems(page: Page, name: str) -> list[str]:
    found = [f"{name}: {line}" for line in violations(page)]
    found += [f"{name}: under 44px: {target}" for target in small_targets(page)]
    if extra := sideways(page):
        found.append(f"{name}: scrolls {extra}px sideways at 320px")
    return found


def test_a_passkey_is_added_then_signs_in_alone_and_as_the_second_step(local: Page, make_user):
    page = local
    make_user("ada")
    log_in(page, "ada")
    expect(page).to_have_url("/")

    page.goto("/account/passkeys")
    found = problems(page, "passkeys, none yet")
    page.get_by_label("Name it after the device it is on").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    expect(codes).to_have_count(10)
    expect(page.get_by_text("this page shows them only once")).to_be_visible()
    found += problems(page, "passkeys, recovery codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("passkeys")).to_contain_text("Test laptop")
    found += problems(page, "passkeys, one")

    log_out(page)
    found += problems(page, "login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url("/")
    page.goto("/account/passkeys")
    expect(page.get_by_test_id("passkeys")).not_to_contain_text("Not yet")

    log_out(page)
    log_in(page, "ada")  # ada has two-factor sign-in now: the passkey is the second step
    expect(page).to_have_url("/login/verify")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url("/")
    assert not found, "\n".join(found)


def test_a_refused_passkey_says_why_in_the_live_region(local: Page, make_user):
    page = local
    make_user("ada")
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()  # it has no passkey here
    message = page.locator("[data-passkey-message]")
    expect(message).not_to_be_empty()
    expect(message).to_have_attribute("aria-live", "polite")
    expect(page).to_have_url("/login")


def test_without_webauthn_the_passkey_button_stays_hidden(page: Page, make_user):
    page.add_init_script("delete window.PublicKeyCredential")
    page.goto("/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
