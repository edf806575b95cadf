"""Payments and credit memos: balances, LinkedTxn and re-derivation, as QuickBooks does them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine

from .test_entities import new_invoice


def ref(value: str) -> Ref:
    """A Ref with a value."""
    reference = Ref()
    reference.value = value
    return reference


def payment_line(amount: str, txn_id: str, txn_type: str = "Invoice") -> PaymentLine:
    """A payment line linking one transaction."""
    line = PaymentLine()
    line.Amount = Decimal(amount)
    link = LinkedTxn()
    link.TxnId = txn_id
    link.TxnType = txn_type
    line.LinkedTxn.append(link)
    return line


def new_payment(customer_id: str, total: str, *lines: PaymentLine) -> Payment:
    """A Payment object."""
    payment = Payment()
    payment.CustomerRef = ref(customer_id)
    payment.TotalAmt = Decimal(total)
    payment.Line = list(lines)
    return payment


def balance(qb: QuickBooks, entity: type, object_id: str) -> Decimal:
    """Read a Balance as Decimal."""
    return Decimal(str(entity.get(object_id, qb=qb).Balance))


@pytest.fixture
def fresh_customer(qb: QuickBooks) -> str:
    """A customer with no transactions yet."""
    customer = Customer()
    customer.DisplayName = "Pay Ment"
    return customer.save(qb=qb).Id


def test_a_payment_applied_to_two_invoices_updates_balances_and_linked_txn(
    qb: QuickBooks, fresh_customer: str
) -> None:
    first = new_invoice(fresh_customer, ("2", 1, "100.00")).save(qb=qb)
    second = new_invoice(fresh_customer, ("3", 1, "150.00")).save(qb=qb)
    assert balance(qb, Customer, fresh_customer) == Decimal("250.00")
    payment = new_payment(
        fresh_customer, "200.00", payment_line("100.00", first.Id), payment_line("60.00", second.Id)
    ).save(qb=qb)
    assert payment.UnappliedAmt == 40
    assert balance(qb, Invoice, first.Id) == 0
    assert balance(qb, Invoice, second.Id) == Decimal("90.00")
    linked = Invoice.get(second.Id, qb=qb).LinkedTxn
    assert [(lt.TxnId, lt.TxnType) for lt in linked] == [(payment.Id, "Payment")]
    assert int(Invoice.get(first.Id, qb=qb).SyncToken) == 1
    # open invoices 90 minus the 40 unapplied
    assert balance(qb, Customer, fresh_customer) == Decimal("50.00")


def test_applying_more_than_the_invoice_balance_is_refused(
    qb: QuickBooks, fresh_customer: str
) -> None:
    invoice = new_invoice(fresh_customer, ("2", 1, "100.00")).save(qb=qb)
    with pytest.raises(QuickbooksException) as caught:
        new_payment(fresh_customer, "120.00", payment_line("120.00", invoice.Id)).save(qb=qb)
    assert caught.value.error_code == 6000
    assert balance(qb, Invoice, invoice.Id) == Decimal("100.00")


def test_updating_a_payment_replaces_its_lines_and_rederives_balances(
    qb: QuickBooks, fresh_customer: str
) -> None:
    first = new_invoice(fresh_customer, ("2", 1, "100.00")).save(qb=qb)
    second = new_invoice(fresh_customer, ("2", 1, "100.00")).save(qb=qb)
    payment = new_payment(fresh_customer, "100.00", payment_line("100.00", first.Id)).save(qb=qb)
    payment = Payment.get(payment.Id, qb=qb)
    payment.Line = [payment_line("100.00", second.Id)]
    payment.save(qb=qb)
    assert balance(qb, Invoice, first.Id) == Decimal("100.00")
    assert balance(qb, Invoice, second.Id) == 0
    assert Invoice.get(first.Id, qb=qb).LinkedTxn == []


def test_deleting_a_payment_reopens_the_invoice(qb: QuickBooks, fresh_customer: str) -> None:
    invoice = new_invoice(fresh_customer, ("2", 1, "80.00")).save(qb=qb)
    payment = new_payment(fresh_customer, "80.00", payment_line("80.00", invoice.Id)).save(qb=qb)
    assert balance(qb, Invoice, invoice.Id) == 0
    Payment.get(payment.Id, qb=qb).delete(qb=qb)
    assert balance(qb, Invoice, invoice.Id) == Decimal("80.00")
    assert balance(qb, Customer, fresh_customer) == Decimal("80.00")


def test_voiding_a_paid_invoice_leaves_the_payment_unapplied(
    qb: QuickBooks, fresh_customer: str
) -> None:
    invoice = new_invoice(fresh_customer, ("2", 1, "80.00")).save(qb=qb)
    payment = new_payment(fresh_customer, "80.00", payment_line("80.00", invoice.Id)).save(qb=qb)
    Invoice.get(invoice.Id, qb=qb).void(qb=qb)
    refreshed = Payment.get(payment.Id, qb=qb)
    assert refreshed.Line == []
    assert refreshed.UnappliedAmt == 80
    assert balance(qb, Customer, fresh_customer) == Decimal("-80.00")


def test_a_zero_total_payment_applies_a_credit_memo_to_an_invoice(
    qb: QuickBooks, fresh_customer: str
) -> None:
    invoice = new_invoice(fresh_customer, ("2", 1, "100.00")).save(qb=qb)
    memo = CreditMemo()
    memo.CustomerRef = ref(fresh_customer)
    line = SalesItemLine()
    line.Amount = Decimal("30.00")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = ref("2")
    memo.Line.append(line)
    memo = memo.save(qb=qb)
    assert memo.RemainingCredit == 30
    assert balance(qb, Customer, fresh_customer) == Decimal("70.00")
    new_payment(
        fresh_customer,
        "0",
        payment_line("30.00", invoice.Id),
        payment_line("30.00", memo.Id, "CreditMemo"),
    ).save(qb=qb)
    assert balance(qb, Invoice, invoice.Id) == Decimal("70.00")
    applied = CreditMemo.get(memo.Id, qb=qb)
    assert applied.Balance == 0
    assert applied.RemainingCredit == 0
    assert balance(qb, Customer, fresh_customer) == Decimal("70.00")


def test_a_payment_cannot_apply_another_customers_invoice(
    qb: QuickBooks, fresh_customer: str
) -> None:
    invoice = new_invoice("1", ("2", 1, "10.00")).save(qb=qb)
    with pytest.raises(QuickbooksException) as caught:
        new_payment(fresh_customer, "10.00", payment_line("10.00", invoice.Id)).save(qb=qb)
    assert caught.value.error_code == 6000


def test_seeded_customer_balances_match_their_transactions(qb: QuickBooks) -> None:
    def rows(entity: str) -> list[dict]:
        reply = qb.query("SELECT * FROM " + entity + " MAXRESULTS 1000")  # noqa: S608
        return reply["QueryResponse"].get(entity, [])

    expected: dict[str, Decimal] = {}
    for entity, key, sign in (
        ("Invoice", "Balance", 1),
        ("CreditMemo", "RemainingCredit", -1),
        ("Payment", "UnappliedAmt", -1),
    ):
        for row in rows(entity):
            customer = row["CustomerRef"]["value"]
            expected[customer] = expected.get(customer, Decimal(0)) + sign * Decimal(str(row[key]))
    invoices = rows("Invoice")
    assert any(0 < row["Balance"] < row["TotalAmt"] for row in invoices)
    assert any(row["Balance"] == 0 for row in invoices)
    for customer in rows("Customer"):
        assert Decimal(str(customer["Balance"])) == expected.get(customer["Id"], Decimal(0))
