"""The customer dashboard: activity, the 12-month chart, recommended services, news and
alerts; and the queries it makes do not grow with the number of invoices."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.billing.models import CatalogItem, ReceivedPayment
from portal.clock import today
from tests.conftest import login, post_form


@contextmanager
def counting(app: Flask):
    """Count SQL statements sent while the block runs."""
    engine = app.extensions["portal.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def ada(app, make_customer, make_invoice, make_user):
    customer = make_customer("Ada Lovelace")
    first = today().replace(day=1)
    make_invoice(customer, "120.00", txn=first - timedelta(days=40), due=first - timedelta(days=10))
    make_invoice(customer, "80.00", balance="30.00", txn=first, due=first + timedelta(days=30))
    with app.app_context(), db.transaction() as s:
        s.add(
            ReceivedPayment(
                realm_id="test",
                qbo_id="p1",
                customer_id=customer.id,
                txn_date=first,
                total_amt=Decimal("50.00"),
            )
        )
        s.add(
            CatalogItem(
                realm_id="test",
                qbo_id="99",
                name="Premium support",
                description="Priority help",
                unit_price=Decimal("25.00"),
            )
        )
        s.add(CatalogItem(realm_id="test", qbo_id="98", name="Late fee"))
        s.add(CatalogItem(realm_id="test", qbo_id="97", name="Unpriced odd job"))
    make_user("ada", customer=customer)
    return customer


def test_dashboard_shows_activity_chart_and_recommended_services(client: FlaskClient, ada):
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert "$150.00" in page  # 120.00 + 30.00
    assert "Invoice 1001" in page and "Payment received" in page
    assert '<td data-label="Amount" class="num paid">$50.00</td>' in page  # paid, not "-$50.00"
    assert "-$" not in page
    assert '<svg class="chart"' in page and "billed $80.00, paid $50.00" in page
    assert "Premium support" in page
    assert "Late fee" not in page  # never recommended
    assert "Unpriced odd job" not in page  # nothing to offer without a price


def test_news_reaches_everyone_and_an_alert_only_its_customer(
    app, client: FlaskClient, ada, make_user, make_customer
):
    make_user("boss", role=Role.ADMIN)
    other = make_customer("Bob")
    make_user("bob", customer=other)
    boss = app.test_client()
    login(boss, "boss")
    post_form(boss, "/admin/notices", {"title": "Maintenance", "body": "Portal down Sunday."})
    post_form(
        boss,
        f"/admin/notices?customer={ada.id}",
        {"customer_id": str(ada.id), "title": "Your meter", "body": "Reading due."},
        page=f"/admin/notices?customer={ada.id}",
    )
    login(client, "ada")
    page = client.get("/").get_data(as_text=True)
    assert "Maintenance" in page and "Your meter" in page
    bob = app.test_client()
    login(bob, "bob")
    page = bob.get("/").get_data(as_text=True)
    assert "Maintenance" in page and "Your meter" not in page


def test_notices_are_for_admins_only(client: FlaskClient, ada):
    login(client, "ada")
    assert client.get("/admin/notices").status_code == 404


def test_a_notice_without_a_title_is_refused(app, make_user):
    make_user("boss", role=Role.ADMIN)
    boss = app.test_client()
    login(boss, "boss")
    response = post_form(boss, "/admin/notices", {"title": "", "body": "x"})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_dashboard_queries_do_not_grow_with_the_number_of_invoices(
    app, client: FlaskClient, make_customer, make_invoice, make_user
):
    few = make_customer("Few")
    many = make_customer("Many")
    for _ in range(3):
        make_invoice(few, "10.00", due=date(2000, 1, 1))
    for _ in range(60):
        make_invoice(many, "10.00", due=date(2000, 1, 1))
    make_user("few", customer=few)
    make_user("many", customer=many)
    counts = []
    for name in ("few", "many"):
        visitor = app.test_client()
        login(visitor, name)
        visitor.get("/")  # warm: the session and user load are the same for both
        with counting(app) as seen:
            assert visitor.get("/").status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_an_overdue_customer_sees_the_alert_and_the_turn_off_date_until_paying(
    app, client: FlaskClient, make_customer, make_invoice, make_user
):
    customer = make_customer("Late Larry")
    due = today() - timedelta(days=20)
    invoice = make_invoice(customer, "90.00", due=due, txn=due - timedelta(days=30))
    make_user("larry", customer=customer)
    login(client, "larry")
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="past-due"' in page
    turn_off = due + timedelta(days=app.config["PORTAL_SETTINGS"].overdue.suspend_days)
    assert f"{turn_off:%B} {turn_off.day}, {turn_off.year}" in page
    with app.app_context(), db.transaction() as s:  # paid (e.g. in the portal): back at once
        from portal.billing.models import Invoice

        s.get(Invoice, invoice.id).balance = Decimal(0)
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="past-due"' not in page


def test_news_sent_by_e_mail_goes_once_to_each_active_customer_as_they_chose(
    app, make_customer, make_user, mailbox
):
    import sqlalchemy as sa

    from portal import db
    from portal.notifications.delivery import deliver_due
    from portal.notifications.models import NotificationPreference

    ada = make_customer("Ada", email="ada@example.com")
    make_customer("Bob", email="bob@example.com")
    make_customer("Gone", email="gone@example.com", active=False)
    quiet = make_customer("Quiet", email="quiet@example.com")
    with app.app_context(), db.transaction() as s:
        s.add(NotificationPreference(customer_id=quiet.id, kind="news", channels=""))
    make_user("boss", role=Role.ADMIN)
    boss = app.test_client()
    login(boss, "boss")
    posted = post_form(
        boss, "/admin/notices", {"title": "Office closed", "body": "Back Tuesday.", "send": "y"}
    )
    assert posted.status_code == 302
    with app.app_context():
        deliver_due(app)
    assert sorted(m["To"] for m in mailbox.messages()) == ["ada@example.com", "bob@example.com"]
    assert {m["Subject"] for m in mailbox.messages()} == {"Office closed"}
    alert = post_form(
        boss,
        f"/admin/notices?customer={ada.id}",
        {"customer_id": str(ada.id), "title": "Your meter", "body": "Reading due.", "send": "y"},
        page=f"/admin/notices?customer={ada.id}",
    )
    assert alert.status_code == 302
    with app.app_context():
        deliver_due(app)
        assert db.session().scalar(sa.text("SELECT count(*) FROM notification")) == 4
    assert [m["Subject"] for m in mailbox.messages()].count("Your meter") == 1
