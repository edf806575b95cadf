"""No lost and no double money, end to end: the real gateway adapter against the
Authorize.Net sandbox, the real QuickBooks adapter against the QuickBooks sandbox, faults
injected on both."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.billing.models import Invoice
from portal.config import Settings
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.models import Payment, PaymentState
from sync.accounting import AppliedLine
from sync.quickbooks.connection import adapter_for
from sync.service import write_back
from tests.integration.money_world import *  # noqa: F403  (the sandboxes fixture)
from tests.integration.money_world import REALM, connected_app, pay, qbo_payments, recover, state_of


@pytest.fixture
def app(settings: Settings, sandboxes, monkeypatch) -> Iterator[Flask]:
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    qbo, anet = sandboxes
    wired = demo_env.sandbox_settings(settings, qbo, anet)
    wired = dataclasses.replace(
        wired,
        authorizenet=dataclasses.replace(wired.authorizenet, timeout_seconds=1),
        quickbooks=dataclasses.replace(wired.quickbooks, throttle_wait_seconds=0),
    )
    with connected_app(wired) as application:
        yield application


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


@pytest.mark.parametrize("fault", ["hang_after_charge", "drop_after_charge"])
def test_a_charge_whose_answer_is_lost_is_recovered_and_written_back_once(
    app, sandboxes, invoice, fault
):
    _qbo, anet = sandboxes
    if fault == "hang_after_charge":
        anet.state.faults.hang_next(before_charge=False, seconds=3)
    else:
        anet.state.faults.drop_after_charge()
    payment = pay(app, anet, invoice, Decimal("20.00"))
    assert payment.state is PaymentState.UNKNOWN
    anet.state.faults.release()
    assert recover(app) == 1
    settled = state_of(app, payment.id)
    assert settled.state is PaymentState.SUCCEEDED
    with app.app_context():
        assert write_back(app).done == 1
        assert write_back(app).done == 0
    assert len(anet.state.transactions) == 1
    assert len(qbo_payments(app, settled.gateway_trans_id)) == 1


def test_a_hang_before_the_charge_charges_nothing_and_writes_nothing(app, sandboxes, invoice):
    _qbo, anet = sandboxes
    anet.state.faults.hang_next(before_charge=True, seconds=3)
    payment = pay(app, anet, invoice, Decimal("20.00"))
    assert payment.state is PaymentState.UNKNOWN
    anet.state.faults.release()
    assert recover(app) == 0  # nothing found
    with app.extensions["portal.db"].sessions() as s:
        s.get(Payment, payment.id).created_at -= service.GIVE_UP_AFTER * 2
        s.commit()
    assert recover(app) == 0  # still nothing: flagged for staff, never declared "not charged"
    stuck = state_of(app, payment.id)
    assert stuck.state is PaymentState.UNKNOWN and "Needs review" in stuck.review_note
    with app.app_context():
        assert db.session().get(Invoice, invoice.id).balance == invoice.balance
        assert write_back(app).done == 0
    assert len(anet.state.transactions) == 0


@pytest.mark.parametrize("fault", ["503", "429"])
def test_quickbooks_failures_during_write_back_are_retried_without_duplicates(
    app, sandboxes, invoice, fault
):
    qbo, anet = sandboxes
    payment = pay(app, anet, invoice, Decimal("20.00"))
    if fault == "503":
        qbo.state.faults.fail_next(count=1, status=503)
    else:
        qbo.state.faults.throttle_limit = 0  # every call is throttled ...
    with app.app_context():
        first = write_back(app)
    if fault == "429":
        assert first.done == 0 and first.retried == 1
        qbo.state.faults.throttle_limit = None  # ... until QuickBooks lets us through
        with app.extensions["portal.db"].sessions() as s:
            row = s.scalar(sa.select(OutboxMessage))
            row.next_attempt_at = row.created_at
            s.commit()
        with app.app_context():
            assert write_back(app).done == 1
    else:
        assert first.done == 1  # retried inside the adapter
    assert len(qbo_payments(app, state_of(app, payment.id).gateway_trans_id)) == 1


def test_the_same_payment_written_back_twice_is_one_quickbooks_payment(app, sandboxes, invoice):
    _qbo, anet = sandboxes
    payment = pay(app, anet, invoice, Decimal("20.00"))
    with app.app_context():
        assert write_back(app).done == 1
    with app.extensions["portal.db"].sessions() as s:  # "done" lost after QuickBooks answered
        row = s.scalar(sa.select(OutboxMessage))
        row.status, row.next_attempt_at = OutboxStatus.PENDING, row.created_at
        s.commit()
    with app.app_context():
        assert write_back(app).done == 1
    assert len(qbo_payments(app, state_of(app, payment.id).gateway_trans_id)) == 1


def test_an_invoice_paid_in_quickbooks_before_submit_leaves_a_credit_not_a_double_payment(
    app, sandboxes, invoice
):
    _qbo, anet = sandboxes
    with app.app_context():
        office = adapter_for(
            app.config["PORTAL_SETTINGS"],
            app.extensions["portal.db"].sessions,
            app.extensions["portal.fernet"],
            REALM,
        )
        customer_qbo_id = db.session().get(Invoice, invoice.id).customer.qbo_id
    office.record_payment(
        customer_qbo_id,
        [AppliedLine("Invoice", invoice.qbo_id, invoice.balance)],
        invoice.balance,
        "cheque 77",
        invoice.txn_date,
        "office-cheque-77",
    )
    payment = pay(app, anet, invoice, invoice.balance)  # the mirror has not seen the cheque
    assert payment.state is PaymentState.SUCCEEDED
    with app.app_context():
        assert write_back(app).done == 1
    [written] = qbo_payments(app, state_of(app, payment.id).gateway_trans_id)
    assert written.total == invoice.balance and written.unapplied == invoice.balance
    assert office.get_invoice(invoice.qbo_id).balance == 0
    assert "left unapplied" in state_of(app, payment.id).review_note
