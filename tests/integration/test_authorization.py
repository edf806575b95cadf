"""Each customer sees only their own account; staff pages are for staff only."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from portal.accounts.models import Role
from tests.conftest import login


def test_dashboard_shows_only_the_logged_in_customers_invoices(
    client: FlaskClient, make_customer, make_invoice, make_user
):
    ada = make_customer("Ada Lovelace")
    bob = make_customer("Bob Builder")
    make_invoice(ada, "100.00", due=date(2099, 1, 1))
    make_invoice(ada, "50.00", balance="20.00", due=date(2099, 2, 1))
    make_invoice(bob, "999.99", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "$120.00" in page  # 100.00 + 20.00
    assert "999.99" not in page
    assert "Bob Builder" not in page


def test_balance_due_sums_open_invoices_and_flags_overdue(
    client: FlaskClient, make_customer, make_invoice, make_user
):
    ada = make_customer("Ada Lovelace")
    make_invoice(ada, "10.10", due=date(2000, 1, 1))
    make_invoice(ada, "20.20", balance="0.00", due=date(2000, 1, 1))
    make_invoice(ada, "0.30", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert '<span class="amount" data-testid="balance-due">$10.40</span>' in page
    assert "1 invoice is past due." in page


@pytest.mark.parametrize("path", ["/", "/account", "/admin/"])
def test_anonymous_visitors_are_sent_to_login(client: FlaskClient, path: str):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_customers_cannot_reach_staff_pages(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert client.get("/admin/").status_code == 404
    assert client.post(
        "/admin/invite", data={"customer_id": "1", "email": "x@example.com"}
    ).status_code in (400, 404)


def test_bookkeepers_see_customers_but_cannot_invite(client: FlaskClient, make_user, make_customer):
    make_customer("Ada Lovelace", email="ada@example.com")
    make_user("books", role=Role.BOOKKEEPER)
    login(client, "books")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "Invite" not in page


def test_staff_have_no_customer_dashboard(client: FlaskClient, make_user):
    make_user("boss", role=Role.ADMIN)
    response = login(client, "boss")
    assert response.headers["Location"] == "/admin/"
    assert client.get("/").status_code == 404
