"""One suite, two adapters: FakeAccounting and the QuickBooks adapter (python-quickbooks +
intuit-oauth against the QuickBooks sandbox) must behave alike, or the fake has drifted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from sandbox.qbo import Company, QboSandbox
from sync.accounting import (
    AccountingError,
    AppliedLine,
    BusinessRule,
    Entity,
    InvoiceRecord,
    NotFound,
    PaymentRecord,
    PaymentWrite,
    WindowTooOld,
)
from tests.contract.accounting_world import (
    ADA_TOTALS,
    FEE,
    World,
    fake_world,
    sandbox_world,
)
from tests.integration.qbo_fixtures import *  # noqa: F403  (fixtures)

OWED = sum(ADA_TOTALS, Decimal("0.00"))  # what Ada owes at the start


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """Instead of qbo_fixtures' seeded company, an empty one (starter accounts and items only):
    the world seeds the rest, as it does in the fake."""
    return sandbox.state.add_company()


@pytest.fixture(params=["fake", "quickbooks"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "fake":
        return fake_world()
    return sandbox_world(
        request.getfixturevalue("sandbox"),
        request.getfixturevalue("qbo_clock"),
        request.getfixturevalue("adapter"),
    )


def pay(
    world: World, invoice: str, amount: str, request_id: str, ref: str | None = None
) -> PaymentRecord:
    """Pay one of Ada's invoices."""
    value = Decimal(amount)
    applied = [AppliedLine("Invoice", invoice, value)]
    return world.adapter.record_payment(world.ada, applied, value, ref, world.today, request_id)


def write(world: World, bid: str, invoice: str, amount: str, ref: str) -> PaymentWrite:
    value = Decimal(amount)
    return PaymentWrite(
        bid=bid,
        customer_id=world.ada,
        applied=(AppliedLine("Invoice", invoice, value),),
        total=value,
        reference=ref,
        txn_date=world.today,
    )


def test_a_payment_lowers_the_invoice_balance_and_is_linked_to_it(world: World):
    first = world.invoices[0]
    before = world.adapter.get_invoice(first)
    payment = pay(world, first, "30.00", "pay-1", ref="T-1")
    assert (payment.customer_id, payment.total, payment.unapplied) == (
        world.ada,
        Decimal("30.00"),
        Decimal("0.00"),
    )
    assert payment.applied == (AppliedLine("Invoice", first, Decimal("30.00")),)
    assert payment.reference == "T-1" and payment.txn_date == world.today
    invoice = world.adapter.get_invoice(first)
    assert (invoice.total, invoice.balance) == (ADA_TOTALS[0], Decimal("70.00"))
    assert invoice.linked_payment_ids == (payment.id,)
    assert int(invoice.sync_token) == int(before.sync_token) + 1  # one change, one new token
    assert world.adapter.get_customer(world.ada).balance == OWED - Decimal("30.00")


def test_what_a_payment_does_not_apply_stays_unapplied_and_off_the_balance(world: World):
    applied = [AppliedLine("Invoice", world.invoices[1], Decimal("30.00"))]
    payment = world.adapter.record_payment(
        world.ada, applied, Decimal("50.00"), "T-1", world.today, "pay-1"
    )
    assert (payment.total, payment.unapplied) == (Decimal("50.00"), Decimal("20.00"))
    assert world.adapter.get_invoice(world.invoices[1]).balance == Decimal("220.00")
    assert world.adapter.get_customer(world.ada).balance == OWED - Decimal("50.00")


def test_the_same_request_id_twice_is_one_payment(world: World):
    first = pay(world, world.invoices[0], "30.00", "pay-once", ref="T-1")
    again = pay(world, world.invoices[0], "30.00", "pay-once", ref="T-1")
    assert again.id == first.id
    assert [p.id for p in world.payments()] == [first.id]
    assert world.adapter.get_invoice(world.invoices[0]).balance == Decimal("70.00")


