"""A customer saves a new card while paying, turns autopay on with it in a real browser; the
clock moves, the upcoming-charge notice arrives in the mailbox, the worker's run charges the
invoice on its due date, and the bookkeeper finds the payment in QuickBooks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect
from quickbooks.objects.payment import Payment as QboPayment

from portal import db
from portal import demo as demo_env
from portal.autopay.jobs import autopay_run
from portal.autopay.models import AutopayEnrollment
from portal.billing.models import Invoice
from portal.notifications.delivery import deliver_due
from portal.payments.models import Payment, PaymentState
from sync.service import write_back
from tests.browser.test_account_flows import log_in
from tests.browser.test_paying import (  # noqa: F401  (fixtures)
    app,
    payer,
    quickbooks_client,
    sandboxes,
)
from tests.conftest import PASSWORD, Mailbox, text_of


def at_noon(app: Flask, day: date) -> None:  # noqa: F811  (app: the fixture's name)
    moment = datetime.combine(day, time(12), tzinfo=UTC)
    app.config["CLOCK"] = lambda: moment


def test_autopay_with_a_new_card_gives_notice_then_pays_on_the_due_date(
    page: Page,
    app: Flask,  # noqa: F811  (the fixtures imported above)
    payer,  # noqa: F811
    sandboxes,  # noqa: F811
    mailbox: Mailbox,
):
    customer, (first, _second, third) = payer
    # The customer pays $1.00 of the first invoice with a new card and saves it.
    log_in(page, "payer", PASSWORD)
    page.goto("/pay")
    for box in page.locator("input[name=invoice]").all():
        if box.get_attribute("value") != str(first.id):
            box.uncheck()
    page.locator(f"input[name='amount-{first.id}']").fill("1.00")
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_label("Billing ZIP").fill("98004")
    page.get_by_label("Name on card").fill(customer.display_name)
    page.get_by_label("Save this method for next time").check()
    page.get_by_role("button", name="Pay $1.00").click()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()

    # Autopay on, with that card, on each due date.
    page.goto("/autopay")
    expect(page.get_by_text("Autopay is off.")).to_be_visible()
    page.locator("#method_id").select_option(index=0)  # the autopay form's method
    page.get_by_label("Days before the due date (0: on the due date)").fill("0")
    page.get_by_role("button", name="Turn autopay on").click()
    expect(page.get_by_text("Autopay is on.").first).to_be_visible()
    with app.app_context():
        enrollment = db.session().scalar(sa.select(AutopayEnrollment))
        assert enrollment is not None and enrollment.active
        # the next invoice to fall due: everything due by then is owed
        target = db.session().get(Invoice, third.id)
        assert target is not None and target.due_date is not None
        due = target.due_date

    # Three days before: the notice, by e-mail.
    at_noon(app, due - timedelta(days=3))
    with app.app_context():
        autopay_run(app)
        deliver_due(app)
    notices = [m for m in mailbox.messages() if "will be charged" in (m["Subject"] or "")]
    assert notices, "no upcoming-charge e-mail"
    body = text_of(notices[-1])
    assert f"invoice {third.doc_number or third.qbo_id}" in body
    assert "/autopay/skip/" in body

    # On the due date: the worker's run charges it, and the write-back reaches QuickBooks.
    at_noon(app, due)
    with app.app_context():
        autopay_run(app)
        write_back(app)
        paid = [
            p
            for p in db.session().scalars(sa.select(Payment).order_by(Payment.id))
            if p.idempotency_key.startswith("autopay-") and p.state is PaymentState.SUCCEEDED
        ]
        covering = [p for p in paid if third.id in {a.invoice_id for a in p.allocations}]
        assert len(covering) == 1
        trans_id = covering[0].gateway_trans_id
        amount = next(a.amount for a in covering[0].allocations if a.invoice_id == third.id)
    qbo, _anet = sandboxes
    client = quickbooks_client(qbo, demo_env.DEMO_REALM)
    [found] = QboPayment.filter(PaymentRefNum=trans_id, qb=client)
    lines = {line.LinkedTxn[0].TxnId: Decimal(str(line.Amount)) for line in found.Line}
    assert lines[third.qbo_id] == amount
    page.goto("/autopay")
    expect(page.get_by_text("succeeded").first).to_be_visible()
