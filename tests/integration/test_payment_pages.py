"""The customer's pay, receipt, history and saved-method pages (card processor faked)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from portal import db
from portal.app import create_app
from portal.billing.models import Invoice
from portal.config import Settings
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Outcome
from portal.payments.models import MethodKind, Payment, PaymentState, SavedMethod
from tests.conftest import Mailbox, csrf_token, login

TOKEN = {"opaque_descriptor": "COMMON.ACCEPT.INAPP.PAYMENT", "opaque_value": "eyJ0b2tlbiI6IjEifQ"}


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def app(settings: Settings, gateway: FakeGateway) -> Iterator[Flask]:  # the conftest app, paying
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def two_customers(make_customer, make_invoice, make_user):
    ada = make_customer("Ada Lovelace", email="ada@example.com")
    bob = make_customer("Bob Builder")
    invoices = [
        make_invoice(ada, "100.00", due=date(2000, 1, 1)),
        make_invoice(ada, "50.00", due=date(2099, 1, 1)),
        make_invoice(ada, "80.00", due=date(2099, 2, 1)),
    ]
    bobs = make_invoice(bob, "70.00", due=date(2099, 1, 1))
    make_user("ada", customer=ada)
    make_user("bob", customer=bob)
    return {"ada": invoices, "bob": bobs}


def pay_form(client: FlaskClient, amounts: dict[int, str], **extra: str):
    """Submit the pay page as the browser does after Accept.js filled in the token."""
    page = client.get("/pay").get_data(as_text=True)
    idem = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    data = MultiDict(
        {
            "csrf_token": csrf_token(client, "/pay"),
            "idempotency_key": idem,
            "method": "card",
            **TOKEN,
            **extra,
        }
    )
    for invoice_id, amount in amounts.items():
        data.add("invoice", str(invoice_id))
        data.add(f"amount-{invoice_id}", amount)
    return client.post("/pay", data=data), idem


def test_pay_page_lists_only_this_customers_open_invoices(client, two_customers):
    login(client, "ada")
    page = client.get("/pay").get_data(as_text=True)
    for invoice in two_customers["ada"]:
        assert f'value="{invoice.id}"' in page
    assert f'value="{two_customers["bob"].id}"' not in page
    assert "Accept.js" in page
    assert 'id="card-number"' in page and 'name="card' not in page  # numbers are never posted
    assert "js.authorize.net" in client.get("/pay").headers["Content-Security-Policy"]


def test_paying_from_the_page_charges_once_and_shows_and_mails_the_receipt(
    app, client, two_customers, gateway: FakeGateway, mailbox: Mailbox
):
    login(client, "ada")
    first, second, third = two_customers["ada"]
    response, _ = pay_form(client, {first.id: "100.00", second.id: "50.00", third.id: "30.25"})
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Payment receipt" in receipt and "$180.25" in receipt
    assert gateway.calls == 1
    body = mailbox.last_body()
    assert "$180.25" in body and "ending in 1111" in body
    assert mailbox.messages()[-1]["To"] == "ada@example.com"
    with app.app_context():
        balances = dict(db.session().execute(sa.select(Invoice.id, Invoice.balance)).all())
    assert balances[third.id] == Decimal("49.75") and balances[first.id] == 0


def test_resubmitting_the_same_form_charges_once(client, two_customers, gateway):
    login(client, "ada")
    first = two_customers["ada"][0]
    response, idem = pay_form(client, {first.id: "10.00"})
    again = client.post(
        "/pay",
        data={
            "csrf_token": csrf_token(client, "/pay"),
            "idempotency_key": idem,
            "method": "card",
            **TOKEN,
            "invoice": str(first.id),
            f"amount-{first.id}": "10.00",
        },
    )
    assert again.headers["Location"] == response.headers["Location"]
    assert gateway.calls == 1


def test_another_customers_invoice_in_the_form_is_refused(client, two_customers, gateway):
    login(client, "ada")
    response, _ = pay_form(client, {two_customers["bob"].id: "70.00"})
    assert response.status_code == 400
    assert "not one of yours" in response.get_data(as_text=True)
    assert gateway.calls == 0


def test_a_form_without_a_card_token_is_refused(client, two_customers, gateway):
    login(client, "ada")
    response, _ = pay_form(client, {two_customers["ada"][0].id: "10.00"}, opaque_value="")
    assert response.status_code == 400
    assert "did not reach the processor" in response.get_data(as_text=True)
    assert gateway.calls == 0


def test_a_declined_card_is_explained_and_nothing_changes(app, client, two_customers, gateway):
    gateway.next_outcomes.append(Outcome.DECLINED)
    login(client, "ada")
    response, _ = pay_form(client, {two_customers["ada"][0].id: "100.00"})
    assert response.status_code == 402
    assert "declined" in response.get_data(as_text=True)
    assert "Nothing was charged" in response.get_data(as_text=True)


def test_bad_amount_in_the_form_gets_a_clear_message(client, two_customers, gateway):
    login(client, "ada")
    response, _ = pay_form(client, {two_customers["ada"][0].id: "12.345"})
    assert response.status_code == 400
    assert "dollars and cents" in response.get_data(as_text=True)
    assert gateway.calls == 0


def test_customer_b_can_never_see_customer_as_receipts_or_methods(
    app, client, two_customers, gateway
):
    login(client, "ada")
    response, _ = pay_form(client, {two_customers["ada"][0].id: "10.00"}, save_method="1")
    receipt_path = response.headers["Location"]
    with app.app_context():
        method_id = db.session().scalar(sa.select(SavedMethod.id))
    assert method_id is not None
    bob = app.test_client()
    login(bob, "bob")
    assert bob.get(receipt_path).status_code == 404
    assert "$10.00" not in bob.get("/payments").get_data(as_text=True)
    assert "1111" not in bob.get("/payment-methods").get_data(as_text=True)
    token = csrf_token(bob, "/account")
    assert (
        bob.post(f"/payment-methods/{method_id}/remove", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        bob.post(f"/payment-methods/{method_id}/default", data={"csrf_token": token}).status_code
        == 404
    )


def test_saved_method_is_listed_used_and_removed(app, client, two_customers, gateway):
    login(client, "ada")
    first, second, _ = two_customers["ada"]
    pay_form(client, {first.id: "10.00"}, save_method="1")
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "Visa ending in 1111" in page
    with app.app_context():
        method_id = db.session().scalar(sa.select(SavedMethod.id))
    response, _ = pay_form(
        client, {second.id: "5.00"}, method=f"saved-{method_id}", opaque_value=""
    )
    assert response.status_code == 303
    removed = client.post(
        f"/payment-methods/{method_id}/remove",
        data={"csrf_token": csrf_token(client, "/payment-methods"), "confirm": "1"},
    )
    assert removed.status_code == 302
    assert "No saved methods" in client.get("/payment-methods").get_data(as_text=True)
    response, _ = pay_form(
        client, {second.id: "5.00"}, method=f"saved-{method_id}", opaque_value=""
    )
    assert response.status_code == 400
    assert "no longer exists" in response.get_data(as_text=True)
    with app.app_context():
        kinds = db.session().scalars(sa.select(Payment.state)).all()
    assert sorted(k.value for k in kinds) == ["succeeded", "succeeded"]
    assert all(isinstance(k, PaymentState) for k in kinds)
    assert MethodKind.CARD.value == "card"


def test_pay_page_says_so_when_online_payments_are_off(settings, make_user, make_customer):
    app = create_app({"SETTINGS": settings, "ARGON2_CHEAP": True})
    make_user("ada")
    client = app.test_client()
    login(client, "ada")
    assert "Online payments are not available" in client.get("/pay").get_data(as_text=True)
    app.extensions["portal.db"].engine.dispose()


class WatchfulGateway(FakeGateway):
    """Notes whether the request's database transaction was open at each processor call."""

    def __init__(self) -> None:
        super().__init__()
        self.open_during: list[str] = []

    def _note(self, call: str) -> None:
        from flask import has_request_context

        if has_request_context() and db.session().in_transaction():
            self.open_during.append(call)

    def charge(self, request):  # type: ignore[no-untyped-def]
        self._note("charge")
        return super().charge(request)

    def delete_method(self, profile):  # type: ignore[no-untyped-def]
        self._note("delete_method")
        return super().delete_method(profile)

    def client_key(self) -> str:
        self._note("client_key")
        return super().client_key()


def test_no_transaction_is_held_open_across_a_processor_call(settings, two_customers):
    from tests.conftest import _wipe

    watchful = WatchfulGateway()
    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": watchful}
    )
    client = app.test_client()
    login(client, "ada")
    first = two_customers["ada"][0]
    pay_form(client, {first.id: "10.00"}, save_method="1")
    with app.app_context():
        method_id = db.session().scalar(sa.select(SavedMethod.id))
    client.post(
        f"/payment-methods/{method_id}/remove",
        data={"csrf_token": csrf_token(client, "/payment-methods"), "confirm": "1"},
    )
    assert watchful.calls >= 3
    assert watchful.open_during == []
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()