def test_a_payment_over_the_open_balance_is_refused_and_writes_nothing(world: World):
    before = world.adapter.get_invoice(world.invoices[2])
    with pytest.raises(BusinessRule):
        pay(world, world.invoices[2], "40.01", "pay-over", ref="T-OVER")
    assert world.adapter.get_invoice(world.invoices[2]) == before
    assert world.payments() == []
    assert world.adapter.find_payments(world.ada, "T-OVER") == []
    assert world.adapter.get_customer(world.ada).balance == OWED


def test_a_refusal_is_replayed_under_its_request_id(world: World):
    with pytest.raises(BusinessRule):
        pay(world, world.invoices[2], "40.01", "pay-x")
    with pytest.raises(BusinessRule):  # the same id answers the same, even for a fitting amount
        pay(world, world.invoices[2], "40.00", "pay-x")
    assert world.payments() == []
    assert pay(world, world.invoices[2], "40.00", "pay-y").total == Decimal("40.00")


def test_a_payment_applying_more_than_its_total_is_refused(world: World):
    applied = [AppliedLine("Invoice", world.invoices[0], Decimal("30.00"))]
    with pytest.raises(BusinessRule):
        world.adapter.record_payment(
            world.ada, applied, Decimal("20.00"), None, world.today, "pay-1"
        )
    assert world.payments() == []


def test_a_payment_applied_to_another_customers_invoice_is_refused(world: World):
    applied = [AppliedLine("Invoice", world.grace_invoice, Decimal("30.00"))]
    with pytest.raises(BusinessRule):
        world.adapter.record_payment(
            world.ada, applied, Decimal("30.00"), None, world.today, "pay-1"
        )
    assert world.payments() == []


def test_a_payment_to_an_unknown_invoice_or_customer_is_not_found(world: World):
    unknown = [AppliedLine("Invoice", "99999", Decimal("30.00"))]
    with pytest.raises(NotFound):
        world.adapter.record_payment(world.ada, unknown, Decimal("30.00"), None, world.today, "p1")
    known = [AppliedLine("Invoice", world.invoices[0], Decimal("30.00"))]
    with pytest.raises(NotFound):
        world.adapter.record_payment("99999", known, Decimal("30.00"), None, world.today, "p2")
    assert world.payments() == []
    assert world.adapter.get_invoice(world.invoices[0]).balance == ADA_TOTALS[0]


def test_a_voided_invoice_takes_no_payment_and_no_line(world: World):
    world.void(world.invoices[2])
    voided = world.adapter.get_invoice(world.invoices[2])
    assert voided.voided and (voided.total, voided.balance) == (Decimal("0.00"), Decimal("0.00"))
    with pytest.raises(NotFound):  # the sandbox answers 2500: no open invoice by that Id
        pay(world, world.invoices[2], "10.00", "pay-1")
    with pytest.raises(BusinessRule):
        world.adapter.add_invoice_line(voided.id, world.item, FEE, "Late fee", "fee-1")
    assert world.adapter.get_invoice(voided.id) == voided
    assert world.payments() == []


def test_a_batch_answers_in_order_with_a_refusal_in_its_place_and_replays(world: World):
    inv1, inv2, inv3 = world.invoices
    batch = [
        write(world, "a", inv1, "100.00", "T-A"),
        write(world, "b", inv2, "250.01", "T-B"),  # a cent over its balance
        write(world, "c", inv3, "15.00", "T-C"),
    ]
    answers = world.adapter.record_payments(batch, "batch-1")
    assert [type(a) for a in answers] == [PaymentRecord, BusinessRule, PaymentRecord]
    paid_a, refused, paid_c = answers
    assert isinstance(paid_a, PaymentRecord) and isinstance(paid_c, PaymentRecord)
    assert isinstance(refused, AccountingError) and refused.code == "6000"
    assert (paid_a.reference, paid_a.applied[0].txn_id) == ("T-A", inv1)
    assert (paid_c.reference, paid_c.applied[0].txn_id) == ("T-C", inv3)
    balances = [world.adapter.get_invoice(i).balance for i in world.invoices]
    assert balances == [Decimal("0.00"), Decimal("250.00"), Decimal("25.00")]
    replay = world.adapter.record_payments(batch, "batch-1")
    assert [getattr(a, "id", None) for a in replay] == [paid_a.id, None, paid_c.id]
    assert isinstance(replay[1], BusinessRule)
    assert sorted(p.id for p in world.payments()) == sorted([paid_a.id, paid_c.id])


