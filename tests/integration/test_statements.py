"""Statements: opening balance, running balance, closing balance, aging, the PDF, bad dates."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.billing.models import CreditMemo, Customer, Invoice, ReceivedPayment
from portal.invoices import pdf, statements
from portal.invoices.statements import Aging, Entry
from tests.conftest import login

TODAY = date(2025, 6, 30)
START, END = date(2025, 4, 1), date(2025, 6, 15)
RANGE = f"start={START}&end={END}"


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portal.invoices.views.today", lambda: TODAY)


def _invoice(
    customer: Customer,
    number: str,
    on: date,
    due: date | None,
    total: str,
    balance: str,
    **fields: Any,
) -> Invoice:
    return Invoice(
        realm_id="test",
        qbo_id=f"i{number}",
        doc_number=number,
        customer_id=customer.id,
        txn_date=on,
        due_date=due,
        total_amt=Decimal(total),
        balance=Decimal(balance),
        **fields,
    )


def _payment(customer: Customer, qbo_id: str, on: date, total: str, **fields: Any):
    return ReceivedPayment(
        realm_id="test",
        qbo_id=qbo_id,
        customer_id=customer.id,
        txn_date=on,
        total_amt=Decimal(total),
        **fields,
    )


def _memo(customer: Customer, number: str, on: date, total: str, balance: str) -> CreditMemo:
    return CreditMemo(
        realm_id="test",
        qbo_id=f"c{number}",
        doc_number=number,
        customer_id=customer.id,
        txn_date=on,
        total_amt=Decimal(total),
        balance=Decimal(balance),
    )


@pytest.fixture
def ledger(app: Flask, make_customer) -> dict[str, Customer]:
    """Ada's history, worked out by hand in the test below; Bob's must never show."""
    ada = make_customer("Ada (Countess) Lovelace")
    bob = make_customer("Bob Builder")
    with app.app_context(), db.transaction() as s:
        s.add_all(
            [
                # Before the range: 500 + 300 + 40 invoiced, 450 paid, 50 credited → 340.00.
                _invoice(ada, "A", date(2025, 1, 10), date(2025, 2, 9), "500.00", "0.00"),
                _invoice(ada, "B", date(2025, 2, 15), date(2025, 3, 17), "300.00", "300.00"),
                _invoice(ada, "F", date(2025, 3, 16), date(2025, 4, 15), "40.00", "40.00"),
                _invoice(ada, "V", date(2025, 2, 1), None, "999.00", "0.00", voided=True),
                _invoice(ada, "X", date(2025, 2, 2), None, "888.00", "888.00", deleted=True),
                _payment(ada, "p1", date(2025, 2, 1), "450.00"),
                _memo(ada, "CM1", date(2025, 1, 20), "50.00", "0.00"),
                _payment(ada, "p0", date(2025, 1, 25), "0.00"),  # applied CM1 to A
                _payment(ada, "pd", date(2025, 3, 1), "77.00", deleted=True),
                # In the range.
                _invoice(ada, "C", date(2025, 4, 5), date(2025, 5, 5), "1200.50", "200.50"),
                _payment(ada, "p2", date(2025, 4, 20), "1000.00", reference="CHK-42"),
                _memo(ada, "CM2", date(2025, 5, 1), "25.25", "25.25"),
                _invoice(ada, "E", date(2025, 5, 15), date(2025, 6, 14), "60.00", "60.00"),
                _invoice(ada, "D", date(2025, 6, 10), date(2025, 7, 10), "80.00", "80.00"),
                # After the range: not on the statement, but open today (aging).
                _invoice(ada, "G", date(2025, 6, 20), date(2025, 7, 20), "10.00", "10.00"),
                _invoice(bob, "BOB-1", date(2025, 4, 10), date(2000, 1, 1), "5000.00", "5000.00"),
                _payment(bob, "bp", date(2025, 4, 11), "123.45"),
            ]
        )
    return {"ada": ada, "bob": bob}


def _login(client: FlaskClient, make_user, customer: Customer, name: str) -> FlaskClient:
    make_user(name, customer=customer)
    login(client, name)
    return client


def test_statement_figures_on_a_hand_built_ledger(app, ledger):
    with app.app_context():
        st = statements.build_statement(db.session(), ledger["ada"], START, END, TODAY)
    assert st.opening == Decimal("340.00")
    assert st.entries == [
        Entry(
            date(2025, 4, 5),
            "Invoice",
            "C",
            Decimal("1200.50"),
            Decimal("0.00"),
            Decimal("1540.50"),
        ),
        Entry(
            date(2025, 4, 20),
            "Payment",
            "CHK-42",
            Decimal("0.00"),
            Decimal("1000.00"),
            Decimal("540.50"),
        ),
        Entry(
            date(2025, 5, 1),
            "Credit memo",
            "CM2",
            Decimal("0.00"),
            Decimal("25.25"),
            Decimal("515.25"),
        ),
        Entry(
            date(2025, 5, 15), "Invoice", "E", Decimal("60.00"), Decimal("0.00"), Decimal("575.25")
        ),
        Entry(
            date(2025, 6, 10), "Invoice", "D", Decimal("80.00"), Decimal("0.00"), Decimal("655.25")
        ),
    ]
    # Closing = open invoices dated by the end (300 + 40 + 200.50 + 60 + 80) - unused CM2.
    assert st.closing == Decimal("655.25")
    assert st.aging == Aging(
        current=Decimal("90.00"),  # D due 07-10, G due 07-20
        days_1_30=Decimal("60.00"),  # E, 16 days
        days_31_60=Decimal("200.50"),  # C, 56 days
        days_61_90=Decimal("40.00"),  # F, 76 days
        over_90=Decimal("300.00"),  # B, 105 days
    )
    assert st.aging.total == Decimal("690.50")
    assert all(isinstance(e.balance, Decimal) for e in st.entries)


def test_statement_page_shows_opening_running_closing_and_aging(client, ledger, make_user):
    page = _login(client, make_user, ledger["ada"], "ada").get(f"/statements?{RANGE}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="opening">340.00<' in html
    assert re.findall(r'data-testid="running">([^<]+)<', html) == [
        "1,540.50",
        "540.50",
        "515.25",
        "575.25",
        "655.25",
    ]
    assert 'data-testid="closing">655.25<' in html
    aging = html.split('data-testid="aging"')[1]
    for amount in ("90.00", "60.00", "200.50", "40.00", "300.00", "690.50"):
        assert f">{amount}<" in aging


def test_another_customers_activity_never_shows_on_a_statement(client, ledger, make_user):
    client = _login(client, make_user, ledger["ada"], "ada")
    html = client.get(f"/statements?{RANGE}&customer_id={ledger['bob'].id}").get_data(as_text=True)
    assert "BOB-1" not in html and "5,000.00" not in html and "123.45" not in html
    data = client.get(f"/statements.pdf?{RANGE}&customer_id={ledger['bob'].id}").data
    assert b"BOB-1" not in data and b"Bob Builder" not in data and b"655.25" in data


def test_bobs_statement_shows_only_bobs_activity(client, ledger, make_user):
    html = (
        _login(client, make_user, ledger["bob"], "bob")
        .get(f"/statements?{RANGE}")
        .get_data(as_text=True)
    )
    assert "BOB-1" in html and 'data-testid="closing">4,876.55<' in html
    assert "CHK-42" not in html and "Countess" not in html


def test_default_range_is_the_last_90_days_to_today(client, ledger, make_user):
    html = _login(client, make_user, ledger["ada"], "ada").get("/statements").get_data(as_text=True)
    start = (TODAY - timedelta(days=90)).isoformat()
    assert f'name="start" value="{start}"' in html
    assert f'name="end" value="{TODAY}"' in html


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("start=2025-13-01", "not a day of the calendar"),
        ("start=2025-02-30", "not a day of the calendar"),
        ("start=yesterday", "YYYY-MM-DD"),
        ("start=20250101", "YYYY-MM-DD"),
        ("end=2025-06-30T00:00", "YYYY-MM-DD"),
        ("start=2025-05-01&end=2025-04-30", "end date is before the start date"),
        ("start=2020-01-01&end=2022-01-02", "at most 2 years"),
        ("start=1999-12-31&end=2000-01-10", "between 2000-01-01 and 2100-12-31"),
        ("start=2100-12-01&end=2101-01-01", "between 2000-01-01 and 2100-12-31"),
        ("end=2000-01-05", "between 2000-01-01 and 2100-12-31"),  # default start is 1999
        ("start=99999-01-01", "YYYY-MM-DD"),
    ],
)
def test_bad_statement_dates_are_a_400_page_with_the_reason(
    client, ledger, make_user, query, reason
):
    client = _login(client, make_user, ledger["ada"], "ada")
    for path in ("/statements", "/statements.pdf"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert reason in response.get_data(as_text=True)


def test_a_range_of_exactly_two_years_is_allowed(client, ledger, make_user):
    client = _login(client, make_user, ledger["ada"], "ada")
    assert client.get("/statements?start=2020-01-01&end=2022-01-01").status_code == 200
    assert client.get("/statements?start=2020-02-29&end=2022-02-28").status_code == 200


def test_statement_pdf_is_a_real_pdf_with_the_name_and_closing_balance(client, ledger, make_user):
    response = _login(client, make_user, ledger["ada"], "ada").get(f"/statements.pdf?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.data
    assert data.startswith(b"%PDF-1.4")
    assert b"(Ada \\(Countess\\) Lovelace)" in data  # parentheses escaped in the literal
    assert b"(655.25)" in data and b"(Closing balance)" in data and b"(CHK-42)" in data
    _assert_well_formed(data)


def _assert_well_formed(data: bytes) -> None:
    """The cross-reference table points at each object, and startxref at the table."""
    xref_at = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[xref_at:].startswith(b"xref\n0 ")
    table = data[xref_at:].split(b"trailer")[0].split(b"\n")[3:]
    offsets = [int(row[:10]) for row in table if row.endswith(b" n ")]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert data.rstrip().endswith(b"%%EOF")


def test_long_documents_run_onto_more_pages_with_numbered_footers():
    lines = [pdf.Line((pdf.Text(pdf.LEFT, f"row {n}"),)) for n in range(120)]
    data = pdf.render(lines, title="Long", footer="Ada")
    pages = int(re.search(rb"/Count (\d+)", data).group(1))
    assert pages == 3
    assert b"(Ada \xb7 Page 3 of 3)" in data and b"(row 119)" in data
    _assert_well_formed(data)


def test_right_aligned_amounts_end_at_their_column_edge(app, ledger):
    with app.app_context():
        st = statements.build_statement(db.session(), ledger["ada"], START, END, TODAY)
    data = pdf.statement_pdf(st, "Acme")
    placed = re.findall(rb"/F1 10 Tf 1 0 0 1 ([\d.]+) [\d.]+ Tm \(([\d,]+\.\d\d)\) Tj", data)
    ends = {round(float(x) + pdf.text_width(text.decode(), 10)) for x, text in placed}
    assert ends <= {400, 480, pdf.RIGHT, *pdf._AGING_EDGES} and pdf.RIGHT in ends
    assert pdf.text_width("1,000.00", 10) == pytest.approx((6 * 556 + 2 * 278) / 100)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "days_1_30"),
        (30, "days_1_30"),
        (31, "days_31_60"),
        (60, "days_31_60"),
        (61, "days_61_90"),
        (90, "days_61_90"),
        (91, "over_90"),
    ],
)
def test_aging_buckets_split_at_30_60_and_90_days(days, bucket):
    assert statements._bucket(days) == bucket
