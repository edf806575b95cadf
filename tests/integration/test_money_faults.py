"""The eight ways money was lost or doubled (issue 9), each reproduced with faults injected
into both sandboxes, through the real client libraries; every test ends by reconciling the
portal's payments, QuickBooks (python-quickbooks) and the processor (the authorizenet SDK)."""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from portal import outbox, worker
from portal.accounts.models import PortalUser, Role
from portal.accounts.service import create_user
from portal.admin.credits import issue_credit
from portal.billing.models import Invoice
from portal.config import Settings, load_settings
from portal.db import utcnow
from portal.mail.models import OutboundEmail
from portal.notifications.models import Delivery, Notification
from portal.outbox import OutboxMessage, OutboxStatus
from portal.overdue.fees import FeeRun, apply_late_fees
from portal.overdue.models import LateFee
from portal.payments import service
from portal.payments.models import Payment, PaymentState, SavedMethod
from sandbox.authorizenet import AnetSandbox
from sandbox.qbo import ManualClock, QboSandbox
from sync.accounting import AppliedLine, Throttled
from sync.service import sync_realm, web_adapters
from tests.conftest import PASSWORD, csrf_token, enrol_app, login, write_config
from tests.integration.money_world import *  # noqa: F403  (sandboxes, app, helpers)
from tests.integration.money_world import (
    REALM,
    balance_of,
    card,
    office,
    open_invoices,
    pay,
    qbo_payments,
    recover,
    sessions_of,
    state_of,
)
from tests.ledgers import assert_ledgers_agree

ACCEPT = "COMMON.ACCEPT.INAPP.PAYMENT"
Sandboxes = tuple[QboSandbox, AnetSandbox]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Late fees on (for the fee cases), everything else as configured by default."""
    return load_settings(write_config(tmp_path, database_url, late_fees={"enabled": "true"}))


def drain_until_quiet(app: Flask, rounds: int = 6) -> None:
    """Run the write-back as the worker would, each round past every back-off so far."""
    for _ in range(rounds):
        with sessions_of(app)() as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
            s.commit()
        with app.app_context():
            worker.write_back(app)  # as `portal worker` runs it (admins told of lost authority)


def outbox_rows(app: Flask) -> list[OutboxMessage]:
    with sessions_of(app)() as s:
        rows = list(s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
        return rows


def charges(anet: AnetSandbox, status: str | None = None) -> list[Any]:
    """The processor's transactions (optionally of one status)."""
    return [t for t in anet.state.transactions.values() if status in (None, t.status)]


# --- 1. the same form posted many times at once ---------------------------------------------


def add_login(app: Flask, name: str, role: Role, customer_id: int | None = None) -> PortalUser:
    with app.app_context(), sessions_of(app)() as s:
        user = create_user(
            s,
            app.extensions["portal.account_policy"],
            username=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            role=role,
            customer_id=customer_id,
        )
        if role is not Role.CUSTOMER:
            s.flush()
            enrol_app(s, user)  # staff must have a second factor
        s.commit()
        return user


def customer_login(app: Flask, invoice: Invoice, name: str = "ada") -> PortalUser:
    return add_login(app, name, Role.CUSTOMER, invoice.customer_id)


def clients_of(app: Flask, count: int) -> tuple[list[FlaskClient], str, str]:
    """`count` clients sharing one logged-in session (tabs, retries), its CSRF token and the
    pay page's idempotency key."""
    first = app.test_client()
    login(first, "ada")
    page = first.get("/pay").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    token = csrf_token(first, "/pay")
    cookie = first.get_cookie("portal_session")
    assert cookie is not None
    clients = []
    for _ in range(count):
        c = app.test_client()
        c.set_cookie("portal_session", cookie.value)
        clients.append(c)
    return clients, token, key.group(1)


