"""`portal reconcile` against both sandboxes: the real gateway adapter lists the
processor's transactions, the real QuickBooks adapter its Payments."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.app import create_app
from portal.billing.models import Customer, Invoice
from portal.cli import main
from portal.config import Settings
from portal.payments import service
from portal.payments.fake import FakeGateway
from portal.payments.gateway import ChargeRequest, Outcome, Token
from portal.payments.models import MethodKind, Payment, PaymentState
from portal.payments.service import Method
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import QboSandbox
from sync.fake import FakeAccounting
from sync.quickbooks.connection import adapter_for
from sync.service import write_back
from tests import records as rec
from tests.conftest import _wipe, write_config
from tests.integration.money_world import connected_app
from tests.ledgers import assert_ledgers_agree

REALM = demo_env.DEMO_REALM


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[tuple[QboSandbox, AnetSandbox]]:
    qbo = demo_env.start_sandbox(settings, 0, customers=4, invoices=40)
    qbo.state.faults.throttle_limit = None
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.stop()
    qbo.stop()


@pytest.fixture
def wired(settings: Settings, sandboxes, monkeypatch) -> Settings:
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    qbo, anet = sandboxes
    pointed = demo_env.sandbox_settings(settings, qbo, anet)
    return dataclasses.replace(
        pointed, quickbooks=dataclasses.replace(pointed.quickbooks, throttle_wait_seconds=0)
    )


@pytest.fixture
def app(wired: Settings) -> Iterator[Flask]:
    with connected_app(wired) as application:
        yield application


@pytest.fixture
def reconcile_cli(tmp_path: Path, database_url: str, wired: Settings):
    """`portal reconcile ARGS` with a config file naming the same database and sandboxes."""
    qbo, anet = wired.quickbooks, wired.authorizenet
    folder = tmp_path / "cli"
    folder.mkdir()
    config = write_config(
        folder,
        database_url,
        quickbooks={
            "client_id": qbo.client_id,
            "client_secret": qbo.client_secret,
            "discovery_url": qbo.discovery_url,
            "api_base_url": qbo.api_base_url,
            "throttle_wait_seconds": 0,
        },
        authorizenet={
            "api_login_id": anet.api_login_id,
            "transaction_key": anet.transaction_key,
            "api_url": anet.api_url,
            "accept_js_url": anet.accept_js_url,
            "signature_key": anet.signature_key,
        },
    )

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["reconcile", *args], env={"PORTAL_CONFIG": str(config)})

    return run


@pytest.fixture
def invoice(app: Flask) -> Invoice:
    with app.app_context():
        return (
            db.session()
            .scalars(
                sa.select(Invoice).where(Invoice.balance > 20, ~Invoice.voided).order_by(Invoice.id)
            )
            .first()
        )


def pay(app: Flask, anet: AnetSandbox, invoice: Invoice, amount: str = "20.00") -> Payment:
    descriptor, value = anet.state.tokenize_card("4111111111111111", "12", "2030")
    method = Method(MethodKind.CARD, token=Token(descriptor, value))
    sessions = app.extensions["portal.db"].sessions
    with app.app_context():
        with sessions() as s:
            payment = service.start(
                s,
                invoice.customer_id,
                None,
                {invoice.id: amount},
                secrets.token_urlsafe(18),
                method,
            )
            s.commit()
            payment_id = payment.id
        paid = service.charge(sessions, app.extensions["portal.gateway"], payment_id, method)
    assert paid.state is PaymentState.SUCCEEDED
    return paid


def paid_and_written(app: Flask, anet: AnetSandbox, invoice: Invoice) -> Payment:
    payment = pay(app, anet, invoice)
    with app.app_context():
        assert write_back(app).done == 1
    with app.extensions["portal.db"].sessions() as s:
        written = s.get(Payment, payment.id)
        s.expunge(written)
    assert written.qbo_payment_id is not None
    return written


def test_ledgers_that_agree_exit_0_with_a_table_of_the_three(
    app, sandboxes, invoice, reconcile_cli
):
    paid_and_written(app, sandboxes[1], invoice)
    result = reconcile_cli()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert ["portal", "1", "$20.00"] in [line.split() for line in lines]
    assert ["QuickBooks", "1", "$20.00"] in [line.split() for line in lines]
    assert ["processor", "1", "$20.00"] in [line.split() for line in lines]
    assert lines[-1] == "the three ledgers agree"
    assert assert_ledgers_agree(app, strict=True).ok


def test_a_write_back_still_queued_is_waiting_not_a_difference(
    app, sandboxes, invoice, reconcile_cli
):
    payment = pay(app, sandboxes[1], invoice)
    result = reconcile_cli()
    assert result.exit_code == 0, result.output
    assert f"waiting for write-back: portal payment {payment.id}" in result.output
    assert_ledgers_agree(app)
    with pytest.raises(pytest.fail.Exception, match="waiting for write-back"):
        assert_ledgers_agree(app, strict=True)


def test_a_payment_in_quickbooks_twice_exits_1_and_names_both(
    app, sandboxes, invoice, reconcile_cli
):
    payment = paid_and_written(app, sandboxes[1], invoice)
    with app.app_context():
        office = adapter_for(
            app.config["PORTAL_SETTINGS"],
            app.extensions["portal.db"].sessions,
            app.extensions["portal.fernet"],
            REALM,
        )
        customer_qbo_id = db.session().get(Invoice, invoice.id).customer.qbo_id
    again = office.record_payment(
        customer_qbo_id, [], payment.total, payment.gateway_trans_id, invoice.txn_date, "again-1"
    )
    result = reconcile_cli()
    assert result.exit_code == 1, result.output
    assert f"in QuickBooks twice: transaction {payment.gateway_trans_id}" in result.output
    assert f"{payment.qbo_payment_id}, {again.id}" in result.output
    with pytest.raises(pytest.fail.Exception, match="in QuickBooks twice"):
        assert_ledgers_agree(app)


def test_a_charge_the_portal_does_not_know_exits_1(app, sandboxes, invoice, reconcile_cli):
    paid_and_written(app, sandboxes[1], invoice)
    descriptor, value = sandboxes[1].state.tokenize_card("4111111111111111", "12", "2030")
    key = "P" + secrets.token_hex(9).upper()
    stray = app.extensions["portal.gateway"].charge(
        ChargeRequest(
            Decimal("7.50"), key, "not through the portal", "0", token=Token(descriptor, value)
        )
    )
    assert stray.outcome is Outcome.APPROVED
    result = reconcile_cli("--since", "2020-01-01")
    assert result.exit_code == 1, result.output
    assert (
        f"charged but not recorded in the portal: processor transaction {stray.trans_id} "
        f"(key {key}, $7.50" in result.output
    )
    assert ["processor", "2", "$27.50"] in [line.split() for line in result.output.splitlines()]


def test_an_invalid_since_is_a_usage_error():
    result = CliRunner().invoke(main, ["reconcile", "--since", "31/12/2026"])
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output
    assert "%Y-%m-%d" in result.output


def test_the_ledger_check_works_with_the_in_memory_fakes(settings: Settings):
    gateway, qbo = FakeGateway(), FakeAccounting("test")
    qbo.put(rec.customer("1", "Ada"))
    qbo.put(rec.invoice("inv1", "1", "100.00"))
    fakes = create_app({"SETTINGS": settings, "GATEWAY": gateway, "ARGON2_CHEAP": True})
    fakes.extensions["portal.adapter_factory"] = lambda realm: qbo
    sessions = fakes.extensions["portal.db"].sessions
    try:
        with sessions() as s:
            ada = Customer(realm_id="test", qbo_id="1", display_name="Ada", balance=Decimal(100))
            s.add(ada)
            s.flush()
            s.add(
                Invoice(
                    realm_id="test",
                    qbo_id="inv1",
                    customer_id=ada.id,
                    txn_date=date(2026, 1, 1),
                    total_amt=Decimal(100),
                    balance=Decimal(100),
                )
            )
            s.commit()
            ids = (ada.id, s.scalar(sa.select(Invoice.id)))
        method = Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", "t" * 20))
        with fakes.app_context():
            with sessions() as s:
                started = service.start(s, ids[0], None, {ids[1]: "40"}, "k" * 20, method)
                s.commit()
                payment_id = started.id
            service.charge(sessions, gateway, payment_id, method)
            assert write_back(fakes).done == 1
        report = assert_ledgers_agree(fakes, strict=True)
        assert report.counts["QuickBooks"].total == Decimal("40.00")
        gateway.charges.clear()  # the processor forgets the charge
        with pytest.raises(pytest.fail.Exception, match="recorded but not charged"):
            assert_ledgers_agree(fakes)
    finally:
        _wipe(fakes.extensions["portal.db"].engine)
        fakes.extensions["portal.db"].engine.dispose()
