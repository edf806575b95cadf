"""An overdue customer's dashboard in a real browser: the past-due alert and turn-off date,
the late fee in the balance (and exactly once in QuickBooks after the fee job ran twice),
the chart, and an invoice PDF downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect
from quickbooks.objects.invoice import Invoice as QboInvoice

from portal import db
from portal import demo as demo_env
from portal.accounts.models import Role
from portal.accounts.service import create_user
from portal.app import create_app
from portal.billing.models import Invoice
from portal.clock import today
from portal.config import Settings
from portal.overdue.jobs import hourly
from sandbox.qbo import QboSandbox
from sync.service import sync_realm, write_back
from tests.browser.test_account_flows import log_in
from tests.browser.test_paying import quickbooks_client
from tests.conftest import PASSWORD, _wipe


@pytest.fixture
def qbo(settings: Settings) -> Iterator[QboSandbox]:
    sandbox = demo_env.start_sandbox(settings, 0, customers=5, invoices=60)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def app(settings: Settings, qbo: QboSandbox, monkeypatch) -> Iterator[Flask]:
    """The portal as `portal demo` wires it (late fees on), connected and mirrored."""
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    wired = create_app({"SETTINGS": demo_env.sandbox_settings(settings, qbo), "ARGON2_CHEAP": True})
    with wired.app_context():
        realm = demo_env.connect(wired, wired.config["PORTAL_SETTINGS"])
        assert sync_realm(wired, realm).error is None
    yield wired
    _wipe(wired.extensions["portal.db"].engine)
    wired.extensions["portal.db"].engine.dispose()


@pytest.fixture
def late_invoice(app: Flask) -> Invoice:
    """An invoice 40+ days overdue (past grace and into the warning step), with a login."""
    with app.app_context():
        s = db.session()
        invoice = s.scalars(
            sa.select(Invoice)
            .where(Invoice.balance > 0, ~Invoice.voided, Invoice.due_date < today().replace(day=1))
            .order_by(Invoice.due_date)
        ).first()
        assert invoice is not None
        with db.transaction() as tx:
            create_user(
                tx,
                app.extensions["portal.account_policy"],
                username="late",
                email="late@example.com",
                password=PASSWORD,
                role=Role.CUSTOMER,
                customer_id=invoice.customer_id,
            )
        return invoice


def fee_lines(qbo: QboSandbox, invoice: Invoice) -> int:
    """Late-fee lines on the invoice in QuickBooks, read with python-quickbooks."""
    client = quickbooks_client(qbo, demo_env.DEMO_REALM)
    fetched = QboInvoice.get(invoice.qbo_id, qb=client)
    return sum(1 for line in fetched.Line if (line.Description or "").startswith("Late fee"))


def test_overdue_dashboard_shows_alert_turn_off_date_fee_chart_and_pdf(
    page: Page, app: Flask, qbo: QboSandbox, late_invoice: Invoice
):
    with app.app_context():
        first, second = hourly(app), hourly(app)  # the fee job, run twice
        assert first.fees.added >= 1 and second.fees.added == 0
        write_back(app)
        write_back(app)
    assert fee_lines(qbo, late_invoice) == 1

    log_in(page, "late", PASSWORD)
    expect(page.get_by_test_id("past-due")).to_contain_text("past due")
    expect(page.get_by_test_id("turn-off-date")).to_be_visible()
    expect(page.get_by_test_id("late-fees")).to_contain_text("in late fees")
    expect(page.get_by_test_id("chart")).to_be_visible()
    assert page.locator("svg.chart rect.billed").count() >= 12

    page.goto(f"/invoices/{late_invoice.id}")
    expect(page.get_by_text("Late fee").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    path = download.value.path()
    with open(path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
