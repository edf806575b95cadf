"""Statements: opening balance, running balance, closing balance, aging, the PDF, the default
range and bad dates on the form."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from pypdf.generic import ContentStream, FloatObject, NumberObject

from portal import db
from portal.billing.models import CreditMemo, Customer, Invoice, ReceivedPayment
from portal.invoices import statements
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
    assert 'data-testid="opening">$340.00<' in html
    assert re.findall(r'data-testid="running">([^<]+)<', html) == [
        "$1,540.50",
        "$540.50",
        "$515.25",
        "$575.25",
        "$655.25",
    ]
    assert 'data-testid="closing">$655.25<' in html
    assert 'data-testid="period">Apr 1, 2025 to Jun 15, 2025<' in html
    assert '<td data-label="Date">Apr 20, 2025</td>' in html  # dates as people write them
    aging = html.split('data-testid="aging"')[1]
    for amount in ("$90.00", "$60.00", "$200.50", "$40.00", "$300.00", "$690.50"):
        assert f">{amount}<" in aging
    # The form and the PDF link still carry ISO dates: they are read by machines.
    assert f'name="start" value="{START}"' in html
    assert f'href="/statements.pdf?start={START}&amp;end={END}"' in html


def test_another_customers_activity_never_shows_on_a_statement(client, ledger, make_user):
    client = _login(client, make_user, ledger["ada"], "ada")
    html = client.get(f"/statements?{RANGE}&customer_id={ledger['bob'].id}").get_data(as_text=True)
    assert "BOB-1" not in html and "5,000.00" not in html and "123.45" not in html
    data = client.get(f"/statements.pdf?{RANGE}&customer_id={ledger['bob'].id}").data
    text = pdf_text(data)
    assert "BOB-1" not in text and "Bob Builder" not in text and "$655.25" in text


def test_bobs_statement_shows_only_bobs_activity(client, ledger, make_user):
    html = (
        _login(client, make_user, ledger["bob"], "bob")
        .get(f"/statements?{RANGE}")
        .get_data(as_text=True)
    )
    assert "BOB-1" in html and 'data-testid="closing">$4,876.55<' in html
    assert "CHK-42" not in html and "Countess" not in html


def test_default_range_is_the_last_12_months_when_every_open_invoice_is_newer(
    client, ledger, make_user
):
    html = _login(client, make_user, ledger["ada"], "ada").get("/statements").get_data(as_text=True)
    assert 'name="start" value="2024-06-30"' in html  # Ada's oldest open invoice: 2025-02-15
    assert f'name="end" value="{TODAY}"' in html
    assert "CHK-42" in html and ">C<" in html  # the activity of the year shows at once


def test_default_range_reaches_back_to_the_oldest_open_invoice(app, client, ledger, make_user):
    with app.app_context(), db.transaction() as s:
        s.add(_invoice(ledger["ada"], "OLD", date(2023, 11, 2), None, "75.00", "75.00"))
        # Paid, voided or deleted invoices are not open: they do not move the start.
        s.add(_invoice(ledger["ada"], "PAID", date(2023, 1, 2), None, "10.00", "0.00"))
        s.add(_invoice(ledger["ada"], "VOID", date(2023, 1, 3), None, "9.00", "9.00", voided=True))
    html = _login(client, make_user, ledger["ada"], "ada").get("/statements").get_data(as_text=True)
    assert 'name="start" value="2023-11-02"' in html
    assert ">OLD<" in html and ">PAID<" not in html


def test_default_range_stops_at_two_years_when_an_open_invoice_is_older(
    app, client, ledger, make_user
):
    with app.app_context(), db.transaction() as s:
        s.add(_invoice(ledger["ada"], "ANCIENT", date(2019, 5, 5), None, "75.00", "75.00"))
    response = _login(client, make_user, ledger["ada"], "ada").get("/statements")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="start" value="2023-06-30"' in html  # the longest range a statement may have
    # Still owed: in the opening balance and the aging, even before the range.
    assert 'data-testid="opening">$75.00<' in html
    assert 'data-label="Total">$765.50<' in html


def test_default_range_never_starts_before_2000():
    assert statements.parse_range(None, "2000-01-05", TODAY) == (
        date(2000, 1, 1),
        date(2000, 1, 5),
    )
    assert statements.parse_range(None, "2000-03-01", TODAY, date(1998, 1, 1))[0] == date(
        2000, 1, 1
    )


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("start=2025-13-01", "start", "not a day of the calendar"),
        ("start=2025-02-30", "start", "not a day of the calendar"),
        ("start=yesterday", "start", "YYYY-MM-DD"),
        ("start=20250101", "start", "YYYY-MM-DD"),
        ("end=2025-06-30T00:00", "end", "YYYY-MM-DD"),
        ("start=2025-05-01&end=2025-04-30", "end", "end date is before the start date"),
        ("start=2025-07-01", "end", "end date is before the start date"),  # end: today
        ("start=2020-01-01&end=2022-01-02", "end", "at most 2 years"),
        ("start=1999-12-31&end=2000-01-10", "start", "between 2000-01-01 and 2100-12-31"),
        ("start=2100-12-01&end=2101-01-01", "end", "between 2000-01-01 and 2100-12-31"),
        ("start=99999-01-01", "start", "YYYY-MM-DD"),
    ],
)
def test_bad_statement_dates_are_an_error_beside_the_field_on_the_form(
    client, ledger, make_user, query, field, reason
):
    client = _login(client, make_user, ledger["ada"], "ada")
    typed = dict(part.split("=") for part in query.split("&"))
    for path in ("/statements", "/statements.pdf"):
        response = client.get(f"{path}?{query}")
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and response.mimetype == "text/html"
        error = re.search(rf'<p [^>]*id="{field}-error"[^>]*>([^<]+)</p>', html)
        assert error and reason in error.group(1)
        field_input = re.search(rf'<input [^>]*id="{field}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field_input
        assert f'aria-describedby="{field}-error"' in field_input
        for name, value in typed.items():  # the form keeps what was typed
            assert f'name="{name}" value="{value}"' in html
        assert '<form method="get" action="/statements"' in html  # not a dead end
        assert 'data-testid="statement"' not in html and "Download PDF" not in html


def test_two_bad_dates_each_get_their_own_error(client, ledger, make_user):
    client = _login(client, make_user, ledger["ada"], "ada")
    html = client.get("/statements?start=soon&end=2025-02-31").get_data(as_text=True)
    assert re.search(r'id="start-error"[^>]*>The start date must be written YYYY-MM-DD', html)
    assert re.search(r'id="end-error"[^>]*>The end date 2025-02-31 is not a day', html)
    assert html.count('aria-invalid="true"') == 2


def test_a_range_of_exactly_two_years_is_allowed(client, ledger, make_user):
    client = _login(client, make_user, ledger["ada"], "ada")
    assert client.get("/statements?start=2020-01-01&end=2022-01-01").status_code == 200
    assert client.get("/statements?start=2020-02-29&end=2022-02-28").status_code == 200


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, as pypdf extracts it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_statement_pdf_is_a_real_pdf_with_the_name_and_closing_balance(client, ledger, make_user):
    response = _login(client, make_user, ledger["ada"], "ada").get(f"/statements.pdf?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=statement-{START}-{END}.pdf"
    )
    reader = PdfReader(io.BytesIO(response.data), strict=True)
    text = pdf_text(response.data)
    assert "Ada (Countess) Lovelace" in text
    assert "Statement of account" in text and "Demo Utility Co." in text
    assert "Apr 1, 2025 to Jun 15, 2025" in text
    for figure in ("$340.00", "$1,200.50", "$1,000.00", "$655.25", "CHK-42", "Closing balance"):
        assert figure in text
    assert "Page 1 of 1" in text
    assert reader.metadata.title.startswith("Statement for Ada (Countess) Lovelace")


def test_long_statements_run_onto_more_pages_with_headings_and_numbered_footers(
    app, client, ledger, make_user
):
    with app.app_context(), db.transaction() as s:
        s.add_all(
            _invoice(ledger["ada"], f"L{n:03}", date(2025, 4, 2), None, "1.00", "1.00")
            for n in range(150)
        )
    data = _login(client, make_user, ledger["ada"], "ada").get(f"/statements.pdf?{RANGE}").data
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Ada (Countess) Lovelace · statement" in page  # the footer names the customer
        assert "Charges" in page and "Balance" in page  # the column headings repeat
    assert "L149" in pages[-1] or "L149" in "".join(pages)
    assert "Closing balance" in pages[-1]


def _text_runs(reader: PdfReader, number: int) -> list[tuple[str, float]]:
    """(text, right edge) of each text run WeasyPrint drew on a page: its Tm position plus
    the advance widths (/W) of its glyphs, read back through the font's ToUnicode map."""
    page = reader.pages[number]
    fonts: dict[str, tuple[dict[int, str], dict[int, float]]] = {}
    for name, ref in page["/Resources"]["/Font"].items():
        font = ref.get_object()
        cmap = font["/ToUnicode"].get_object().get_data().decode()
        chars = {int(a, 16): chr(int(b, 16)) for a, b in re.findall(r"<(\w{4})> <(\w{4})>", cmap)}
        w = font["/DescendantFonts"][0].get_object()["/W"]
        widths = {
            int(w[k]) + n: float(v) for k in range(0, len(w), 2) for n, v in enumerate(w[k + 1])
        }
        fonts[name] = (chars, widths)
    runs: list[tuple[str, float]] = []
    font, size, x = "", 0.0, 0.0
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"Tf":
            font, size = operands[0], float(operands[1])
        elif operator == b"Tm":
            x = float(operands[4])
        elif operator == b"TJ":
            chars, widths = fonts[font]
            text, units = "", 0.0
            for part in operands[0]:
                if isinstance(part, (FloatObject, NumberObject)):
                    units -= float(part)
                else:
                    raw = getattr(part, "original_bytes", part)  # the hex string's own bytes
                    codes = [int.from_bytes(raw[k : k + 2], "big") for k in range(0, len(raw), 2)]
                    text += "".join(chars.get(c, "?") for c in codes)
                    units += sum(widths.get(c, 0.0) for c in codes)
            runs.append((text, x + units * size / 1000))
    return runs


def test_pdf_amounts_are_right_aligned_in_their_columns(client, ledger, make_user):
    data = _login(client, make_user, ledger["ada"], "ada").get(f"/statements.pdf?{RANGE}").data
    runs = _text_runs(PdfReader(io.BytesIO(data)), 0)
    texts = [text for text, _ in runs]
    runs = runs[texts.index("Opening balance") : texts.index("Closing balance")]  # activity
    running = [edge for text, edge in runs if text in RUNNING]
    charges = [edge for text, edge in runs if text in ("$1,200.50", "$60.00", "$80.00")]
    assert len(running) == len(RUNNING) and len(charges) == 3
    # "$1,540.50" and "$540.50" end at the same edge; charges end at their own, further left.
    assert max(running) - min(running) < 0.5
    assert max(charges) - min(charges) < 0.5 and max(charges) < min(running) - 20


RUNNING = ("$1,540.50", "$540.50", "$515.25", "$575.25", "$655.25")


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
