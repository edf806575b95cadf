"""The customer's invoice list, invoice detail and QuickBooks PDF (accounting faked)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.billing.models import (
    CreditMemo,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentApplication,
    ReceivedPayment,
)
from portal.clock import today
from portal.payments.models import MethodKind, Payment, PaymentAllocation, PaymentState
from sync.fake import FakeAccounting
from tests import records as rec
from tests.conftest import login

PAST = date(2000, 1, 1)
FUTURE = date(2099, 1, 1)
ROW_RE = re.compile(
    r'<a href="/invoices/\d+">([^<]+)</a>.*?data-testid="status">([^<]+)<', re.DOTALL
)


@pytest.fixture
def fake(app: Flask) -> FakeAccounting:
    fake = FakeAccounting(realm_id="test")
    app.extensions["portal.adapter_factory"] = lambda realm: fake
    return fake


@pytest.fixture
def ada(make_customer) -> Customer:
    return make_customer("Ada Lovelace")


@pytest.fixture
def ada_client(client: FlaskClient, ada: Customer, make_user) -> FlaskClient:
    make_user("ada", customer=ada)
    login(client, "ada")
    return client


def add_invoice(app: Flask, customer: Customer, number: str, **fields: Any) -> Invoice:
    """An invoice with exactly the fields a test cares about (others: open, due in 2099)."""
    total = Decimal(fields.pop("total", "100.00"))
    lines = fields.pop("lines", [InvoiceLine(position=1, amount=total, item_name="Service")])
    with app.app_context(), db.transaction() as s:
        invoice = Invoice(
            realm_id="test",
            qbo_id=fields.pop("qbo_id", f"q{number}"),
            doc_number=number,
            customer_id=customer.id,
            txn_date=fields.pop("txn_date", date(2026, 1, 1)),
            due_date=fields.pop("due_date", FUTURE),
            total_amt=total,
            balance=Decimal(fields.pop("balance", total)),
            **fields,
        )
        invoice.lines.extend(lines)
        s.add(invoice)
    return invoice


def listed(client: FlaskClient, query: str = "") -> list[tuple[str, str]]:
    """(number, badge) of each row the list shows."""
    response = client.get(f"/invoices{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return ROW_RE.findall(response.get_data(as_text=True))


@pytest.fixture
def mixed(app: Flask, ada: Customer, make_customer) -> dict[str, Invoice]:
    """One invoice of each status for Ada, a deleted one, and Bob's."""
    made = {
        "open": add_invoice(app, ada, "1001", total="100.00"),
        "partly": add_invoice(app, ada, "1002", total="200.00", balance="50.00"),
        "paid": add_invoice(app, ada, "1003", total="300.00", balance="0.00"),
        "overdue": add_invoice(app, ada, "1004", total="400.00", due_date=PAST),
        "overdue_partly": add_invoice(
            app, ada, "1005", total="500.00", balance="10.00", due_date=PAST
        ),
        "voided": add_invoice(app, ada, "1006", total="0.00", balance="0.00", voided=True),
        "deleted": add_invoice(app, ada, "1007", deleted=True),
    }
    made["bob"] = add_invoice(app, make_customer("Bob Builder"), "2001")
    return made


def test_list_shows_own_invoices_with_derived_status_badges(ada_client, mixed):
    rows = dict(listed(ada_client, "?sort=number&dir=asc"))
    assert rows == {
        "1001": "Open",
        "1002": "Partly paid",
        "1003": "Paid",
        "1004": "Overdue",
        "1005": "Overdue",  # overdue wins over partly paid
        "1006": "Voided",
    }


@pytest.mark.parametrize(
    ("status", "numbers"),
    [
        ("open", ["1001"]),
        ("partly_paid", ["1002"]),
        ("paid", ["1003"]),
        ("overdue", ["1004", "1005"]),
        ("voided", ["1006"]),
        ("all", ["1001", "1002", "1003", "1004", "1005", "1006"]),
    ],
)
def test_status_filter_shows_exactly_the_invoices_with_that_badge(
    ada_client, mixed, status, numbers
):
    rows = listed(ada_client, f"?status={status}&sort=number&dir=asc")
    assert [n for n, _ in rows] == numbers


