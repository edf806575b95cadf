"""A customer, in a real browser: lists invoices, filters to overdue, opens one and downloads
its QuickBooks PDF (accounting faked)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect

from sync.fake import FakeAccounting
from tests import records as rec
from tests.browser.test_account_flows import log_in
from tests.conftest import PASSWORD


def test_customer_filters_to_overdue_opens_an_invoice_and_downloads_its_pdf(
    page: Page, app: Flask, make_customer, make_invoice, make_user, tmp_path: Path
):
    fake = FakeAccounting(realm_id="test")
    app.extensions["portal.adapter_factory"] = lambda realm: fake
    ada = make_customer("Ada Lovelace")
    late = make_invoice(ada, "120.00", due=date(2000, 1, 1))
    make_invoice(ada, "35.50", balance="10.25", due=date(2099, 1, 1))
    make_invoice(ada, "60.00", balance="0.00", due=date(2000, 2, 1))
    fake.put(rec.invoice(late.qbo_id, ada.qbo_id))
    make_user("ada", customer=ada)

    log_in(page, "ada", PASSWORD)
    page.goto("/invoices")
    rows = page.get_by_test_id("invoices").locator("tbody tr")
    expect(rows).to_have_count(3)

    page.get_by_label("Status").select_option("overdue")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("status")).to_have_text("Overdue")

    rows.first.get_by_role("link", name=late.doc_number).click()
    expect(page.get_by_role("heading", name=f"Invoice {late.doc_number}")).to_be_visible()
    expect(page.get_by_test_id("invoice-balance")).to_have_text("$120.00")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename == f"invoice-{late.doc_number}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
