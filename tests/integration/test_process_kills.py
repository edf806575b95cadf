"""Exactly-once money across real process deaths (issue 9): a `portal worker` killed while
its batch is in flight to QuickBooks, and a gunicorn worker killed while the processor
holds the answer to a charge it made. Both sandboxes run in this process, on loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from portal import demo as demo_env
from portal.accounts.models import Role
from portal.accounts.service import create_user
from portal.billing.models import Invoice
from portal.config import Settings
from portal.db import utcnow
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.gateway import Token
from portal.payments.models import MethodKind, Payment, PaymentState
from portal.payments.service import Method
from sandbox.authorizenet import AnetSandbox
from sync.accounting import Entity, PaymentRecord
from sync.quickbooks.connection import adapter_for
from sync.service import write_back
from tests.conftest import PASSWORD
from tests.integration.money_world import connected_app
from tests.ledgers import assert_ledgers_agree
from tests.processes import (
    PortalProcess,
    RecordingQboSandbox,
    free_port,
    gone,
    listening,
    process_config,
    start_recording_qbo,
    wait_for,
)

REALM = demo_env.DEMO_REALM
CARD = ("4111111111111111", "12", "2030")
# QuickBooks takes this long over each call while a worker is to die mid-call: long enough to
# kill it before the answer, short enough that the orphaned batch lands soon after.
LATENCY_SECONDS = 1.0
# `portal worker --once` runs the sync (slowed down by the latency too), then the write-back.
FIRST_WRITE_BACK_WITHIN = 30.0


@pytest.fixture
def sandboxes() -> Iterator[tuple[RecordingQboSandbox, AnetSandbox]]:
    qbo = start_recording_qbo(customers=5, invoices=100)
    qbo.state.faults.throttle_limit = None
    anet = demo_env.start_anet(0)
    yield qbo, anet
    anet.state.faults.release()
    anet.stop()
    qbo.stop()


@pytest.fixture
def wired(settings: Settings, sandboxes: tuple[RecordingQboSandbox, AnetSandbox]) -> Settings:
    """The test's settings pointed at the sandboxes (the subprocesses get the same)."""
    qbo, anet = sandboxes
    wired = demo_env.sandbox_settings(settings, qbo, anet)
    return dataclasses.replace(
        wired, quickbooks=dataclasses.replace(wired.quickbooks, throttle_wait_seconds=0)
    )


