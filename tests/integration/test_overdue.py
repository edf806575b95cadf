"""The overdue ladder: derived from due dates, back to current the moment a payment lands."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from portal.accounts.models import Role
from portal.clock import today
from portal.overdue.ladder import OverdueState, account_status
from portal.overdue.models import CustomerOverdue
from portal.overdue.states import refresh_states
from portal.payments import service
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Token
from portal.payments.models import MethodKind
from portal.payments.service import Method
from tests.conftest import login, post_form

DUE = date(2026, 2, 4)


@pytest.fixture
def sessions(app: Flask):
    return app.extensions["portal.db"].sessions


def status(app: Flask, customer_id: int, day: date):
    with app.extensions["portal.db"].sessions() as s:
        return account_status(s, customer_id, day, app.config["PORTAL_SETTINGS"])


def pay(sessions, customer_id: int, invoice_id: int, amount: str) -> None:
    """Pay through the portal's payment service, as a customer would."""
    method = Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", amount))
    with sessions() as s:
        payment = service.start(
            s,
            customer_id,
            None,
            {invoice_id: amount},
            f"overdue-test-key-{invoice_id}-{amount.replace('.', '_')}",
            method,
        )
        s.commit()
        payment_id = payment.id
    service.charge(sessions, FakeGateway(), payment_id, method)


def test_the_warning_names_the_turn_off_date_and_paying_clears_it_at_once(
    app, sessions, make_customer, make_invoice
):
    ada = make_customer()
    invoice = make_invoice(ada, "100.00", due=DUE)
    warned = status(app, ada.id, date(2026, 2, 20))
    assert warned.name is OverdueState.WARNING
    assert warned.turn_off_date == date(2026, 3, 6) and "March 6, 2026" in warned.message
    assert warned.blocks_changes and not warned.service_off
    pay(sessions, ada.id, invoice.id, "100.00")
    assert status(app, ada.id, date(2026, 2, 20)).name is OverdueState.CURRENT


def test_the_oldest_unpaid_invoice_decides_the_state(app, sessions, make_customer, make_invoice):
    ada = make_customer()
    oldest = make_invoice(ada, "40.00", due=DUE)
    make_invoice(ada, "60.00", due=DUE + timedelta(days=20))
    make_invoice(ada, "10.00", "0.00", due=DUE - timedelta(days=90))  # paid long ago
    day = DUE + timedelta(days=30)
    assert status(app, ada.id, day).name is OverdueState.SUSPENDED
    assert status(app, ada.id, day).service_off
    pay(sessions, ada.id, oldest.id, "40.00")
    assert status(app, ada.id, day).name is OverdueState.PAST_DUE  # day 10 of the younger one


def test_a_partial_payment_keeps_the_account_overdue(app, sessions, make_customer, make_invoice):
    ada = make_customer()
    invoice = make_invoice(ada, "100.00", due=DUE)
    pay(sessions, ada.id, invoice.id, "99.99")
    assert status(app, ada.id, DUE + timedelta(days=1)).name is OverdueState.PAST_DUE


def test_account_status_is_one_query(app, make_customer, make_invoice):
    ada = make_customer()
    make_invoice(ada, "100.00", due=DUE)
    engine = app.extensions["portal.db"].engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.extensions["portal.db"].sessions() as s:
        s.connection()  # the connection is opened before counting
        event.listen(engine, "before_cursor_execute", count)
        try:
            account_status(s, ada.id, DUE + timedelta(days=2), app.config["PORTAL_SETTINGS"])
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_the_job_records_states_and_forgets_customers_who_paid(
    app, sessions, make_customer, make_invoice
):
    ada, grace, alan = make_customer("Ada"), make_customer("Grace"), make_customer("Alan")
    ada_invoice = make_invoice(ada, "100.00", due=DUE)
    make_invoice(grace, "50.00", due=DUE + timedelta(days=20))
    make_invoice(alan, "70.00", due=DUE + timedelta(days=60))  # not yet due
    day = DUE + timedelta(days=31)
    counts = refresh_states(sessions, app.config["PORTAL_SETTINGS"], day)
    assert counts == {"suspended": 1, "past_due": 1}
    with sessions() as s:
        rows = {r.customer_id: (r.state, r.since) for r in s.scalars(sa.select(CustomerOverdue))}
    assert rows == {
        ada.id: ("suspended", DUE + timedelta(days=30)),
        grace.id: ("past_due", DUE + timedelta(days=21)),
    }
    pay(sessions, ada.id, ada_invoice.id, "100.00")
    refresh_states(sessions, app.config["PORTAL_SETTINGS"], day)
    with sessions() as s:
        assert list(s.scalars(sa.select(CustomerOverdue.customer_id))) == [grace.id]


def staff(app: Flask, make_user, role: Role = Role.BOOKKEEPER):
    make_user("staff", role=role)
    client = app.test_client()
    login(client, "staff")
    return client


def test_the_overdue_page_lists_customers_by_state_and_filters(
    app, sessions, make_customer, make_invoice, make_user
):
    now = today()
    ada, grace = make_customer("Ada Late"), make_customer("Grace Warned")
    make_invoice(ada, "100.00", due=now - timedelta(days=40))
    make_invoice(ada, "20.00", due=now - timedelta(days=3))
    make_invoice(grace, "55.50", due=now - timedelta(days=16))
    client = staff(app, make_user)
    assert "No overdue accounts" in client.get("/admin/overdue").get_data(as_text=True)
    response = post_form(client, "/admin/overdue/refresh", {}, page="/admin/overdue")
    assert response.status_code == 302
    page = client.get("/admin/overdue").get_data(as_text=True)
    assert "States checked: 2 overdue customers." in page
    assert page.index("Ada Late") < page.index("Grace Warned")  # the worst first
    assert "$120.00" in page and "$55.50" in page
    turn_off = now - timedelta(days=16) + timedelta(days=30)
    assert f"{turn_off:%b} {turn_off.day}, {turn_off.year}" in page  # "Dec 14, 2026"
    warned = client.get("/admin/overdue?state=warning").get_data(as_text=True)
    assert "Grace Warned" in warned and "Ada Late" not in warned
    assert "No past due accounts" in client.get("/admin/overdue?state=past_due").get_data(
        as_text=True
    )


def test_the_overdue_page_shows_who_paid_since_the_last_check(
    app, sessions, make_customer, make_invoice, make_user
):
    ada = make_customer("Ada Paid")
    invoice = make_invoice(ada, "100.00", due=today() - timedelta(days=20))
    refresh_states(sessions, app.config["PORTAL_SETTINGS"], today())
    pay(sessions, ada.id, invoice.id, "100.00")
    page = staff(app, make_user, Role.ADMIN).get("/admin/overdue").get_data(as_text=True)
    assert "Ada Paid" in page and "paid since the last check" in page


def test_customers_cannot_reach_the_overdue_pages(app, make_user):
    make_user("ada")
    client = app.test_client()
    login(client, "ada")
    assert client.get("/admin/overdue").status_code == 404
    assert client.get("/admin/overdue?state=warning").status_code == 404
