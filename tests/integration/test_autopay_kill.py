"""Autopay across a real process death: `portal worker --once` SIGKILLed while the processor
holds the answer to an autopay charge, then a new worker; each customer is charged once and
the three ledgers agree. Both sandboxes run in this process, on loopback."""

from __future__ import annotations

import dataclasses
import signal
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.autopay import service as autopay
from portal.autopay.amounts import autopay_amounts
from portal.autopay.models import AutopayEnrollment, ChargeRun, Consent, RunState, Source
from portal.clock import app_today
from portal.db import utcnow
from portal.payments.models import Payment, PaymentState, SavedMethod
from sandbox.authorizenet import AnetSandbox
from sync.service import write_back
from tests.integration.money_world import card, pay
from tests.integration.test_process_kills import (  # noqa: F401  (fixtures)
    app,
    open_invoices,
    portal_payments,
    sandboxes,
    spawn,
    wired,
)
from tests.ledgers import assert_ledgers_agree
from tests.processes import wait_for

CUSTOMERS = 3


def enroll_with_saved_cards(app: Flask, anet: AnetSandbox) -> dict[int, Decimal]:  # noqa: F811
    """Three customers save a card by paying $1.00, then turn autopay on (30 days before the
    due date); what autopay will charge each of them."""
    by_customer: dict[int, object] = {}
    for invoice in open_invoices(app, at_least="5.00"):
        by_customer.setdefault(invoice.customer_id, invoice)
    due: dict[int, Decimal] = {}
    for customer_id, invoice in list(by_customer.items()):
        if len(due) == CUSTOMERS:
            break
        saving = dataclasses.replace(card(anet), save=True)
        assert pay(app, anet, invoice, Decimal("1.00"), saving).state is PaymentState.SUCCEEDED
        with app.app_context(), db.transaction() as s:
            method = s.scalar(sa.select(SavedMethod).where(SavedMethod.customer_id == customer_id))
            assert method is not None, "the card was not saved"
            enrollment = autopay.enroll(
                s, customer_id, autopay.Rule(method.id, 30), None, Consent.CUSTOMER
            )
            amounts = autopay_amounts(s, enrollment, app_today(app, s) + timedelta(days=30))
            if amounts:
                due[customer_id] = sum(amounts.values(), Decimal(0))
            else:
                enrollment.active = False
    assert len(due) >= 2, "the seeded company has too few customers with invoices due"
    return due


def test_a_worker_killed_mid_autopay_run_charges_each_customer_once(app, sandboxes, spawn):  # noqa: F811
    _qbo, anet = sandboxes
    due = enroll_with_saved_cards(app, anet)
    before = set(anet.state.transactions)
    anet.state.faults.hang_after_charge(count=1)  # the first autopay charge's answer is held
    worker = spawn("worker", "--once")
    wait_for(
        lambda: len(set(anet.state.transactions) - before) == 1,
        "the worker's first autopay charge to reach the processor",
        timeout=60,
        detail=worker.output,
    )
    assert worker.kill() == -signal.SIGKILL
    anet.state.faults.release()

    with app.app_context():
        sessions = app.extensions["portal.db"].sessions
        with sessions() as s:
            states = Counter(
                s.scalars(
                    sa.select(Payment.state).join(ChargeRun, ChargeRun.payment_id == Payment.id)
                )
            )
            # the dead worker's charge is PENDING; the others were frozen, not sent
            assert states == {PaymentState.PENDING: 1, PaymentState.INIT: len(due) - 1}
            # its process is gone: recovery may ask at once (instead of after two minutes)
            s.execute(
                sa.update(Payment)
                .where(Payment.state == PaymentState.PENDING)
                .values(updated_at=utcnow() - timedelta(minutes=5))
            )
            s.commit()
    again = spawn("worker", "--once")
    wait_for(lambda: not again.alive(), "the second worker to finish", 120, detail=again.output)
    with app.app_context():
        write_back(app)
        with app.extensions["portal.db"].sessions() as s:
            runs = list(s.scalars(sa.select(ChargeRun).where(ChargeRun.source == Source.AUTOPAY)))
            assert sorted(r.customer_id for r in runs) == sorted(due)
            assert all(r.state is RunState.SUCCEEDED and r.attempt == 1 for r in runs)
            enrolled = set(
                s.scalars(sa.select(AutopayEnrollment.customer_id).where(AutopayEnrollment.active))
            )
            assert enrolled == set(due)
    charged = [p for p in portal_payments(app) if p.idempotency_key.startswith("autopay-")]
    assert {p.customer_id: p.total for p in charged} == due
    assert all(p.state is PaymentState.SUCCEEDED for p in charged)
    keys = {p.gateway_key for p in charged}
    at_processor = Counter(
        t.invoice_number for t in anet.state.transactions.values() if t.invoice_number in keys
    )
    assert sorted(at_processor.values()) == [1] * len(due)  # one charge per customer
    assert_ledgers_agree(app, strict=True)
