"""Card testing: after too many declines in an hour (per customer, per client address) new
payment attempts are refused before they reach the processor, and staff are told once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.app import create_app
from portal.config import load_settings
from portal.db import utcnow
from portal.mail.models import OutboundEmail
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Outcome
from portal.payments.models import Payment, PaymentState
from tests.conftest import _wipe, login, write_config
from tests.integration.test_payment_pages import pay_form


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def limits() -> dict[str, int]:
    return {"declines_per_customer": 5, "declines_per_address": 10}


@pytest.fixture
def app(tmp_path: Path, database_url: str, gateway: FakeGateway, limits) -> Iterator[Flask]:
    config = write_config(tmp_path, database_url, payments=limits)
    app = create_app(
        {
            "SETTINGS": load_settings(config, environ={}),
            "TESTING": True,
            "ARGON2_CHEAP": True,
            "GATEWAY": gateway,
        }
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


@pytest.fixture
def people(make_customer, make_invoice, make_user) -> dict[str, int]:
    """Ada and Bob, customers with an open invoice each, and an admin to be told."""
    ada, bob = make_customer("Ada Lovelace"), make_customer("Bob Builder")
    invoices = {
        "ada": make_invoice(ada, "100.00", due=date(2099, 1, 1)).id,
        "bob": make_invoice(bob, "70.00", due=date(2099, 1, 1)).id,
    }
    make_user("ada", customer=ada)
    make_user("bob", customer=bob)
    make_user("boss", role=Role.ADMIN)
    return invoices


def _client(app: Flask, who: str, address: str = "203.0.113.7") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    login(client, who)
    return client


def _attempt(client: FlaskClient, invoice_id: int, gateway: FakeGateway, outcome: Outcome):
    gateway.next_outcomes[:] = [outcome]
    response, _ = pay_form(client, {invoice_id: "10.00"}, opaque_value=secrets.token_urlsafe(12))
    return response


def _decline(client: FlaskClient, invoice_id: int, gateway: FakeGateway, times: int) -> None:
    for _ in range(times):
        assert _attempt(client, invoice_id, gateway, Outcome.DECLINED).status_code == 402


def _alerts(app: Flask) -> list[str]:
    with app.app_context():
        rows = db.session().scalars(
            sa.select(OutboundEmail.subject).where(OutboundEmail.dedupe_key.like("declines:%"))
        )
        return list(rows)


def test_the_sixth_attempt_after_five_declines_is_refused_before_the_processor(
    app: Flask, people, gateway: FakeGateway
):
    ada = _client(app, "ada")
    _decline(ada, people["ada"], gateway, 5)
    assert gateway.calls == 5
    refused = _attempt(ada, people["ada"], gateway, Outcome.APPROVED)
    assert refused.status_code == 429
    assert "You can try again after" in refused.get_data(as_text=True)
    assert gateway.calls == 5  # never sent
    with app.app_context():
        states = db.session().scalars(sa.select(Payment.state)).all()
        assert states == [PaymentState.DECLINED] * 5  # the refused attempt left no payment


def test_another_customer_is_unaffected(app: Flask, people, gateway: FakeGateway):
    _decline(_client(app, "ada"), people["ada"], gateway, 5)
    bob = _client(app, "bob", address="198.51.100.2")
    assert _attempt(bob, people["bob"], gateway, Outcome.APPROVED).status_code == 303


def test_after_an_hour_paying_works_again(app: Flask, people, gateway: FakeGateway):
    ada = _client(app, "ada")
    _decline(ada, people["ada"], gateway, 5)
    later = utcnow() + timedelta(minutes=61)
    app.config["CLOCK"] = lambda: later
    assert _attempt(ada, people["ada"], gateway, Outcome.APPROVED).status_code == 303
    assert gateway.calls == 6


def test_staff_are_told_once_an_hour(app: Flask, people, gateway: FakeGateway):
    ada = _client(app, "ada")
    _decline(ada, people["ada"], gateway, 5)
    assert _alerts(app) == []  # declines alone are no alarm
    for _ in range(3):
        assert _attempt(ada, people["ada"], gateway, Outcome.APPROVED).status_code == 429
    assert _alerts(app) == ["Payments paused for Ada Lovelace: many declined cards"]
    app.config["CLOCK"] = lambda: utcnow() + timedelta(minutes=30)
    assert _attempt(ada, people["ada"], gateway, Outcome.APPROVED).status_code == 429
    assert len(_alerts(app)) == 1


@pytest.mark.parametrize("limits", [{"declines_per_customer": 100, "declines_per_address": 3}])
def test_declines_from_one_address_pause_every_customer_paying_from_it(
    app: Flask, people, gateway: FakeGateway
):
    _decline(_client(app, "ada", address="203.0.113.9"), people["ada"], gateway, 3)
    bob_there = _client(app, "bob", address="203.0.113.9")
    assert _attempt(bob_there, people["bob"], gateway, Outcome.APPROVED).status_code == 429
    bob_home = _client(app, "bob", address="198.51.100.2")
    assert _attempt(bob_home, people["bob"], gateway, Outcome.APPROVED).status_code == 303
    assert gateway.calls == 4
