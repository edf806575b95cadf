"""Saving methods while paying (issue 14's defect): every method the customer asks to save is
kept in their one processor profile, through the real adapter and the Authorize.Net sandbox;
one that cannot be is never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from portal import db
from portal.app import create_app
from portal.config import Settings
from portal.notifications.models import Notification
from portal.payments import service
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.models import MethodKind, Payment, PaymentState, SavedMethod
from sandbox.authorizenet import AnetSandbox
from sandbox.authorizenet.cards import Bank
from sandbox.authorizenet.profiles import add_payment_profile
from tests.conftest import csrf_token, login
from tests.integration.anet_fixtures import *  # noqa: F403  (fixtures)

ACCEPT = "COMMON.ACCEPT.INAPP.PAYMENT"


@pytest.fixture
def app(settings: Settings, gateway: AuthorizeNetGateway) -> Iterator[Flask]:
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def ada(make_customer, make_invoice, make_user):
    customer = make_customer("Ada Lovelace", email="ada@example.com")
    invoices = [make_invoice(customer, "90.00", due=date(2099, 1, n)) for n in range(1, 5)]
    make_user("ada", customer=customer)
    return customer, invoices


def pay(client: FlaskClient, invoice_id: int, amount: str, token: tuple[str, str], kind="card"):
    page = client.get("/pay").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    data = MultiDict(
        {
            "csrf_token": csrf_token(client, "/pay"),
            "idempotency_key": key.group(1),
            "method": kind,
            "opaque_descriptor": token[0],
            "opaque_value": token[1],
            "save_method": "1",
            "invoice": str(invoice_id),
            f"amount-{invoice_id}": amount,
        }
    )
    return client.post("/pay", data=data)


def methods(app: Flask) -> list[SavedMethod]:
    with app.app_context():
        return list(db.session().scalars(sa.select(SavedMethod).order_by(SavedMethod.id)))


def test_three_methods_of_mixed_kinds_saved_by_paying_are_all_kept(
    app: Flask, client: FlaskClient, ada, anet: AnetSandbox
) -> None:
    _customer, invoices = ada
    login(client, "ada")
    state = anet.state
    paid = [
        pay(client, invoices[0].id, "10.00", state.tokenize_card("4111111111111111", 12, 2030)),
        pay(client, invoices[1].id, "20.00", state.tokenize_bank("123456789"), kind="bank"),
        pay(client, invoices[2].id, "30.00", state.tokenize_card("5424000000000015", 11, 2031)),
    ]
    assert [r.status_code for r in paid] == [303, 303, 303]
    kept = methods(app)
    assert [(m.kind, m.brand, m.last4, m.expiry) for m in kept] == [
        (MethodKind.CARD, "Visa", "1111", "12/2030"),
        (MethodKind.BANK, "Bank account", "6789", None),
        (MethodKind.CARD, "MasterCard", "0015", "11/2031"),
    ]
    assert len({m.gateway_customer_profile_id for m in kept}) == 1  # one profile
    assert len(state.profiles) == 1
    [profile] = state.profiles.values()
    assert set(profile.payment_profiles) == {m.gateway_payment_profile_id for m in kept}
    assert [m.is_default for m in kept] == [True, False, False]
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "MasterCard ending in 0015" in page and "Bank account ending in 6789" in page


def test_a_card_saved_twice_is_one_method(app, client, ada, anet: AnetSandbox) -> None:
    _customer, invoices = ada
    login(client, "ada")
    for n, invoice in enumerate(invoices[:2]):
        token = anet.state.tokenize_card("4111111111111111", 12, 2030)
        response = pay(client, invoice.id, f"1{n}.00", token)
        assert response.status_code == 303
    assert len(methods(app)) == 1
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not save" not in follow
    with app.app_context():
        security = db.session().scalars(
            sa.select(Notification.title).where(Notification.kind == "security")
        )
        assert len([t for t in security if "payment method was saved" in t]) == 1


def test_a_save_that_fails_leaves_the_payment_and_says_why_on_the_receipt(
    app, client, ada, anet: AnetSandbox
) -> None:
    _customer, invoices = ada
    login(client, "ada")
    first = pay(client, invoices[0].id, "10.00", anet.state.tokenize_bank("123456789"), "bank")
    assert first.status_code == 303
    [profile] = anet.state.profiles.values()
    with anet.state.lock:  # nine more kept at the processor: the profile is full (10)
        for n in range(9):
            add_payment_profile(
                anet.state, profile, Bank("121042882", f"5550{n}", "Ada"), {}, None, False
            )
    response = pay(
        client, invoices[1].id, "11.00", anet.state.tokenize_card("4111111111111111", 12, 2030)
    )
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your payment of $11.00 was received" in receipt
    assert (
        "Your payment went through, but we could not save the card: You have the most saved "
        "methods allowed (10). Remove one first."
    ) in receipt
    assert [m.last4 for m in methods(app)] == ["6789"]
    with app.app_context():
        states = db.session().scalars(sa.select(Payment.state)).all()
        assert states == [PaymentState.SUCCEEDED, PaymentState.SUCCEEDED]


def test_a_crash_between_charge_and_save_loses_no_money_and_saving_again_works(
    app, ada, anet: AnetSandbox, gateway: AuthorizeNetGateway
) -> None:
    customer, invoices = ada
    sessions = app.extensions["portal.db"].sessions
    descriptor, value = anet.state.tokenize_card("4111111111111111", 12, 2030)
    from portal.payments.gateway import Token

    method = service.Method(MethodKind.CARD, token=Token(descriptor, value), save=True)
    with app.app_context():
        with sessions() as s:
            payment = service.start(
                s, customer.id, None, {invoices[0].id: "40.00"}, "c" * 24, method
            )
            s.commit()
            payment_id = payment.id
        # keep=False stands for a process that died right after recording the charge
        charged = service.charge(sessions, gateway, payment_id, method, keep=False)
        assert charged.state is PaymentState.SUCCEEDED
        assert methods(app) == []
        assert service.keep_charged_method(sessions, gateway, payment_id) is None
        assert service.keep_charged_method(sessions, gateway, payment_id) is None  # again: one
    assert [(m.brand, m.last4) for m in methods(app)] == [("Visa", "1111")]


def test_paying_with_a_saved_bank_account_is_an_echeck(app, client, ada, anet: AnetSandbox):
    _customer, invoices = ada
    login(client, "ada")
    pay(client, invoices[0].id, "10.00", anet.state.tokenize_bank("123456789"), kind="bank")
    [bank] = methods(app)
    page = client.get("/pay").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    data = {
        "csrf_token": csrf_token(client, "/pay"),
        "idempotency_key": key.group(1),
        "method": f"saved-{bank.id}",
        "invoice": str(invoices[1].id),
        f"amount-{invoices[1].id}": "12.00",
    }
    assert client.post("/pay", data=data).status_code == 303
    with app.app_context():
        last = db.session().scalar(sa.select(Payment).order_by(Payment.id.desc()))
        assert last.method_kind is MethodKind.BANK and last.account_type == "eCheck"
