"""Fault injection (throttling, 5xx, latency, concurrency) and the invoice PDF."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException, SevereException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from sandbox.qbo import ManualClock, QboSandbox


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


def test_invoice_pdf_is_a_real_pdf_with_the_invoice_on_it(qb: QuickBooks) -> None:
    invoice = Invoice.get(4, qb=qb)
    pdf = invoice.download_pdf(qb=qb)
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert f"INVOICE {invoice.DocNumber}".encode() in pdf
    assert invoice.CustomerRef.name.encode("latin-1") in pdf
    offset = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    assert pdf[offset : offset + 4] == b"xref"
    for match in re.finditer(rb"(\d{10}) 00000 n", pdf):
        position = int(match.group(1))
        assert re.match(rb"\d+ 0 obj", pdf[position : position + 12])


def test_unknown_paths_get_a_fault_with_an_intuit_tid(sandbox: QboSandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/nowhere", timeout=5)
    assert response.status_code == 404
    assert response.json()["Fault"]["Error"][0]["code"] == "500"
    assert response.headers["intuit_tid"].startswith("1-")
