"""Fault injection (throttling, 5xx, latency, concurrency) and the invoice PDF."""

from __future__ import annotations

import io
import threading
import time
from decimal import Decimal

import pytest
import requests
from pypdf import PdfReader
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException, SevereException, ValidationException
from quickbooks.objects.base import Address, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice

from sandbox.qbo import Company, ManualClock, QboSandbox
from tests.fonts import require_fonts


def test_throttle_gives_429_with_code_3001_until_the_minute_rolls_over(
    sandbox: QboSandbox, qb: QuickBooks, clock: ManualClock
) -> None:
    sandbox.state.faults.throttle_limit = 3
    for _ in range(3):
        Customer.count(qb=qb)
    with pytest.raises(ValidationException) as caught:
        Customer.count(qb=qb)
    assert caught.value.error_code == 3001
    raw = requests.get(
        f"{sandbox.api_base_url}/company/{qb.company_id}/customer/1",
        headers={"Authorization": f"Bearer {qb.session.access_token}"},
        timeout=5,
    )
    assert raw.status_code == 429
    clock.advance(61)
    assert Customer.count(qb=qb) == 8


def test_throttle_can_answer_with_the_historical_xml_body(
    sandbox: QboSandbox, qb: QuickBooks
) -> None:
    sandbox.state.faults.throttle_limit = 0
    sandbox.state.faults.throttle_body = "xml"
    with pytest.raises(QuickbooksException) as caught:
        Customer.count(qb=qb)
    assert "ThrottleExceeded" in caught.value.message


def test_the_default_throttle_is_500_per_minute_and_can_be_switched_off(
    sandbox: QboSandbox,
) -> None:
    faults = sandbox.state.faults
    assert faults.throttle_limit == 500
    assert faults.batch_throttle_limit == 40
    faults.throttle_limit = None
    faults.reset()
    assert faults.throttle_limit == 500


def test_a_5xx_can_be_injected_on_the_nth_call(sandbox: QboSandbox, qb: QuickBooks) -> None:
    sandbox.state.faults.fail_on_call(2, status=500)
    assert Customer.count(qb=qb) == 8
    with pytest.raises(SevereException) as caught:
        Customer.count(qb=qb)
    assert caught.value.error_code == 10000
    assert Customer.count(qb=qb) == 8


def test_injected_latency_slows_every_call(sandbox: QboSandbox, qb: QuickBooks) -> None:
    sandbox.state.faults.latency_seconds = 0.2
    started = time.perf_counter()
    Customer.count(qb=qb)
    assert time.perf_counter() - started >= 0.2


def test_too_many_concurrent_requests_are_throttled(sandbox: QboSandbox, qb: QuickBooks) -> None:
    sandbox.state.faults.concurrency_limit = 1
    sandbox.state.faults.latency_seconds = 0.5
    statuses: list[int] = []

    def call() -> None:
        response = requests.get(
            f"{sandbox.api_base_url}/company/{qb.company_id}/customer/1",
            headers={"Authorization": f"Bearer {qb.session.access_token}"},
            timeout=5,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 429]


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf), strict=True).pages)


def test_invoice_pdf_is_a_real_pdf_with_the_invoice_on_it(qb: QuickBooks, company: Company) -> None:
    require_fonts()
    invoice = Invoice.get(4, qb=qb)
    pdf = invoice.download_pdf(qb=qb)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = _pdf_text(pdf)
    assert company.name in text and "INVOICE" in text and "Bill to" in text
    assert invoice.CustomerRef.name in text and invoice.BillAddr.Line1 in text
    assert f"Invoice no. {invoice.DocNumber}" in text
    assert "Description Qty Rate Amount" in text
    total = Decimal(str(invoice.TotalAmt))
    assert f"Total ${total:,.2f}" in text
    assert f"Balance due ${Decimal(str(invoice.Balance)):,.2f}" in text


def test_invoice_pdf_prints_any_name_lines_in_columns_and_the_total(qb: QuickBooks) -> None:
    require_fonts()
    customer = Customer()
    customer.DisplayName = "山田太郎 & Łukasz Wiśniewski"
    customer.BillAddr = Address()
    customer.BillAddr.Line1 = "ul. Długa 5"
    customer.BillAddr.City = "Kraków"
    customer.BillAddr.PostalCode = "31-147"
    created = customer.save(qb=qb)
    invoice = Invoice()
    invoice.CustomerRef = Ref()
    invoice.CustomerRef.value = created.Id
    for item_id, qty, price in (("2", 3, "79.00"), ("4", 12, "1095.50")):
        line = SalesItemLine()
        line.Description = f"Zoë's item {item_id}"
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = Ref()
        line.SalesItemLineDetail.ItemRef.value = item_id
        line.SalesItemLineDetail.Qty = qty
        line.SalesItemLineDetail.UnitPrice = Decimal(price)
        invoice.Line.append(line)
    saved = invoice.save(qb=qb)
    text = _pdf_text(saved.download_pdf(qb=qb))
    assert "Bill to" in text and "山田太郎 & Łukasz Wiśniewski" in text
    assert "ul. Długa 5" in text and "Kraków 31-147" in text
    assert "Zoë's item 2 3 $79.00 $237.00" in text
    assert "Zoë's item 4 12 $1,095.50 $13,146.00" in text
    assert "Total $13,383.00" in text and "Balance due $13,383.00" in text
    assert "?" not in text


def test_unknown_paths_get_a_fault_with_an_intuit_tid(sandbox: QboSandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/nowhere", timeout=5)
    assert response.status_code == 404
    assert response.json()["Fault"]["Error"][0]["code"] == "500"
    assert response.headers["intuit_tid"].startswith("1-")
