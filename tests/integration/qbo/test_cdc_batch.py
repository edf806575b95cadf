"""Change data capture and batch requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from sandbox.qbo import Company, ManualClock, QboSandbox
from sandbox.qbo.writes import create

from .test_entities import new_customer, new_invoice


def test_cdc_returns_changed_and_deleted_rows_since_the_watermark(
    qb: QuickBooks, clock: ManualClock
) -> None:
    clock.advance(60)
    watermark = clock()
    clock.advance(5)
    created = new_invoice("2", ("2", 1, "10.00")).save(qb=qb)
    doomed = Invoice.get(3, qb=qb)
    doomed.delete(qb=qb)
    customer = Customer.get(6, qb=qb)
    customer.Notes = "changed"
    customer.save(qb=qb)
    # pass a string: python-quickbooks formats a datetime without its UTC offset
    result = change_data_capture([Invoice, Customer], watermark.isoformat(), qb=qb)
    invoices = {inv.Id: inv for inv in result.Invoice}
    assert created.Id in invoices
    assert getattr(invoices["3"], "status", None) == "Deleted"
    assert "1" not in invoices  # untouched seeded rows are older than the watermark
    assert {c.Id for c in result.Customer} >= {"2", "6"}  # 2's balance changed too


def test_cdc_older_than_30_days_is_a_fault(qb: QuickBooks, clock: ManualClock) -> None:
    with pytest.raises(ValidationException) as caught:
        change_data_capture([Invoice], (clock() - timedelta(days=31)).isoformat(), qb=qb)
    assert "30 days" in caught.value.detail


def test_cdc_stops_at_1000_objects_in_total(
    sandbox: QboSandbox, qb: QuickBooks, company: Company, clock: ManualClock
) -> None:
    watermark = clock().isoformat()
    clock.advance(1)
    with sandbox.state.lock:  # tests may drive the store directly; far faster than 1100 POSTs
        for number in range(1100):
            create(company, "Customer", {"DisplayName": f"Bulk {number}"})
        company.drain_events()
    reply = qb.change_data_capture("Customer,Invoice", watermark)
    responses = reply["CDCResponse"][0]["QueryResponse"]
    assert len(responses[0]["Customer"]) == 1000
    assert responses[1] == {}


def test_batch_reports_a_faulting_item_and_still_runs_the_others(qb: QuickBooks) -> None:
    before = Customer.count(qb=qb)
    existing = Customer.get(1, qb=qb).DisplayName
    result = batch_create(
        [new_customer("Batch One"), new_customer(existing), new_customer("Batch Two")], qb=qb
    )
    assert sorted(c.DisplayName for c in result.successes) == ["Batch One", "Batch Two"]
    assert len(result.faults) == 1
    assert result.faults[0].Error[0].code == "6240"
    assert Customer.count(qb=qb) == before + 2


def test_batch_query_items_return_query_responses(qb: QuickBooks) -> None:
    reply = qb.batch_operation(
        '{"BatchItemRequest": [{"bId": "q1", "Query": "SELECT COUNT(*) FROM Invoice"},'
        ' {"bId": "q2", "Query": "SELECT * FROM Nope"}]}'
    )
    items = {item["bId"]: item for item in reply["BatchItemResponse"]}
    assert items["q1"]["QueryResponse"]["totalCount"] == 30
    assert items["q2"]["Fault"]["Error"][0]["code"] == "4001"


def test_more_than_30_batch_items_is_refused(qb: QuickBooks) -> None:
    item = '"Query": "SELECT * FROM Item"'
    items = ",".join(f'{{"bId": "{n}", {item}}}' for n in range(31))
    with pytest.raises(QuickbooksException) as caught:
        qb.batch_operation(f'{{"BatchItemRequest": [{items}]}}')
    assert caught.value.error_code == 2010