def test_an_unknown_invoice_or_customer_is_not_found(world: World):
    with pytest.raises(NotFound):
        world.adapter.get_invoice("99999")
    with pytest.raises(NotFound):
        world.adapter.get_customer("99999")
    with pytest.raises(NotFound):
        world.adapter.invoice_pdf("99999")


def test_an_invoice_pdf_is_a_pdf(world: World):
    assert world.adapter.invoice_pdf(world.invoices[0]).startswith(b"%PDF")


def test_an_added_line_raises_total_and_balance_once_with_a_new_sync_token(world: World):
    before = world.adapter.get_invoice(world.invoices[1])
    after = world.adapter.add_invoice_line(before.id, world.item, FEE, "Late fee", "fee-1")
    assert (after.total, after.balance) == (before.total + FEE, before.balance + FEE)
    assert after.sync_token != before.sync_token
    assert len(after.lines) == len(before.lines) + 1
    added = after.lines[-1]
    assert (added.amount, added.item_id, added.description) == (FEE, world.item, "Late fee")
    assert (added.position, added.line_id, added.item_name) == (2, "2", "Late fee")
    again = world.adapter.add_invoice_line(before.id, world.item, FEE, "Late fee", "fee-1")
    assert (again.total, again.sync_token) == (after.total, after.sync_token)
    assert world.adapter.get_invoice(before.id).total == before.total + FEE
    assert world.adapter.get_customer(world.ada).balance == OWED + FEE


def test_a_line_of_an_unknown_item_is_not_found_and_changes_nothing(world: World):
    before = world.adapter.get_invoice(world.invoices[0])
    with pytest.raises(NotFound):
        world.adapter.add_invoice_line(before.id, "99999", FEE, None, "fee-1")
    with pytest.raises(NotFound):
        world.adapter.add_invoice_line("99999", world.item, FEE, None, "fee-2")
    with pytest.raises(NotFound):
        world.adapter.create_credit_memo(world.ada, "99999", FEE, None, "cm-1")
    assert world.adapter.get_invoice(before.id) == before
    assert world.adapter.get_customer(world.ada).balance == OWED


