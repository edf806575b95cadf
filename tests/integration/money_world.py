"""Both sandboxes wired to a real app, for tests that move money end to end: the real gateway
adapter on the Authorize.Net sandbox, the real QuickBooks adapter (python-quickbooks +
intuit-oauth) on the QuickBooks sandbox; faults are injected into the sandboxes only."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.app import create_app
from portal.billing.models import Invoice
from portal.config import Settings
from portal.payments import service
from portal.payments.gateway import Token
from portal.payments.models import MethodKind, Payment
from portal.payments.service import Method
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import QboSandbox
from sync.accounting import Entity, PaymentRecord
from sync.quickbooks import QuickBooksAdapter
from sync.quickbooks.connection import adapter_for
from sync.service import sync_realm
from tests.conftest import _wipe

REALM = demo_env.DEMO_REALM
VISA = "4111111111111111"


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[tuple[QboSandbox, AnetSandbox]]:
    qbo = demo_env.start_sandbox(settings, 0, customers=4, invoices=40)
    qbo.state.faults.throttle_limit = None
    qbo.state.faults.batch_throttle_limit = None
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.state.faults.release()
    anet.stop()
    qbo.stop()


@pytest.fixture
def app(settings: Settings, sandboxes, monkeypatch) -> Iterator[Flask]:
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    qbo, anet = sandboxes
    wired = demo_env.sandbox_settings(settings, qbo, anet)
    wired = dataclasses.replace(
        wired,
        authorizenet=dataclasses.replace(wired.authorizenet, timeout_seconds=1),
        # no waiting in tests: a failed call fails at once (the outbox retries it later)
        quickbooks=dataclasses.replace(wired.quickbooks, throttle_wait_seconds=0, max_retries=0),
    )
    with connected_app(wired) as application:
        yield application


@contextmanager
def connected_app(wired: Settings) -> Iterator[Flask]:
    """The portal on settings pointed at the sandboxes: QuickBooks connected through OAuth and
    mirrored once; its tables wiped afterwards."""
    application = create_app({"SETTINGS": wired, "ARGON2_CHEAP": True})
    with application.app_context():
        demo_env.connect(application, wired)
        assert sync_realm(application, REALM).error is None
    try:
        yield application
    finally:
        _wipe(application.extensions["portal.db"].engine)
        application.extensions["portal.db"].engine.dispose()


def sessions_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["portal.db"].sessions


def open_invoices(app: Flask, minimum: str = "20") -> list[Invoice]:
    """Open, unvoided invoices of more than `minimum`, first one of each customer first."""
    with app.app_context():
        rows = list(
            db.session().scalars(
                sa.select(Invoice)
                .where(Invoice.balance > Decimal(minimum), ~Invoice.voided, ~Invoice.deleted)
                .order_by(Invoice.id)
            )
        )
        db.session().expunge_all()
    return rows


def card(anet: AnetSandbox, number: str = VISA) -> Method:
    descriptor, value = anet.state.tokenize_card(number, "12", "2030")
    return Method(MethodKind.CARD, token=Token(descriptor, value))


def pay(
    app: Flask,
    anet: AnetSandbox,
    invoice: Invoice,
    amount: Decimal,
    method: Method | None = None,
) -> Payment:
    """One payment through the service, as the pay page makes it."""
    method = method or card(anet)
    sessions = sessions_of(app)
    with app.app_context():
        with sessions() as s:
            payment = service.start(
                s,
                invoice.customer_id,
                None,
                {invoice.id: str(amount)},
                secrets.token_urlsafe(18),
                method,
            )
            s.commit()
            payment_id = payment.id
        return service.charge(sessions, app.extensions["portal.gateway"], payment_id, method)


def office(app: Flask) -> QuickBooksAdapter:
    """The real adapter, as the bookkeeper's QuickBooks sees the company."""
    with app.app_context():
        return adapter_for(
            app.config["PORTAL_SETTINGS"],
            sessions_of(app),
            app.extensions["portal.fernet"],
            REALM,
        )


def qbo_payments(app: Flask, reference: str | None = None) -> list[PaymentRecord]:
    rows = [r for page in office(app).pages(Entity.PAYMENT) for r in page]
    return (
        [r for r in rows if isinstance(r, PaymentRecord)]
        if reference is None
        else [r for r in rows if isinstance(r, PaymentRecord) and r.reference == reference]
    )


def recover(app: Flask) -> int:
    with app.app_context():
        return service.recover(sessions_of(app), app.extensions["portal.gateway"])


def state_of(app: Flask, payment_id: int) -> Payment:
    with sessions_of(app)() as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        s.expunge(payment)
        return payment


def balance_of(app: Flask, invoice_id: int) -> Decimal:
    with sessions_of(app)() as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice.balance