def post_all(clients: list[FlaskClient], forms: list[MultiDict]) -> list[Any]:
    """Post each form from its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def post(i: int) -> None:
        barrier.wait()
        answers[i] = clients[i].post("/pay", data=forms[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def pay_form(csrf: str, key: str, invoice: Invoice, amount: str, **method: str) -> MultiDict:
    return MultiDict(
        {
            "csrf_token": csrf,
            "idempotency_key": key,
            "invoice": str(invoice.id),
            f"amount-{invoice.id}": amount,
            **method,
        }
    )


def one_time_token(anet: AnetSandbox) -> dict[str, str]:
    _descriptor, value = anet.state.tokenize_card("4111111111111111", "12", "2030")
    return {"method": "card", "opaque_descriptor": ACCEPT, "opaque_value": value}


def test_16_simultaneous_posts_of_one_card_form_charge_once(app: Flask, sandboxes: Sandboxes):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    customer_login(app, invoice)
    clients, csrf, key = clients_of(app, 16)
    anet.state.faults.hang_after_charge(seconds=0.3)  # the first charge is slow: the others pile up
    form = pay_form(csrf, key, invoice, "20.00", **one_time_token(anet))
    answers = post_all(clients, [form] * 16)
    assert all(a is not None and a.status_code == 303 for a in answers), [
        a.status_code for a in answers
    ]
    assert {a.headers["Location"] for a in answers} == {answers[0].headers["Location"]}
    assert len(charges(anet)) == 1
    with sessions_of(app)() as s:
        [payment] = s.scalars(sa.select(Payment)).all()
        assert payment.state is PaymentState.SUCCEEDED
        receipts = sa.select(sa.func.count()).select_from(Delivery).join(Notification)
        assert s.scalar(receipts.where(Notification.kind == "receipt")) == 1  # one receipt
    assert balance_of(app, invoice.id) == invoice.balance - Decimal("20.00")
    assert len(outbox_rows(app)) == 1
    drain_until_quiet(app)
    assert len(qbo_payments(app, payment.gateway_trans_id)) == 1
    assert_ledgers_agree(app, strict=True)


def test_16_simultaneous_posts_with_a_saved_method_charge_once(app: Flask, sandboxes: Sandboxes):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    customer_login(app, invoice)
    clients, csrf, key = clients_of(app, 16)
    first = pay_form(csrf, key, invoice, "5.00", save_method="1", **one_time_token(anet))
    assert clients[0].post("/pay", data=first).status_code == 303
    with sessions_of(app)() as s:
        method_id = s.scalar(sa.select(SavedMethod.id))
    again = clients[0].get("/pay").get_data(as_text=True)
    key2 = re.search(r'name="idempotency_key" value="([^"]+)"', again)
    assert key2 is not None and method_id is not None
    form = pay_form(csrf, key2.group(1), invoice, "7.00", method=f"saved-{method_id}")
    anet.state.faults.hang_after_charge(seconds=0.3)
    answers = post_all(clients, [form] * 16)
    assert [a.status_code for a in answers] == [303] * 16
    assert sorted(t.amount for t in charges(anet)) == [Decimal("5.00"), Decimal("7.00")]
    drain_until_quiet(app)
    assert_ledgers_agree(app, strict=True)


def test_16_simultaneous_payments_of_one_invoice_with_different_keys_charge_it_once(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    customer_login(app, invoice)
    clients, csrf, _key = clients_of(app, 16)
    forms = [
        pay_form(
            csrf, secrets.token_urlsafe(18), invoice, str(invoice.balance), **one_time_token(anet)
        )
        for _ in range(16)
    ]
    answers = post_all(clients, forms)
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] + [400] * 15, codes
    assert len(charges(anet)) == 1
    assert balance_of(app, invoice.id) == 0
    drain_until_quiet(app)
    assert_ledgers_agree(app, strict=True)


def test_a_late_answer_can_never_replace_the_first_attempts_answer(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    paid = pay(app, anet, invoice, Decimal("20.00"))
    assert paid.state is PaymentState.SUCCEEDED
    # a second request for the same payment, and recovery, both arrive after the answer
    with sessions_of(app)() as s:
        payment = s.get(Payment, paid.id)
        assert payment is not None
        refused = service.ChargeResult(service.Outcome.DECLINED, message="token already used")
        assert not service.record(s, payment, refused)
        s.rollback()
    assert recover(app) == 0
    assert state_of(app, paid.id).state is PaymentState.SUCCEEDED
    drain_until_quiet(app)
    assert len(qbo_payments(app, paid.gateway_trans_id)) == 1
    assert_ledgers_agree(app, strict=True)


# --- 2. a batch answer lost, then the retry answered 401/403 --------------------------------


@pytest.mark.parametrize("refusal", ["403", "revoked"])
def test_a_lost_batch_answer_then_a_refused_retry_keeps_the_batch_identity(
    app: Flask, sandboxes: Sandboxes, refusal: str
):
    qbo, anet = sandboxes
    paid = [pay(app, anet, inv, Decimal("11.00")) for inv in open_invoices(app)[:3]]
    qbo.state.faults.lose_next_answers(1)  # QuickBooks applies the batch; the answer is lost
    drain_until_quiet(app, rounds=1)
    assert {m.batch_key for m in outbox_rows(app)} != {None}
    if refusal == "403":
        qbo.state.faults.forbid_next(1)
    else:
        qbo.state.faults.expire_access_tokens()
        qbo.state.faults.revoke_refresh_tokens()
    drain_until_quiet(app, rounds=2)
    rows = outbox_rows(app)
    assert all(m.status is OutboxStatus.PENDING and m.batch_key for m in rows)
    with app.app_context():  # an admin connects QuickBooks again
        from portal import demo as demo_env

        demo_env.connect(app, app.config["PORTAL_SETTINGS"])
    drain_until_quiet(app)
    assert all(m.status is OutboxStatus.DONE for m in outbox_rows(app))
    for payment in paid:
        assert len(qbo_payments(app, state_of(app, payment.id).gateway_trans_id)) == 1
    assert_ledgers_agree(app, strict=True)


def test_a_parked_batch_member_retried_alone_adopts_the_payment_quickbooks_has(
    app: Flask, sandboxes: Sandboxes
):
    qbo, anet = sandboxes
    paid = [pay(app, anet, inv, Decimal("12.00")) for inv in open_invoices(app)[:2]]
    qbo.state.faults.lose_next_answers(1)
    drain_until_quiet(app, rounds=1)
    with sessions_of(app)() as s:  # parked as if the retries ran out
        s.execute(sa.update(OutboxMessage).values(status=OutboxStatus.PARKED))
        s.commit()
        first = s.scalars(sa.select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
        assert first is not None and outbox.retry(s, first)
        s.commit()
    drain_until_quiet(app)
    rows = outbox_rows(app)
    assert [m.status for m in rows] == [OutboxStatus.DONE, OutboxStatus.PARKED]  # only that one
    assert len(qbo_payments(app, state_of(app, paid[0].id).gateway_trans_id)) == 1


# --- 3. recovery after a weekend, among many transactions -----------------------------------


def test_a_lost_answer_settled_over_a_weekend_is_recovered_as_charged(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    clock = ManualClock(utcnow() - timedelta(days=4))
    anet.state.clock = clock
    invoice = open_invoices(app)[0]
    anet.state.faults.drop_after_charge()
    lost = pay(app, anet, invoice, Decimal("20.00"))
    assert lost.state is PaymentState.UNKNOWN
    with sessions_of(app)() as s:  # the attempt was made when the processor says it was
        s.execute(sa.update(Payment).values(created_at=clock(), updated_at=clock()))
        s.commit()
    clock.advance(hours=20)
    assert anet.state.settle()  # Friday night's batch; recovery runs on Monday
    assert recover(app) == 1
    found = state_of(app, lost.id)
    assert found.state is PaymentState.SUCCEEDED and found.gateway_trans_id
    drain_until_quiet(app)
    assert len(qbo_payments(app, found.gateway_trans_id)) == 1
    assert_ledgers_agree(app, strict=True)


def test_a_lost_answer_behind_a_thousand_other_charges_is_found(app: Flask, sandboxes: Sandboxes):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    for n in range(1100):  # the office's own card traffic today, before ours
        anet.state.seed_charge(Decimal("1.00") + n, invoice_number=f"OFFICE{n}")
    anet.state.faults.drop_after_charge()
    lost = pay(app, anet, invoice, Decimal("20.00"))
    assert lost.state is PaymentState.UNKNOWN
    assert recover(app) == 1  # on the second page of the unsettled list
    assert state_of(app, lost.id).state is PaymentState.SUCCEEDED
    drain_until_quiet(app)
    assert len(qbo_payments(app, state_of(app, lost.id).gateway_trans_id)) == 1


# --- 4. a sync never brings back money already paid -----------------------------------------


def test_an_invoice_edited_in_quickbooks_before_the_write_back_stays_paid(
    app: Flask, sandboxes: Sandboxes
):
    qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    paid = pay(app, anet, invoice, invoice.balance)
    assert balance_of(app, invoice.id) == 0
    company = qbo.state.companies[REALM]
    with qbo.state.lock:  # the bookkeeper edits the memo: a new SyncToken, the old balance
        row = company.rows["Invoice"][invoice.qbo_id]
        row["PrivateNote"] = "called about this one"
        company.stamp("Invoice", row, "Update")
    with app.app_context():
        assert sync_realm(app, REALM).error is None
    assert balance_of(app, invoice.id) == 0
    with sessions_of(app)() as s, pytest.raises(service.PaymentRefused):
        service.start(s, invoice.customer_id, None, {invoice.id: "1.00"}, "k" * 20, card(anet))
    drain_until_quiet(app)
    with app.app_context():
        assert sync_realm(app, REALM).error is None
    assert balance_of(app, invoice.id) == 0
    assert len(qbo_payments(app, state_of(app, paid.id).gateway_trans_id)) == 1
    assert_ledgers_agree(app, strict=True)


# --- 5. a payment that covers a late fee lands after the fee --------------------------------


def overdue_invoice(app: Flask) -> Invoice:
    with sessions_of(app)() as s:
        invoice = s.scalars(
            sa.select(Invoice)
            .where(Invoice.balance > 0, ~Invoice.voided, Invoice.due_date.is_not(None))
            .order_by(Invoice.due_date, Invoice.id)
        ).first()
        assert invoice is not None
        s.expunge(invoice)
        return invoice


def charge_late_fees(app: Flask, invoice: Invoice) -> FeeRun:
    """The fee job, run on a day well past the invoice's due date."""
    assert invoice.due_date is not None
    with app.app_context():
        return apply_late_fees(
            sessions_of(app), app.config["PORTAL_SETTINGS"], invoice.due_date + timedelta(days=40)
        )


