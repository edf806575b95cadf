"""Statement PDFs for any customer name: the text comes back out, and only to its customer."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from portal import db
from portal.billing.models import Invoice
from portal.invoices.pdf import BASE_URL
from portal.invoices.printing import LocalOnlyFetcher
from tests.conftest import login
from tests.fonts import require_fonts

TODAY = date(2025, 6, 30)
NAMES = ["Łukasz Wiśniewski", "山田太郎", "Zoë"]


@pytest.fixture(autouse=True)
def fonts_and_today(monkeypatch: pytest.MonkeyPatch) -> None:
    require_fonts()
    monkeypatch.setattr("portal.invoices.views.today", lambda: TODAY)


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def customer_with_invoice(app, make_customer, make_user):
    def make(name: str, username: str, amount: str = "1300.00"):
        customer = make_customer(name, bill_line1="ul. Długa 5", bill_city="Kraków")
        with app.app_context(), db.transaction() as s:
            s.add(
                Invoice(
                    realm_id="test",
                    qbo_id=f"q-{username}",
                    doc_number=f"INV-{username}",
                    customer_id=customer.id,
                    txn_date=date(2025, 5, 2),
                    due_date=date(2025, 6, 1),
                    total_amt=Decimal(amount),
                    balance=Decimal(amount),
                )
            )
        make_user(username, customer=customer)
        return customer

    return make


@pytest.mark.parametrize("name", NAMES)
def test_any_customer_name_prints_and_reads_back_from_the_statement_pdf(
    client, customer_with_invoice, name
):
    customer_with_invoice(name, "someone")
    login(client, "someone")
    response = client.get("/statements.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data)
    assert name in text
    assert "Demo Utility Co." in text  # the business's name heads the page
    assert "$1,300.00" in text
    assert "ul. Długa 5" in text and "Kraków" in text
    assert "?" not in text  # nothing was dropped for want of a glyph


def test_a_statement_pdf_is_never_cached_nor_shared_between_customers(
    app, client, customer_with_invoice, settings
):
    customer_with_invoice("Łukasz Wiśniewski", "lukasz", "1300.00")
    customer_with_invoice("山田太郎", "taro", "2450.75")
    query = "/statements.pdf?start=2025-01-01&end=2025-06-30"
    login(client, "lukasz")
    first = client.get(query)
    other = app.test_client()
    login(other, "taro")
    second = other.get(query)
    for response in (first, second):
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]
    first_text, second_text = _text(first.data), _text(second.data)
    assert "Łukasz Wiśniewski" in first_text and "$1,300.00" in first_text
    assert "山田太郎" in second_text and "$2,450.75" in second_text
    assert "Łukasz" not in second_text and "1,300.00" not in second_text
    assert "INV-lukasz" not in second_text
    assert not (settings.instance / "pdf-cache").exists()  # nothing kept on disk either


def test_customer_a_cannot_download_customer_bs_statement(client, customer_with_invoice):
    customer_with_invoice("Zoë", "zoe")
    bob = customer_with_invoice("Bob Builder", "bob", "777.00")
    login(client, "zoe")
    for query in (f"customer_id={bob.id}", f"customer={bob.id}", f"id={bob.id}"):
        text = _text(client.get(f"/statements.pdf?{query}").data)
        assert "Zoë" in text and "Bob Builder" not in text and "$777.00" not in text


def test_weasyprint_is_given_only_data_urls_and_static_files(app, tmp_path):
    static = tmp_path / "static"
    (static / "print").mkdir(parents=True)
    (static / "print" / "a.css").write_text("p { color: red }")
    (tmp_path / "secret.txt").write_text("no")
    fetcher = LocalOnlyFetcher(static, "/static")
    assert fetcher.fetch(f"{BASE_URL}static/print/a.css").read() == b"p { color: red }"
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    for url in (
        "https://example.com/logo.png",
        "http://169.254.169.254/latest/meta-data/",
        f"file://{tmp_path}/secret.txt",
        f"{BASE_URL}static/../secret.txt",
        f"{BASE_URL}static/%2e%2e/secret.txt",
        f"{BASE_URL}brand/logo",
        "ftp://example.com/x",
    ):
        with pytest.raises(ValueError, match="only data: URLs"):
            fetcher.fetch(url)


def test_without_weasyprint_the_statement_pdf_is_a_503_and_the_page_still_works(
    client, customer_with_invoice, monkeypatch: pytest.MonkeyPatch
):
    customer_with_invoice("Zoë", "zoe")
    login(client, "zoe")
    monkeypatch.setitem(sys.modules, "portal.invoices.printing", None)  # import fails
    assert client.get("/statements.pdf").status_code == 503
    assert client.get("/statements").status_code == 200


def test_the_portal_and_the_sandbox_start_where_pango_cannot_be_loaded():
    # WeasyPrint raises OSError on import when the system has no Pango; only PDFs need it.
    code = (
        "import sys\n"
        "class NoPango:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'weasyprint':\n"
        "            raise OSError('cannot load library libpango-1.0-0')\n"
        "sys.meta_path.insert(0, NoPango())\n"
        "import portal.app, portal.cli, sandbox.qbo.server\n"
        "print('started')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "started" in done.stdout
