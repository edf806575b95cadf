"""Staff: reconciling portal payments with QuickBooks, the outbox, and partial credits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import sync.handlers  # noqa: F401  (registers the write-back handlers)
from portal.accounts.models import Role
from portal.billing.models import Customer, Invoice, ReceivedPayment
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Token
from portal.payments.models import MethodKind, Payment
from portal.payments.service import Method
from sync import outbox
from sync.accounting import Entity
from sync.fake import FakeAccounting
from tests import records as rec
from tests.conftest import login, post_form


@pytest.fixture
def qbo() -> FakeAccounting:
    fake = FakeAccounting("test")
    fake.put(rec.item("1", "Monthly service"))
    fake.put(rec.item("2", "Late fee", "25.00"))
    fake.put(rec.customer("c1", "Ada"))
    fake.put(rec.invoice("i1", "c1", "100.00"))
    return fake


@pytest.fixture
def setup(app: Flask, make_user, qbo):
    sessions = app.extensions["portal.db"].sessions
    with sessions() as s:
        ada = Customer(realm_id="test", qbo_id="c1", display_name="Ada", balance=Decimal(100))
        s.add(ada)
        s.flush()
        inv = Invoice(
            realm_id="test",
            qbo_id="i1",
            doc_number="1001",
            customer_id=ada.id,
            txn_date=date(2026, 1, 1),
            due_date=date(2026, 2, 1),
            total_amt=Decimal(100),
            balance=Decimal(100),
        )
        s.add(inv)
        from portal.billing.models import CatalogItem

        s.add(CatalogItem(realm_id="test", qbo_id="1", name="Monthly service"))
        s.add(CatalogItem(realm_id="test", qbo_id="2", name="Late fee"))
        s.commit()
        ids = {"customer": ada.id, "invoice": inv.id}
    make_user("boss", role=Role.ADMIN)
    return sessions, ids


def paid(sessions, ids, amount: str = "40.00") -> int:
    method = Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", amount))
    with sessions() as s:
        payment = service.start(
            s,
            ids["customer"],
            None,
            {ids["invoice"]: amount},
            "k" * 20 + amount.replace(".", "_"),
            method,
        )
        s.commit()
        payment_id = payment.id
    service.charge(sessions, FakeGateway(), payment_id, method)
    return payment_id


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "boss")
    return client


def test_a_written_back_and_mirrored_payment_shows_as_matched(app, setup, qbo):
    sessions, ids = setup
    payment_id = paid(sessions, ids)
    page = admin(app).get("/admin/payments").get_data(as_text=True)
    assert "waiting for write-back" in page
    outbox.drain(sessions, lambda realm: qbo)
    with sessions() as s:
        qbo_id = s.get(Payment, payment_id).qbo_payment_id
        s.add(
            ReceivedPayment(
                realm_id="test",
                qbo_id=qbo_id,
                customer_id=ids["customer"],
                txn_date=date(2026, 1, 3),
                total_amt=Decimal("40.00"),
            )
        )
        s.commit()
    page = admin(app).get("/admin/payments").get_data(as_text=True)
    assert "matched" in page and "mismatch" not in page


def test_a_payment_whose_amount_differs_in_quickbooks_is_flagged(app, setup, qbo):
    sessions, ids = setup
    payment_id = paid(sessions, ids)
    outbox.drain(sessions, lambda realm: qbo)
    with sessions() as s:
        qbo_id = s.get(Payment, payment_id).qbo_payment_id
        s.add(
            ReceivedPayment(
                realm_id="test",
                qbo_id=qbo_id,
                customer_id=ids["customer"],
                txn_date=date(2026, 1, 3),
                total_amt=Decimal("4.00"),
            )
        )
        s.commit()
    assert "mismatch: amounts differ" in admin(app).get("/admin/payments").get_data(as_text=True)


def test_a_parked_write_back_is_shown_with_its_error_and_can_be_retried(app, setup, qbo):
    sessions, ids = setup
    paid(sessions, ids)
    with sessions() as s:
        message = s.scalar(sa.select(OutboxMessage))
        message.status = OutboxStatus.PARKED
        message.last_error = "QuickBooks kept answering 503 for the payment after 4 retries"
        s.commit()
        message_id = message.id
    client = admin(app)
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "write-back parked" in page and "kept answering 503" in page
    response = post_form(client, f"/admin/outbox/{message_id}/retry", {}, page="/admin/payments")
    assert response.status_code == 302
    assert outbox.drain(sessions, lambda realm: qbo).done == 1
    assert len(qbo.rows[Entity.PAYMENT]) == 1


def test_a_partial_credit_becomes_a_credit_memo_applied_to_the_invoice(app, setup, qbo):
    sessions, ids = setup
    client = admin(app)
    page = f"/admin/customers/{ids['customer']}/credit"
    form = {
        "invoice_id": str(ids["invoice"]),
        "amount": "12.50",
        "reason": "goodwill",
        "idempotency_key": "credit-form-key-0001",
        "confirm": "1",
    }
    response = post_form(client, page, form)
    assert response.status_code == 302
    again = post_form(client, page, form)  # a double submit of the same form
    assert again.status_code == 302
    assert "already issued" in client.get(page).get_data(as_text=True)
    with sessions() as s:
        assert s.get(Invoice, ids["invoice"]).balance == Decimal("87.50")
    assert outbox.drain(sessions, lambda realm: qbo).done == 1
    assert outbox.drain(sessions, lambda realm: qbo).done == 0
    [memo] = qbo.rows[Entity.CREDIT_MEMO].values()
    assert memo.total == Decimal("12.50") and memo.balance == 0
    assert qbo.rows[Entity.INVOICE]["i1"].balance == Decimal("87.50")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.01", "more than the balance"),
        ("0", "more than zero"),
        ("1.234", "dollars and cents"),
    ],
)
def test_bad_credits_are_refused_and_change_nothing(app, setup, amount, message):
    sessions, ids = setup
    client = admin(app)
    page = f"/admin/customers/{ids['customer']}/credit"
    response = post_form(
        client,
        page,
        {
            "invoice_id": str(ids["invoice"]),
            "amount": amount,
            "reason": "x",
            "idempotency_key": "credit-form-key-0002",
        },
    )
    assert response.status_code == 400
    assert message in client.get(page).get_data(as_text=True) or message in response.get_data(
        as_text=True
    )
    with sessions() as s:
        assert s.get(Invoice, ids["invoice"]).balance == Decimal(100)
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


def test_customers_cannot_reach_staff_payment_pages(app, setup, make_user, make_customer):
    _, ids = setup
    make_user("ada")
    client = app.test_client()
    login(client, "ada")
    assert client.get("/admin/payments").status_code == 404
    assert client.get(f"/admin/customers/{ids['customer']}/credit").status_code == 404


def test_issuing_a_credit_asks_first_and_only_the_confirmed_form_issues_it(app, setup):
    sessions, ids = setup
    client = admin(app)
    page = f"/admin/customers/{ids['customer']}/credit"
    form = {
        "invoice_id": str(ids["invoice"]),
        "amount": "12.50",
        "reason": "goodwill",
        "idempotency_key": "credit-form-key-0003",
    }
    asked = post_form(client, page, form)
    assert asked.status_code == 200
    text = asked.get_data(as_text=True)
    assert "Issue a credit of $12.50 to" in text and "(balance $100.00)" in text
    assert 'name="confirm" value="1"' in text
    for name, value in form.items():
        assert f'name="{name}" value="{value}"' in text  # the confirmation posts the same form
    with sessions() as s:
        assert s.get(Invoice, ids["invoice"]).balance == Decimal(100)
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    done = post_form(client, page, {**form, "confirm": "1"})
    assert done.status_code == 302
    with sessions() as s:
        assert s.get(Invoice, ids["invoice"]).balance == Decimal("87.50")