def test_a_payment_covering_a_fresh_late_fee_is_written_after_the_fee(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = overdue_invoice(app)
    assert charge_late_fees(app, invoice).added >= 1
    owed = balance_of(app, invoice.id)
    paid = pay(app, anet, invoice, owed)  # within seconds of the fee, before any drain
    assert paid.state is PaymentState.SUCCEEDED
    drain_until_quiet(app)
    [written] = qbo_payments(app, state_of(app, paid.id).gateway_trans_id)
    assert written.unapplied == 0 and written.total == owed
    assert office(app).get_invoice(invoice.qbo_id).balance == 0
    assert state_of(app, paid.id).review_note is None
    assert_ledgers_agree(app, strict=True)


# --- 6. parked write-backs that no retry could fix ------------------------------------------


def void_in_quickbooks(qbo: QboSandbox, invoice: Invoice, how: str = "void") -> None:
    """The bookkeeper voids (or deletes) the invoice in QuickBooks."""
    from sandbox.qbo import writes

    company = qbo.state.companies[REALM]
    with qbo.state.lock:
        row = company.rows["Invoice"][invoice.qbo_id]
        action = writes.void if how == "void" else writes.delete
        action(company, "Invoice", {"Id": row["Id"], "SyncToken": row["SyncToken"]})


@pytest.mark.parametrize("how", ["void", "delete"])
def test_a_payment_for_an_invoice_voided_meanwhile_is_written_unapplied_and_flagged(
    app: Flask, sandboxes: Sandboxes, how: str
):
    qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    paid = pay(app, anet, invoice, Decimal("20.00"))
    void_in_quickbooks(qbo, invoice, how)
    drain_until_quiet(app)
    assert [m.status for m in outbox_rows(app)] == [OutboxStatus.DONE]
    [written] = qbo_payments(app, state_of(app, paid.id).gateway_trans_id)
    assert written.total == Decimal("20.00") and written.unapplied == Decimal("20.00")
    assert "left unapplied" in (state_of(app, paid.id).review_note or "")
    assert_ledgers_agree(app, strict=True)


def test_a_credit_whose_invoice_was_paid_meanwhile_is_kept_as_credit_not_parked(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, _anet = sandboxes
    invoice = open_invoices(app)[0]
    with app.app_context(), sessions_of(app)() as s:
        issue_credit(s, invoice.customer_id, invoice.id, "10.00", "goodwill", None)
        s.commit()
    books = office(app)
    customer_qbo = books.get_invoice(invoice.qbo_id).customer_id
    books.record_payment(  # the office takes a cheque for the whole invoice first
        customer_qbo,
        [AppliedLine("Invoice", invoice.qbo_id, invoice.balance)],
        invoice.balance,
        "cheque 12",
        invoice.txn_date,
        "office-cheque-12",
    )
    drain_until_quiet(app)
    [message] = outbox_rows(app)
    assert message.status is OutboxStatus.DONE and (message.result_ref or "").endswith("unapplied")


def test_a_late_fee_meeting_office_edits_is_written_and_stays_in_the_balance_meanwhile(
    app: Flask, sandboxes: Sandboxes
):
    qbo, _anet = sandboxes
    invoice = overdue_invoice(app)
    charge_late_fees(app, invoice)
    owed = balance_of(app, invoice.id)
    qbo.state.faults.forbid_next(1)  # the first drain cannot write: the fee waits ...
    drain_until_quiet(app, rounds=1)
    assert {m.status for m in outbox_rows(app)} == {OutboxStatus.PENDING}
    with app.app_context():  # ... QuickBooks is connected again, and a sync meanwhile ...
        from portal import demo as demo_env

        demo_env.connect(app, app.config["PORTAL_SETTINGS"])
        assert sync_realm(app, REALM).error is None
    assert balance_of(app, invoice.id) == owed  # ... keeps the fee in the balance
    qbo.state.faults.edit_before_next_writes(2)  # edited twice between our read and write
    drain_until_quiet(app)
    fee_rows = outbox_rows(app)
    assert all(m.status is OutboxStatus.DONE for m in fee_rows)
    with sessions_of(app)() as s:
        assert all(f.written_at for f in s.scalars(sa.select(LateFee)))
    assert office(app).get_invoice(invoice.qbo_id).balance == owed
    with app.app_context():
        assert sync_realm(app, REALM).error is None
    assert balance_of(app, invoice.id) == owed


def test_a_late_fee_on_an_invoice_voided_meanwhile_is_settled_not_parked(
    app: Flask, sandboxes: Sandboxes
):
    qbo, _anet = sandboxes
    invoice = overdue_invoice(app)
    charge_late_fees(app, invoice)
    void_in_quickbooks(qbo, invoice)
    with app.app_context():
        assert sync_realm(app, REALM).error is None
    drain_until_quiet(app)
    rows = outbox_rows(app)
    assert all(m.status is OutboxStatus.DONE for m in rows)
    with sessions_of(app)() as s:
        fee = s.scalars(sa.select(LateFee).where(LateFee.invoice_id == invoice.id)).one()
    [voided] = [m for m in rows if m.id == fee.outbox_id]
    assert voided.result_ref == "not added: invoice voided"
    assert balance_of(app, invoice.id) == 0


# --- 7. a revoked refresh token pauses, it does not park ------------------------------------


def test_a_revoked_refresh_token_pauses_the_outbox_until_reconnected(
    app: Flask, sandboxes: Sandboxes
):
    qbo, anet = sandboxes
    add_login(app, "boss", Role.ADMIN)
    invoices = open_invoices(app, minimum="3")
    paid = [pay(app, anet, invoices[i % len(invoices)], Decimal("1.00")) for i in range(35)]
    qbo.state.faults.expire_access_tokens()
    qbo.state.faults.revoke_refresh_tokens()
    drain_until_quiet(app, rounds=3)
    rows = outbox_rows(app)
    assert [m.status for m in rows] == [OutboxStatus.PENDING] * 35  # none parked
    with sessions_of(app)() as s:
        mails = s.scalars(
            sa.select(OutboundEmail).where(OutboundEmail.dedupe_key.like("reconnect:%"))
        ).all()
        assert len(mails) == 1  # once, however many drains
    staff = app.test_client()
    login(staff, "boss")
    page = staff.get("/admin/payments").get_data(as_text=True)
    assert "Reconnect QuickBooks" in page
    with app.app_context():
        from portal import demo as demo_env

        demo_env.connect(app, app.config["PORTAL_SETTINGS"])
    drain_until_quiet(app)
    assert all(m.status is OutboxStatus.DONE for m in outbox_rows(app))
    for payment in paid:
        assert len(qbo_payments(app, state_of(app, payment.id).gateway_trans_id)) == 1
    assert "Reconnect QuickBooks" not in staff.get("/admin/payments").get_data(as_text=True)
    assert_ledgers_agree(app, strict=True)


# --- 8. a decline whose answer was lost -----------------------------------------------------


def test_a_decline_whose_answer_was_lost_is_settled_as_declined_at_once(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    anet.state.faults.decline_next()
    anet.state.faults.drop_after_charge()
    lost = pay(app, anet, invoice, Decimal("20.00"))
    assert lost.state is PaymentState.UNKNOWN
    assert recover(app) == 1  # the next run, not half an hour later
    declined = state_of(app, lost.id)
    assert declined.state is PaymentState.DECLINED and declined.gateway_trans_id
    assert "no record" not in (declined.decline_reason or "")
    assert balance_of(app, invoice.id) == invoice.balance
    again = pay(app, anet, invoice, Decimal("20.00"))  # the invoice is free to pay again
    assert again.state is PaymentState.SUCCEEDED
    drain_until_quiet(app)
    assert_ledgers_agree(app, strict=True)


# --- the web path never waits like the worker ------------------------------------------------


def test_a_pdf_asked_for_in_a_request_fails_at_once_when_quickbooks_throttles(
    app: Flask, sandboxes: Sandboxes
):
    qbo, _anet = sandboxes
    invoice = open_invoices(app)[0]
    patient = dataclasses.replace(
        app.config["PORTAL_SETTINGS"].quickbooks, max_retries=2, throttle_wait_seconds=1
    )
    app.config["PORTAL_SETTINGS"] = dataclasses.replace(
        app.config["PORTAL_SETTINGS"], quickbooks=patient
    )
    qbo.state.faults.throttle_limit = 0  # every call answers 429
    with app.app_context():
        adapter = web_adapters(app)(REALM)
        with pytest.raises(Throttled):  # typed: the caller need not read fault codes
            adapter.invoice_pdf(invoice.qbo_id)
    assert adapter.calls == 1  # one try: no retry, no wait (the worker would try 3 times)


def test_a_credit_on_an_invoice_voided_meanwhile_stays_on_the_account_not_parked(
    app: Flask, sandboxes: Sandboxes
):
    qbo, _anet = sandboxes
    invoice = open_invoices(app)[0]
    with app.app_context(), sessions_of(app)() as s:
        issue_credit(s, invoice.customer_id, invoice.id, "10.00", "goodwill", None)
        s.commit()
    void_in_quickbooks(qbo, invoice)
    drain_until_quiet(app)
    [message] = outbox_rows(app)
    assert message.status is OutboxStatus.DONE and (message.result_ref or "").endswith("unapplied")


# --- staff close what the processor never saw ---------------------------------------------


def staff_client(app: Flask) -> FlaskClient:
    add_login(app, "boss", Role.ADMIN)
    staff = app.test_client()
    login(staff, "boss")
    return staff


def age(app: Flask, payment_id: int, **values: object) -> None:
    """Make the attempt older than the wait after which staff may settle it."""
    with sessions_of(app)() as s:
        s.execute(
            sa.update(Payment)
            .where(Payment.id == payment_id)
            .values(created_at=utcnow() - service.GIVE_UP_AFTER * 2, **values)
        )
        s.commit()


def settle_from_the_page(staff: FlaskClient, payment_id: int) -> str:
    """Ask, confirm, and return the payments page the admin lands on."""
    path = f"/admin/payments/{payment_id}/settle"
    page = staff.get("/admin/payments").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)  # the log-out form's token
    assert found is not None
    token = found.group(1)
    asked = staff.post(path, data={"csrf_token": token})
    assert asked.status_code == 200 and "Settle this payment?" in asked.get_data(as_text=True)
    done = staff.post(path, data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 302
    return staff.get("/admin/payments").get_data(as_text=True)


def test_staff_close_an_attempt_the_processor_never_saw_and_the_invoice_is_free_again(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    anet.state.faults.hang_next(before_charge=True, seconds=3)  # never reaches the processor
    lost = pay(app, anet, invoice, Decimal("20.00"))
    anet.state.faults.release()
    staff = staff_client(app)
    assert "Too early" in settle_from_the_page(staff, lost.id)
    assert state_of(app, lost.id).state is PaymentState.UNKNOWN
    age(app, lost.id)
    assert recover(app) == 0  # the job only flags it
    settle_from_the_page(staff, lost.id)
    closed = state_of(app, lost.id)
    assert closed.state is PaymentState.DECLINED and "checked by boss" in (
        closed.decline_reason or ""
    )
    again = pay(app, anet, invoice, Decimal("20.00"))
    assert again.state is PaymentState.SUCCEEDED
    drain_until_quiet(app)
    assert_ledgers_agree(app, strict=True)


def test_settling_a_charge_the_processor_has_makes_it_succeeded_not_declined(
    app: Flask, sandboxes: Sandboxes
):
    _qbo, anet = sandboxes
    invoice = open_invoices(app)[0]
    anet.state.faults.drop_after_charge()
    lost = pay(app, anet, invoice, Decimal("20.00"))
    age(app, lost.id, review_note="Needs review")
    settle_from_the_page(staff_client(app), lost.id)
    assert state_of(app, lost.id).state is PaymentState.SUCCEEDED  # the processor's word wins
    drain_until_quiet(app)
    assert_ledgers_agree(app, strict=True)
