"""In a real browser: a customer proves a mobile number with the code texted to it, chooses
SMS for reminders, and the next reminder arrives only as a text (through the Twilio sandbox
and the real twilio package), not by e-mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.config import Settings, load_settings
from portal.notifications.delivery import deliver_due
from portal.notifications.jobs import reminders
from sandbox.twilio import TwilioSandbox
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD, Mailbox, write_config
from tests.twilio import sms_section, texts_to

PHONE = "+14155550123"
NOON = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # no SMS quiet hours at noon (UTC company)


@pytest.fixture
def twilio() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as running:
        running.state.callbacks.auto_deliver = False
        yield running


@pytest.fixture
def settings(tmp_path: Path, database_url: str, twilio: TwilioSandbox) -> Settings:
    config = write_config(tmp_path, database_url, sms=sms_section(twilio))
    return load_settings(config, environ={})


def test_a_customer_chooses_sms_and_the_next_reminder_comes_only_by_text(
    page: Page,
    app: Flask,
    twilio: TwilioSandbox,
    make_customer,
    make_invoice,
    make_user,
    mailbox: Mailbox,
):
    app.config["CLOCK"] = lambda: NOON
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    invoice = make_invoice(ada, "42.00", due=date(2026, 3, 10))
    make_user("ada", customer=ada)
    log_in(page, "ada", PASSWORD)

    page.goto("/account/phone")
    page.get_by_label("Mobile number").fill("(415) 555-0123")
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_test_id("pending-number")).to_be_visible()
    (sent,) = texts_to(twilio, PHONE)
    code = re.search(r"\b(\d{6})\b", sent)
    assert code, sent
    page.get_by_label("Code").fill(code.group(1))
    page.get_by_role("button", name="Verify").click()

    page.goto("/notifications/preferences")
    reminders_box = page.locator("#kind-due_soon")
    reminders_box.get_by_label("SMS", exact=True).check()
    page.get_by_role("button", name="Save choices").click()
    expect(page.locator("#kind-due_soon").get_by_label("SMS", exact=True)).to_be_checked()

    before = len(mailbox.messages())
    with app.app_context():
        assert reminders(app) == 1  # seven days before the due date
        deliver_due(app)

    texts = texts_to(twilio, PHONE)
    assert len(texts) == 2 and "is due in 7 days: $42.00" in texts[1]
    assert f"/pay?invoice={invoice.id}" in texts[1]
    assert len(mailbox.messages()) == before  # nothing by e-mail

    page.goto("/notifications")
    expect(page.get_by_text(re.compile(r"is due in 7 days: \$42\.00")).first).to_be_visible()

    app.config["CLOCK"] = lambda: NOON + timedelta(days=1)
    with app.app_context():
        assert reminders(app) == 0  # nothing new the next day