@pytest.fixture
def app(wired: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The portal in this process, connected to the QuickBooks sandbox and mirrored."""
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")
    with connected_app(wired) as application:
        yield application


@pytest.fixture
def spawn(tmp_path: Path, wired: Settings) -> Iterator[Callable[..., PortalProcess]]:
    """Start `portal <args>` configured like the app; every one is stopped afterwards."""
    config = process_config(tmp_path, wired)
    started: list[PortalProcess] = []

    def start(*args: str) -> PortalProcess:
        started.append(PortalProcess(config, *args))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A customer's browser (cookies kept), closed afterwards."""
    with requests.Session() as session:
        yield session


# --- helpers ----------------------------------------------------------------------------------


def open_invoices(app: Flask, at_least: str) -> list[Invoice]:
    with app.extensions["portal.db"].sessions() as s:
        rows = list(
            s.scalars(
                sa.select(Invoice)
                .where(Invoice.balance >= Decimal(at_least), ~Invoice.voided, ~Invoice.deleted)
                .order_by(Invoice.id)
            )
        )
        s.expunge_all()
        return rows


def pay(app: Flask, anet: AnetSandbox, invoice: Invoice, amount: Decimal) -> Payment:
    """One portal payment through the real service and the processor sandbox."""
    method = Method(MethodKind.CARD, token=Token(*anet.state.tokenize_card(*CARD)))
    sessions = app.extensions["portal.db"].sessions
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


def quickbooks_payments(app: Flask) -> list[PaymentRecord]:
    """Every Payment in the QuickBooks company, read through the real adapter."""
    with app.app_context():
        adapter = adapter_for(
            app.config["PORTAL_SETTINGS"],
            app.extensions["portal.db"].sessions,
            app.extensions["portal.fernet"],
            REALM,
        )
        rows = [row for page in adapter.pages(Entity.PAYMENT) for row in page]
    return [row for row in rows if isinstance(row, PaymentRecord)]


def portal_payments(app: Flask) -> list[Payment]:
    with app.extensions["portal.db"].sessions() as s:
        rows = list(s.scalars(sa.select(Payment).order_by(Payment.id)))
        s.expunge_all()
        return rows


def outbox(app: Flask) -> list[OutboxMessage]:
    with app.extensions["portal.db"].sessions() as s:
        rows = list(s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
        return rows


def assert_each_written_once(app: Flask, payments: list[Payment]) -> None:
    """Each portal payment is exactly one QuickBooks Payment (PaymentRefNum = transaction id),
    the one the portal recorded, for the same amount."""
    ours = {p.gateway_trans_id: p for p in payments}
    written = [r for r in quickbooks_payments(app) if r.reference in ours]
    counts = Counter(r.reference for r in written)
    assert {ref: n for ref, n in counts.items() if n != 1} == {}, "written more than once"
    assert set(counts) == set(ours), "a payment never reached QuickBooks"
    for record in written:
        payment = ours[record.reference]
        assert (record.id, record.total) == (payment.qbo_payment_id, payment.total)


def form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]+)"', page)
    assert match, f"no {name} on the page"
    return match.group(1)


# --- a `portal worker` killed mid-drain -------------------------------------------------------


def test_a_worker_killed_mid_drain_writes_each_payment_to_quickbooks_exactly_once(
    app, sandboxes, spawn
):
    qbo, anet = sandboxes
    invoices = open_invoices(app, at_least="6.00")
    assert len(invoices) >= 10  # at most 4 payments of under $1.40 each
    for k in range(40):  # more than one batch of 30
        paid = pay(app, anet, invoices[k % len(invoices)], Decimal("1.00") + Decimal(k) / 100)
        assert paid.state is PaymentState.SUCCEEDED
    qbo.state.faults.latency_seconds = LATENCY_SECONDS  # a batch call stays in flight a while
    worker = spawn("worker", "--once")
    [batch] = wait_for(
        lambda: qbo.received.matching("POST", "/batch"),
        "the worker's first batch call to reach QuickBooks",
        timeout=FIRST_WRITE_BACK_WITHIN,
        detail=worker.output,
    )
    assert worker.kill() == -signal.SIGKILL
    payments = portal_payments(app)
    assert len(json.loads(batch.body)["BatchItemRequest"]) == 30
    qbo.state.faults.latency_seconds = 0

    # QuickBooks carries out the batch the dead worker sent; nobody hears its answer.
    key = batch.query["requestid"][0]
    wait_for(lambda: (REALM, key) in qbo.state.idempotency, "QuickBooks to finish the batch")
    claimed = [m for m in outbox(app) if m.batch_key == key]
    assert len(claimed) == 30
    assert all(m.status is OutboxStatus.PENDING and m.attempts == 1 for m in claimed)
    assert all(m.status is OutboxStatus.PENDING for m in outbox(app))
    landed = {r.reference for r in quickbooks_payments(app)}
    assert sum(p.gateway_trans_id in landed for p in payments) == 30

    # The dead worker's claim runs out (moved back instead of waiting two minutes).
    with app.extensions["portal.db"].sessions() as s:
        s.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.batch_key == key)
            .values(next_attempt_at=OutboxMessage.created_at)
        )
        s.commit()
    with app.app_context():
        assert write_back(app).done == 40
        assert write_back(app).done == 0
    assert all(m.status is OutboxStatus.DONE for m in outbox(app))
    assert len(qbo.received.matching("POST", "/batch")) == 3  # the resend replayed, + 10 new
    assert_each_written_once(app, portal_payments(app))
    assert_ledgers_agree(app, strict=True)