def test_search_matches_doc_numbers_containing_the_text_and_wildcards_are_literal(
    app, ada_client, ada
):
    for number in ("A-100", "B-1001", "C-200", "50%OFF"):
        add_invoice(app, ada, number)
    assert sorted(n for n, _ in listed(ada_client, "?q=100")) == ["A-100", "B-1001"]
    assert [n for n, _ in listed(ada_client, "?q=%25")] == ["50%OFF"]
    assert listed(ada_client, "?q=_") == []


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("total", "asc", ["S2", "S3", "S1"]),
        ("total", "desc", ["S1", "S3", "S2"]),
        ("balance", "asc", ["S3", "S2", "S1"]),
        ("date", "desc", ["S3", "S2", "S1"]),
        ("due", "asc", ["S2", "S1", "S3"]),
        ("due", "desc", ["S1", "S2", "S3"]),  # no due date sorts last either way
        ("number", "desc", ["S3", "S2", "S1"]),
    ],
)
def test_sorting_by_each_whitelisted_key_in_both_directions(
    app, ada_client, ada, sort, direction, expected
):
    add_invoice(
        app,
        ada,
        "S1",
        total="300",
        balance="300",
        txn_date=date(2026, 1, 1),
        due_date=date(2099, 3, 1),
    )
    add_invoice(
        app,
        ada,
        "S2",
        total="100",
        balance="80",
        txn_date=date(2026, 1, 2),
        due_date=date(2099, 2, 1),
    )
    add_invoice(app, ada, "S3", total="200", balance="5", txn_date=date(2026, 1, 3), due_date=None)
    assert [n for n, _ in listed(ada_client, f"?sort={sort}&dir={direction}")] == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sort=id;drop", "Unknown sort"),
        ("?sort=customer_id", "Unknown sort"),
        ("?dir=sideways", "sort direction"),
        ("?status=late", "Unknown status filter"),
        ("?page=abc", "whole number"),
        ("?page=1.5", "whole number"),
    ],
)
def test_bad_list_parameters_are_a_clear_400_page(ada_client, mixed, query, message):
    response = ada_client.get(f"/invoices{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_pages_hold_fifty_and_out_of_range_pages_are_clamped(app, ada_client, ada):
    for n in range(60):
        add_invoice(app, ada, f"P{n:03d}")
    assert len(listed(ada_client)) == 50
    assert len(listed(ada_client, "?page=2")) == 10
    for huge in ("3", "999999999", "9" * 400, "+7"):
        page = ada_client.get(f"/invoices?page={huge}").get_data(as_text=True)
        assert "page 2 of 2" in page and len(ROW_RE.findall(page)) == 10
    for small in ("0", "-5", "-" + "9" * 50, ""):
        page = ada_client.get(f"/invoices?page={small}").get_data(as_text=True)
        assert "page 1 of 2" in page and len(ROW_RE.findall(page)) == 50


def test_pay_link_is_offered_only_on_invoices_with_a_balance(ada_client, mixed):
    page = ada_client.get("/invoices").get_data(as_text=True)
    offered = {int(i) for i in re.findall(r'href="/pay\?invoice=(\d+)"', page)}
    owed = {mixed[k].id for k in ("open", "partly", "overdue", "overdue_partly")}
    assert offered == owed


def _statements_during(app: Flask, client: FlaskClient, path: str) -> int:
    """How many SQL statements the request runs."""
    count = 0

    def tally(*_args: Any) -> None:
        nonlocal count
        count += 1

    engine = app.extensions["portal.db"].engine
    sa.event.listen(engine, "before_cursor_execute", tally)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", tally)
    return count


def test_listing_runs_as_many_queries_for_60_invoices_as_for_5(app, ada_client, ada):
    for n in range(5):
        add_invoice(app, ada, f"F{n}", balance="40.00", due_date=PAST if n % 2 else FUTURE)
    few = _statements_during(app, ada_client, "/invoices")
    for n in range(5, 60):
        add_invoice(app, ada, f"F{n}", balance="40.00", due_date=PAST if n % 2 else FUTURE)
    many = _statements_during(app, ada_client, "/invoices")
    assert few == many
    assert len(listed(ada_client)) == 50


def test_detail_shows_header_and_lines_and_labels_late_fees(app, ada_client, ada):
    lines = [
        InvoiceLine(
            position=1,
            item_name="Monthly service",
            description="March",
            qty=Decimal("2"),
            unit_price=Decimal("50"),
            amount=Decimal("100.00"),
        ),
        InvoiceLine(
            position=2,
            item_name="Late fee",
            description="Late payment fee",
            qty=Decimal("1"),
            unit_price=Decimal("25"),
            amount=Decimal("25.00"),
        ),
    ]
    invoice = add_invoice(app, ada, "3001", total="125.00", balance="125.00", lines=lines)
    page = ada_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Invoice 3001" in page and 'data-testid="invoice-total">$125.00' in page
    assert "Monthly service" in page and "March" in page and "$50.00" in page
    assert '<span class="badge late-fee">Late fee</span>' in page
    assert "Late payment fee" in page
    assert f'href="/invoices/{invoice.id}/pdf"' in page


def _received(
    s: Any,
    customer: Customer,
    qbo_id: str,
    total: str,
    applied: list[tuple[str, str, str]],
    **fields: Any,
) -> ReceivedPayment:
    payment = ReceivedPayment(
        realm_id="test",
        qbo_id=qbo_id,
        customer_id=customer.id,
        txn_date=fields.pop("txn_date", date(2026, 1, 20)),
        total_amt=Decimal(total),
        **fields,
    )
    payment.applications.extend(
        PaymentApplication(txn_type=kind, txn_qbo_id=ref, amount=Decimal(amount))
        for kind, ref, amount in applied
    )
    s.add(payment)
    return payment


def _portal_payment(
    s: Any, customer: Customer, invoice: Invoice, amount: str, key: str, **fields: Any
) -> Payment:
    payment = Payment(
        customer_id=customer.id,
        idempotency_key=key,
        gateway_key=key,
        total=Decimal(amount),
        method_kind=MethodKind.CARD,
        charged_at=datetime(2026, 2, 1, tzinfo=UTC),
        **fields,
    )
    payment.allocations.append(
        PaymentAllocation(
            invoice_id=invoice.id, invoice_qbo_id=invoice.qbo_id, amount=Decimal(amount)
        )
    )
    s.add(payment)
    return payment


def test_detail_shows_payments_and_credits_applied_and_portal_payments_not_yet_mirrored(
    app, ada_client, ada
):
    invoice = add_invoice(app, ada, "4001", total="100.00", balance="25.00", qbo_id="77")
    other = add_invoice(app, ada, "4002", qbo_id="78")
    with app.app_context(), db.transaction() as s:
        s.add(
            CreditMemo(
                realm_id="test",
                qbo_id="CM1",
                customer_id=ada.id,
                doc_number="CM-7",
                txn_date=date(2026, 1, 9),
                total_amt=Decimal("20.00"),
                balance=Decimal("0.00"),
            )
        )
        _received(s, ada, "P1", "40.00", [("Invoice", "77", "40.00")], reference="CHK-881")
        _received(
            s,
            ada,
            "P2",
            "0.00",
            [("Invoice", "77", "20.00"), ("CreditMemo", "CM1", "20.00")],
            txn_date=date(2026, 1, 25),
        )
        _received(s, ada, "P3", "9.00", [("Invoice", "78", "9.00")], reference="ELSEWHERE")
        _received(s, ada, "P4", "8.00", [("Invoice", "77", "8.00")], reference="GONE", deleted=True)
        # Written back and mirrored as P1: shown once, as P1.
        _portal_payment(
            s, ada, invoice, "40.00", "WB1", state=PaymentState.SUCCEEDED, qbo_payment_id="P1"
        )
        # Succeeded, QuickBooks not told (or not mirrored) yet: shown as being recorded.
        _portal_payment(s, ada, invoice, "15.00", "NEW1", state=PaymentState.SUCCEEDED)
        _portal_payment(
            s, ada, invoice, "7.00", "NEW2", state=PaymentState.SUCCEEDED, qbo_payment_id="P999"
        )
        _portal_payment(s, ada, invoice, "5.00", "DECL", state=PaymentState.DECLINED)
        _portal_payment(s, ada, other, "6.00", "OTHER", state=PaymentState.SUCCEEDED)
    page = ada_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    paid = page.split('data-testid="payments-applied"')[1].split("</table>")[0]
    assert "CHK-881" in paid and "$40.00" in paid
    assert "Jan 25, 2026" in paid and "$20.00" in paid
    assert "NEW1" in paid and "$15.00" in paid and "NEW2" in paid and "$7.00" in paid
    assert paid.count("Being recorded") == 2
    for absent in ("WB1", "DECL", "OTHER", "ELSEWHERE", "GONE"):
        assert absent not in paid
    credits = page.split('data-testid="credits-applied"')[1].split("</table>")[0]
    assert "CM-7" in credits and "$20.00" in credits


def test_another_customers_invoice_detail_and_pdf_are_404(app, ada_client, mixed, fake):
    bobs = mixed["bob"]
    fake.put(rec.invoice(bobs.qbo_id, "2"))
    calls = fake.calls
    assert ada_client.get(f"/invoices/{bobs.id}").status_code == 404
    assert ada_client.get(f"/invoices/{bobs.id}/pdf").status_code == 404
    assert ada_client.get(f"/invoices/{mixed['deleted'].id}").status_code == 404
    assert ada_client.get("/invoices/999999").status_code == 404
    for huge in ("2147483648", "9" * 30):  # beyond INTEGER: still a plain 404
        assert ada_client.get(f"/invoices/{huge}").status_code == 404
        assert ada_client.get(f"/invoices/{huge}/pdf").status_code == 404
    assert fake.calls == calls  # QuickBooks was never asked for Bob's PDF


def test_pdf_comes_from_quickbooks_once_per_sync_token(app, ada_client, ada, fake, settings):
    invoice = add_invoice(app, ada, "5001/A", qbo_id="501")
    fake.put(rec.invoice("501", "1"))

    first = ada_client.get(f"/invoices/{invoice.id}/pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert first.mimetype == "application/pdf"
    assert first.headers["Content-Disposition"] == "attachment; filename=invoice-5001_A.pdf"
    calls = fake.calls
    assert ada_client.get(f"/invoices/{invoice.id}/pdf").data == first.data
    assert fake.calls == calls
    assert (settings.instance / "pdf-cache" / "test" / "501-0.pdf").exists()

    with app.app_context(), db.transaction() as s:
        s.get(Invoice, invoice.id).sync_token = "1"  # the mirror saw a change
    assert ada_client.get(f"/invoices/{invoice.id}/pdf").data.startswith(b"%PDF")
    assert fake.calls > calls
    cached = sorted(p.name for p in (settings.instance / "pdf-cache" / "test").iterdir())
    assert cached == ["501-1.pdf"]  # the stale version is gone, no temp files left


def test_pdf_when_quickbooks_cannot_be_reached_is_a_503_page(app, ada_client, ada, fake):
    invoice = add_invoice(app, ada, "6001", qbo_id="601")
    fake.put(rec.invoice("601", "1"))
    fake.fail_on_call = fake.calls + 1
    response = ada_client.get(f"/invoices/{invoice.id}/pdf")
    assert response.status_code == 503
    assert "could not reach QuickBooks" in response.get_data(as_text=True)
    # Not cached: the next try asks QuickBooks again and gets the PDF.
    assert ada_client.get(f"/invoices/{invoice.id}/pdf").data.startswith(b"%PDF")


def test_invoice_pages_need_a_customer_login(app, client, mixed, make_user):
    invoice = mixed["open"]
    for path in ("/invoices", f"/invoices/{invoice.id}", f"/invoices/{invoice.id}/pdf"):
        assert client.get(path).status_code == 302
    make_user("admin", role=Role.ADMIN)
    login(client, "admin")
    for path in ("/invoices", f"/invoices/{invoice.id}", "/statements"):
        assert client.get(path).status_code == 404


def test_overdue_is_judged_against_today(app, ada_client, ada):
    add_invoice(app, ada, "7001", due_date=today() - timedelta(days=1))
    add_invoice(app, ada, "7002", due_date=today())
    assert dict(listed(ada_client)) == {"7001": "Overdue", "7002": "Open"}
