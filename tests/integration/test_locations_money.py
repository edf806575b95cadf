"""One payment across two service locations, end to end: the real gateway adapter against the
Authorize.Net sandbox, the real QuickBooks adapter (python-quickbooks) against the QuickBooks
sandbox, which takes a parent's Payment linking its locations' invoices as QuickBooks does."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.models import PaymentState
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import QboSandbox
from sandbox.qbo.locations import PARENT_NAME
from sync.accounting import AppliedLine
from sync.service import sync_realm, write_back
from tests.integration.money_world import *  # noqa: F403  (the app fixture)
from tests.integration.money_world import REALM, card, qbo_payments, sessions_of, state_of
from tests.ledgers import assert_ledgers_agree


@pytest.fixture
def sandboxes(settings: Settings) -> Iterator[tuple[QboSandbox, AnetSandbox]]:
    qbo = demo_env.start_sandbox(settings, 0, customers=4, invoices=40, locations=True)
    qbo.state.faults.throttle_limit = None
    qbo.state.faults.batch_throttle_limit = None
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.state.faults.release()
    anet.stop()
    qbo.stop()


def family(app: Flask) -> tuple[Customer, list[Invoice]]:
    """The parent, and the open invoices of its locations (one per location first)."""
    with app.app_context():
        s = db.session()
        parent = s.scalar(sa.select(Customer).where(Customer.display_name == PARENT_NAME))
        assert parent is not None
        rows = list(
            s.scalars(
                sa.select(Invoice)
                .join(Customer)
                .where(Customer.parent_id == parent.id, Invoice.balance > 0)
                .order_by(Invoice.customer_id, Invoice.id)
            )
        )
        s.expunge_all()
    return parent, rows


def test_one_payment_across_two_locations_is_one_quickbooks_payment_linking_both(
    app: Flask, sandboxes
):
    qbo, anet = sandboxes
    parent, invoices = family(app)
    first, second = (
        invoices[0],
        next(i for i in invoices if i.customer_id != invoices[0].customer_id),
    )
    amounts = {first.id: f"{first.balance:.2f}", second.id: "10.00"}
    method = card(anet)
    sessions = sessions_of(app)
    with app.app_context():
        with sessions() as s:
            payment = service.start(s, parent.id, None, amounts, secrets.token_urlsafe(18), method)
            s.commit()
            payment_id = payment.id
        service.charge(sessions, app.extensions["portal.gateway"], payment_id, method)
    paid = state_of(app, payment_id)
    assert paid.state is PaymentState.SUCCEEDED
    assert paid.total == first.balance + Decimal("10.00")
    assert len(anet.state.transactions) == 1  # charged once
    with app.app_context():
        assert write_back(app).done == 1
    with app.extensions["portal.db"].sessions() as s:  # "done" lost after QuickBooks answered
        row = s.scalar(sa.select(OutboxMessage))
        row.status, row.next_attempt_at = OutboxStatus.PENDING, row.created_at
        s.commit()
    with app.app_context():
        assert write_back(app).done == 1  # adopts the Payment QuickBooks has: no second one
    written = qbo_payments(app, paid.gateway_trans_id)
    assert len(written) == 1
    assert written[0].customer_id == parent.qbo_id  # the account: the parent in QuickBooks
    assert sorted(written[0].applied, key=lambda a: a.txn_id) == sorted(
        [
            AppliedLine("Invoice", first.qbo_id, first.balance),
            AppliedLine("Invoice", second.qbo_id, Decimal("10.00")),
        ],
        key=lambda a: a.txn_id,
    )
    company = qbo.state.companies[REALM]
    assert Decimal(company.rows["Invoice"][first.qbo_id]["Balance"]) == 0
    assert Decimal(company.rows["Invoice"][second.qbo_id]["Balance"]) == second.balance - 10
    with app.app_context():
        assert sync_realm(app, REALM).error is None
        s = db.session()
        assert s.get(Invoice, first.id).balance == 0
        assert s.get(Invoice, second.id).balance == second.balance - 10
    assert_ledgers_agree(app, strict=True)
