"""The dashboard as each login arranged it, with one past-due message, the earliest due
date, keyboard-reachable invoice links and recommended services that lead somewhere."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.billing.models import CatalogItem
from portal.clock import today
from portal.formatting import day
from portal.mail.models import OutboundEmail
from tests.conftest import login, post_form

ALL = ["balance", "invoices", "activity", "chart", "news", "services"]


@pytest.fixture
def ada(app, make_customer, make_user):
    customer = make_customer("Ada Lovelace")
    with app.app_context(), db.transaction() as s:
        s.add(
            CatalogItem(
                realm_id="test",
                qbo_id="99",
                name="Premium support",
                description="Priority help on weekdays",
                unit_price=Decimal("25.00"),
            )
        )
    make_user("ada", customer=customer)
    return customer


def widgets(page: str) -> list[str]:
    return re.findall(r'data-widget="(\w+)"', page)


def test_widgets_follow_the_saved_order_and_hidden_ones_are_left_out(client: FlaskClient, ada):
    login(client, "ada")
    assert widgets(client.get("/").get_data(as_text=True)) == ALL
    order = ["services", "chart", "balance", "invoices", "activity", "news"]
    post_form(
        client,
        "/account/preferences",
        {
            "theme": "auto",
            "text_size": "normal",
            "order": order,  # type: ignore[dict-item]
            "show": ["services", "chart", "balance", "news"],
        },
    )
    page = client.get("/").get_data(as_text=True)
    assert widgets(page) == ["services", "chart", "balance", "news"]
    assert "Recent activity" not in page


def test_an_overdue_account_gets_one_message_naming_the_turn_off_date_once(
    app, client: FlaskClient, ada, make_invoice
):
    due = today() - timedelta(days=20)  # past the warning step (15 days)
    make_invoice(ada, "90.00", due=due, txn=due - timedelta(days=30))
    make_invoice(ada, "10.00", due=due + timedelta(days=3), txn=due - timedelta(days=30))
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    turn_off = due + timedelta(days=app.config["PORTAL_SETTINGS"].overdue.suspend_days)
    words = f"{turn_off:%B} {turn_off.day}, {turn_off.year}"
    assert page.count('data-testid="past-due"') == 1 and page.count('role="alert"') == 1
    assert page.count(words) == 1
    assert f'<strong data-testid="turn-off-date">{words}</strong>' in page
    assert "2 invoices are past due." in page


def test_a_past_due_message_without_the_date_adds_it_once(
    app, client: FlaskClient, ada, make_invoice
):
    due = today() - timedelta(days=3)  # past due, before the warning
    make_invoice(ada, "90.00", due=due)
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    turn_off = due + timedelta(days=app.config["PORTAL_SETTINGS"].overdue.suspend_days)
    words = f"{turn_off:%B} {turn_off.day}, {turn_off.year}"
    assert page.count(words) == 1
    assert "Service turn-off date for non-payment: <strong" in page


def test_next_due_is_the_earliest_unpaid_due_date(app, client: FlaskClient, ada, make_invoice):
    make_invoice(ada, "10.00", due=today() + timedelta(days=20))
    make_invoice(ada, "10.00", due=today() + timedelta(days=5))
    make_invoice(ada, "10.00", balance="0.00", due=today() + timedelta(days=1))  # paid
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    with app.test_request_context():
        soon = day(today() + timedelta(days=5))
    assert f'data-testid="next-due">{soon}</span>' in page


def test_next_due_says_overdue_since_when_the_earliest_has_passed(
    app, client: FlaskClient, ada, make_invoice
):
    make_invoice(ada, "10.00", due=today() + timedelta(days=5))
    make_invoice(ada, "10.00", due=today() - timedelta(days=8))
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    with app.test_request_context():
        since = day(today() - timedelta(days=8))
    assert f'data-testid="next-due">Overdue since {since}</span>' in page


def test_invoice_numbers_are_links_and_tables_label_every_cell(
    client: FlaskClient, ada, make_invoice
):
    invoice = make_invoice(ada, "42.00", due=today() + timedelta(days=9))
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert f'<a href="/invoices/{invoice.id}">{invoice.doc_number}</a>' in page
    assert client.get(f"/invoices/{invoice.id}").status_code == 200
    assert "<th></th>" not in page and "<table>" not in page
    for table in re.findall(r'<table class="stack">.*?</table>', page, re.S):
        cells = re.findall(r"<td[^>]*>", table)
        assert cells and all("data-label=" in cell for cell in cells)


def test_a_recommended_service_shows_its_price_and_tells_the_staff(
    app, client: FlaskClient, ada, make_user
):
    make_user("boss", role=Role.ADMIN)
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert "Premium support" in page and "Priority help on weekdays" in page
    assert "$25.00" in page
    with app.app_context():
        item_id = db.session().query(CatalogItem.id).filter_by(qbo_id="99").scalar()
    path = f"/services/{item_id}/ask"
    assert f'action="{path}"' in page
    asked = post_form(client, path, {}, page="/account/preferences")
    assert asked.status_code == 302
    assert "will be in touch" in client.get("/").get_data(as_text=True)
    post_form(client, path, {}, page="/account/preferences")  # asking twice: one e-mail a day
    with app.app_context():
        subjects = [m.subject for m in db.session().query(OutboundEmail)]
    assert subjects == ["Ada Lovelace asks about Premium support"]
    assert post_form(
        client, "/services/999999/ask", {}, page="/account/preferences"
    ).status_code in (400, 404)