# --- a gunicorn worker killed mid-charge ------------------------------------------------------


def test_a_gunicorn_worker_killed_mid_charge_charges_once_and_recovery_settles_it(
    app, sandboxes, spawn, browser
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app, at_least="20.00")[0]
    with app.app_context(), app.extensions["portal.db"].sessions() as s:
        create_user(
            s,
            app.extensions["portal.account_policy"],
            username="payer",
            email="payer@example.com",
            password=PASSWORD,
            role=Role.CUSTOMER,
            customer_id=invoice.customer_id,
        )
        s.commit()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn("run", "--port", str(port), "--workers", "1")
    wait_for(lambda: listening(port), "gunicorn to listen", timeout=15, detail=server.output)
    login = browser.get(f"{base}/login", timeout=15)  # answered once its worker is up
    assert login.status_code == 200, server.output()
    answer = browser.post(
        f"{base}/login",
        data={
            "identifier": "payer",
            "password": PASSWORD,
            "csrf_token": form_value(login.text, "csrf_token"),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), server.output()
    page = browser.get(f"{base}/pay", timeout=10)
    assert page.status_code == 200 and f'value="{invoice.id}"' in page.text
    descriptor, value = anet.state.tokenize_card(*CARD)
    form = {
        "csrf_token": form_value(page.text, "csrf_token"),
        "idempotency_key": form_value(page.text, "idempotency_key"),
        "opaque_descriptor": descriptor,
        "opaque_value": value,
        "method": "card",
        "invoice": str(invoice.id),
        f"amount-{invoice.id}": "20.00",
    }
    anet.state.faults.hang_next(before_charge=False, seconds=15)  # charged, answer held
    posted: dict[str, Any] = {}

    def submit() -> None:
        try:
            posted["response"] = browser.post(f"{base}/pay", data=form, timeout=20)
        except requests.RequestException as exc:
            posted["error"] = exc

    customer = threading.Thread(target=submit, name="customer", daemon=True)
    customer.start()
    wait_for(lambda: anet.state.transactions, "the processor to make the charge")
    [worker_pid] = server.children()
    os.kill(worker_pid, signal.SIGKILL)
    wait_for(lambda: gone(worker_pid), "the gunicorn worker to die")
    anet.state.faults.release()
    customer.join(timeout=10)
    assert not customer.is_alive()
    assert isinstance(posted.get("error"), requests.ConnectionError), posted

    [payment] = portal_payments(app)
    assert payment.state is PaymentState.PENDING and payment.gateway_trans_id is None
    with app.extensions["portal.db"].sessions() as s:  # the dead request is old news now
        s.execute(
            sa.update(Payment)
            .where(Payment.id == payment.id)
            .values(updated_at=utcnow() - 2 * service.STALE_PENDING)
        )
        s.commit()
    with app.app_context():
        sessions, gateway = app.extensions["portal.db"].sessions, app.extensions["portal.gateway"]
        assert service.recover(sessions, gateway) == 1
    [charge] = anet.state.transactions.values()
    [settled] = portal_payments(app)
    assert settled.state is PaymentState.SUCCEEDED
    assert (settled.gateway_trans_id, settled.total) == (charge.trans_id, Decimal("20.00"))
    assert charge.invoice_number == settled.gateway_key
    again = browser.post(f"{base}/pay", data=form, allow_redirects=False, timeout=15)
    assert again.status_code == 303, server.output()
    assert again.headers["Location"].endswith(f"/payments/{settled.id}")
    assert len(anet.state.transactions) == 1  # the same form again charges nothing more
    with app.app_context():
        assert write_back(app).done == 1
    assert_each_written_once(app, portal_payments(app))
    assert_ledgers_agree(app, strict=True)