def test_a_credit_memo_applied_to_an_invoice_lowers_it(world: World):
    memo = world.adapter.create_credit_memo(world.ada, world.item, Decimal("30.00"), None, "cm-1")
    assert (memo.customer_id, memo.total, memo.balance) == (
        world.ada,
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert memo.doc_number  # numbered by QuickBooks
    assert world.adapter.get_customer(world.ada).balance == OWED - Decimal("30.00")
    applied = world.adapter.apply_credit(
        world.ada, world.invoices[1], memo.id, Decimal("30.00"), "apply-1"
    )
    assert applied.total == Decimal("0.00")
    assert set(applied.applied) == {
        AppliedLine("Invoice", world.invoices[1], Decimal("30.00")),
        AppliedLine("CreditMemo", memo.id, Decimal("30.00")),
    }
    assert world.adapter.get_invoice(world.invoices[1]).balance == Decimal("220.00")
    memos = [m for page in world.adapter.pages(Entity.CREDIT_MEMO) for m in page]
    assert [(m.id, getattr(m, "balance", None)) for m in memos] == [(memo.id, Decimal("0.00"))]
    # the credit moved from the memo to the invoice: what Ada owes is the same
    assert world.adapter.get_customer(world.ada).balance == OWED - Decimal("30.00")


def test_payments_are_found_by_customer_and_reference(world: World):
    wanted = pay(world, world.invoices[0], "10.00", "pay-1", ref="T-1")
    pay(world, world.invoices[1], "10.00", "pay-2", ref="T-2")
    grace_line = [AppliedLine("Invoice", world.grace_invoice, Decimal("10.00"))]
    world.adapter.record_payment(
        world.grace, grace_line, Decimal("10.00"), "T-1", world.today, "pay-3"
    )
    assert [p.id for p in world.adapter.find_payments(world.ada, "T-1")] == [wanted.id]
    assert world.adapter.find_payments(world.ada, "T-9") == []


def test_pages_yield_every_invoice(world: World):
    everything = [*world.invoices, world.grace_invoice]
    pages = list(world.adapter.pages(Entity.INVOICE, page_size=3))
    assert [len(p) for p in pages] == [3, 1]
    rows = [r for page in pages for r in page]
    assert all(isinstance(r, InvoiceRecord) for r in rows)
    assert sorted(r.id for r in rows) == sorted(everything)
    totals = {r.id: r.total for r in rows if isinstance(r, InvoiceRecord)}
    assert [totals[i] for i in world.invoices] == list(ADA_TOTALS)


def test_changes_since_a_write_bring_what_it_wrote(world: World):
    since = world.moment()
    payment = pay(world, world.invoices[0], "30.00", "pay-1", ref="T-1")
    memo = world.adapter.create_credit_memo(world.ada, world.item, Decimal("5.00"), None, "cm-1")
    entities = [Entity.PAYMENT, Entity.INVOICE, Entity.CREDIT_MEMO, Entity.CUSTOMER]
    changes = world.adapter.changes_since(entities, since)
    changed = {e: [r.id for r in changes.records.get(e, [])] for e in entities}
    assert changed[Entity.PAYMENT] == [payment.id]
    assert changed[Entity.INVOICE] == [world.invoices[0]]
    assert changed[Entity.CREDIT_MEMO] == [memo.id]
    assert changed[Entity.CUSTOMER] == [world.ada]  # its balance moved
    assert changes.deleted == [] and not changes.truncated
    [invoice] = changes.records[Entity.INVOICE]
    assert isinstance(invoice, InvoiceRecord) and invoice.balance == Decimal("70.00")


def test_changes_further_back_than_30_days_are_window_too_old(world: World):
    long_ago = world.moment() - timedelta(days=31)
    with pytest.raises(WindowTooOld):
        world.adapter.changes_since([Entity.INVOICE], long_ago)


def test_a_contact_change_keeps_what_was_not_given_and_happens_once(world: World):
    before = world.adapter.get_customer(world.ada)
    changed = world.adapter.update_customer_contact(world.ada, None, "(555) 010-1234", "c-1")
    assert (changed.email, changed.phone) == (before.email, "(555) 010-1234")
    assert changed.sync_token != before.sync_token
    again = world.adapter.update_customer_contact(world.ada, "x@example.com", None, "c-1")
    assert again == changed  # the first answer, replayed
    assert world.adapter.get_customer(world.ada).email == before.email


def test_bad_arguments_are_refused_before_anything_is_sent(world: World):
    with pytest.raises(ValueError):
        pay(world, world.invoices[0], "1.00", "r" * 51)
    twice = [write(world, "a", world.invoices[0], "1.00", "T-1")] * 2
    with pytest.raises(ValueError):
        world.adapter.record_payments(twice, "batch-1")
    with pytest.raises(ValueError):
        next(iter(world.adapter.pages(Entity.INVOICE, page_size=1001)))
    with pytest.raises(ValueError):
        world.adapter.changes_since([Entity.INVOICE], world.moment().replace(tzinfo=None))
    assert world.payments() == []


def test_the_company_names_itself(world: World):
    name = world.adapter.company_name()
    assert name and name == name.strip()
