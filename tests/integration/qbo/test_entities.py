"""Create, read, update, sparse update, idempotency, delete and void through python-quickbooks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from quickbooks import QuickBooks
from quickbooks.exceptions import (
    ObjectNotFoundException,
    QuickbooksException,
    UnsupportedException,
    ValidationException,
)
from quickbooks.objects.base import EmailAddress, Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice

from sandbox.qbo import Company, QboSandbox


def new_invoice(customer_id: str, *lines: tuple[str, int, str]) -> Invoice:
    """An Invoice object with (item id, qty, unit price) lines."""
    invoice = Invoice()
    invoice.CustomerRef = Ref()
    invoice.CustomerRef.value = customer_id
    for item_id, qty, price in lines:
        line = SalesItemLine()
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = Ref()
        line.SalesItemLineDetail.ItemRef.value = item_id
        line.SalesItemLineDetail.Qty = qty
        line.SalesItemLineDetail.UnitPrice = Decimal(price)
        invoice.Line.append(line)
    return invoice


def new_customer(name: str) -> Customer:
    """A Customer object with a DisplayName and email."""
    customer = Customer()
    customer.DisplayName = name
    customer.PrimaryEmailAddr = EmailAddress()
    customer.PrimaryEmailAddr.Address = "ada@example.com"
    return customer


def test_customer_create_read_update_round_trip(qb: QuickBooks) -> None:
    created = new_customer("Ada Lovelace").save(qb=qb)
    assert created.SyncToken == "0"
    assert created.Balance == 0
    fetched = Customer.get(created.Id, qb=qb)
    assert fetched.DisplayName == "Ada Lovelace"
    assert fetched.MetaData["CreateTime"].endswith("-07:00")
    fetched.CompanyName = "Analytical Engines"
    updated = fetched.save(qb=qb)
    assert updated.SyncToken == "1"
    assert updated.CompanyName == "Analytical Engines"


def test_duplicate_display_name_is_rejected_with_6240(qb: QuickBooks) -> None:
    new_customer("Grace Hopper").save(qb=qb)
    with pytest.raises(QuickbooksException) as caught:
        new_customer("grace hopper").save(qb=qb)
    assert caught.value.error_code == 6240


def test_stale_sync_token_is_rejected_with_5010(qb: QuickBooks) -> None:
    first = Customer.get(2, qb=qb)
    second = Customer.get(2, qb=qb)
    first.Notes = "first writer"
    first.save(qb=qb)
    second.Notes = "second writer"
    with pytest.raises(QuickbooksException) as caught:
        second.save(qb=qb)
    assert caught.value.error_code == 5010
    assert Customer.get(2, qb=qb).Notes == "first writer"


def test_sparse_update_changes_only_the_fields_sent(qb: QuickBooks, company: Company) -> None:
    before = company.rows["Customer"]["3"]
    reply = qb.update_object(
        "Customer",
        f'{{"Id": "3", "SyncToken": "{before["SyncToken"]}", "sparse": true, "Notes": "VIP"}}',
    )["Customer"]
    assert reply["Notes"] == "VIP"
    assert reply["DisplayName"] == before["DisplayName"]
    assert reply["PrimaryEmailAddr"] == before["PrimaryEmailAddr"]
    assert int(reply["SyncToken"]) == int(before["SyncToken"]) + 1


def test_invoice_totals_lines_and_subtotal_are_computed(qb: QuickBooks, company: Company) -> None:
    before = Decimal(company.rows["Customer"]["4"]["Balance"])
    invoice = new_invoice("4", ("2", 3, "79.00"), ("4", 2, "95.50")).save(qb=qb)
    assert invoice.TotalAmt == 428.0
    assert invoice.Balance == 428.0
    assert [line.Amount for line in invoice.Line] == [237.0, 191.0, 428.0]
    assert invoice.Line[-1].DetailType == "SubTotalLineDetail"
    assert invoice.DueDate > invoice.TxnDate
    assert invoice.DocNumber
    assert Decimal(str(Customer.get(4, qb=qb).Balance)) == before + Decimal("428.00")


def test_full_update_of_a_seeded_invoice_keeps_its_lines_and_totals(
    qb: QuickBooks, company: Company
) -> None:
    original = Invoice.get(7, qb=qb)
    original.PrivateNote = "re-saved"
    saved = original.save(qb=qb)
    assert saved.TotalAmt == original.TotalAmt
    assert saved.Balance == original.Balance
    assert [(ln.Amount, ln.DetailType) for ln in saved.Line] == [
        (ln.Amount, ln.DetailType) for ln in original.Line
    ]


def test_request_id_makes_a_create_idempotent(qb: QuickBooks) -> None:
    before = Customer.count(qb=qb)
    first = new_customer("Idem Potent").save(qb=qb, request_id="req-42")
    again = new_customer("Idem Potent").save(qb=qb, request_id="req-42")
    assert again.Id == first.Id
    assert Customer.count(qb=qb) == before + 1


def test_a_retry_after_an_injected_5xx_really_runs(sandbox: QboSandbox, qb: QuickBooks) -> None:
    sandbox.state.faults.fail_next(1, status=503)
    with pytest.raises(QuickbooksException):
        new_customer("Retry Me").save(qb=qb, request_id="req-retry")
    saved = new_customer("Retry Me").save(qb=qb, request_id="req-retry")
    assert saved.Id


def test_deleting_an_invoice_removes_it_and_its_balance(qb: QuickBooks) -> None:
    invoice = new_invoice("5", ("3", 1, "150.00")).save(qb=qb)
    balance = Customer.get(5, qb=qb).Balance
    invoice.delete(qb=qb)
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(invoice.Id, qb=qb)
    assert Customer.get(5, qb=qb).Balance == pytest.approx(balance - 150)


def test_voiding_an_invoice_zeroes_it(qb: QuickBooks) -> None:
    invoice = new_invoice("5", ("3", 1, "150.00")).save(qb=qb)
    invoice.void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    assert voided.TotalAmt == 0
    assert voided.Balance == 0
    assert voided.PrivateNote == "Voided"
    assert int(voided.SyncToken) == 1


def test_customers_cannot_be_deleted(qb: QuickBooks) -> None:
    with pytest.raises(UnsupportedException):
        qb.delete_object("Customer", '{"Id": "1", "SyncToken": "0"}')


def test_an_invoice_for_an_unknown_customer_is_an_invalid_reference(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as caught:
        new_invoice("4040", ("2", 1, "10.00")).save(qb=qb)
    assert caught.value.error_code == 2500


def test_malformed_json_is_a_validation_fault(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as caught:
        qb.create_object("Customer", "{not json")
    assert caught.value.error_code == 2010
