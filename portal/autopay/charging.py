"""Charge runs: one attempt at a time through the ordinary pay path (a Payment with a frozen
allocation and a key derived from the run is committed before the processor is called; an
UNKNOWN answer is settled by `payments.service.recover`; the write-back goes through the
outbox). A crashed or doubled run finds its payment by key and never charges twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portal.autopay.models import ChargeRun, RunState, Source
from portal.billing.models import Customer, Invoice
from portal.db import commit, utcnow
from portal.payments import service
from portal.payments.gateway import PaymentGateway
from portal.payments.models import Payment, PaymentState, SavedMethod
from portal.payments.service import Method, PaymentRefused

logger = logging.getLogger(__name__)

# What a source charges: {invoice id: amount} computed fresh for each attempt, and the saved
# method to charge; None as the method when there is none any more.
Amounts = dict[int, Decimal]


def method_of(s: Session, method_id: int | None) -> Method | None:
    """The saved method as the pay path takes it; None when it is gone."""
    saved = s.get(SavedMethod, method_id) if method_id is not None else None
    if saved is None:
        return None
    return Method(saved.kind, saved_method_id=saved.id)


def available(s: Session, invoices: list[Invoice]) -> Amounts:
    """What is still owed on each open invoice once unfinished payments are counted."""
    open_ = [i for i in invoices if i.is_open]
    flight = service.in_flight_by_invoice(s, [i.id for i in open_])
    out = {}
    for invoice in open_:
        left = invoice.balance - flight.get(invoice.id, Decimal(0))
        if left > 0:
            out[invoice.id] = left
    return out


def open_run(
    s: Session, source: Source, source_id: int, customer_id: int, run_on: date
) -> ChargeRun | None:
    """The run of this source on this date, created now (None when one exists: a second
    job run, or another worker, made it first)."""
    run = ChargeRun(source=source, source_id=source_id, customer_id=customer_id, run_on=run_on)
    try:
        with s.begin_nested():
            s.add(run)
            s.flush()
    except IntegrityError:
        return None
    return run


def begin(s: Session, run: ChargeRun, amounts: Amounts, method: Method) -> None:
    """Freeze the attempt's payment in `s` (committed by the caller before any charge)."""
    payment = service.start(
        s,
        run.customer_id,
        None,
        {invoice_id: str(amount) for invoice_id, amount in amounts.items()},
        run.key(),
        method,
    )
    run.payment_id = payment.id
    run.state = RunState.CHARGING
    run.next_try_on = None


def charge_pending(
    sessions: sessionmaker[Session],
    gateway: PaymentGateway,
    on_settled: Callable[[Session, ChargeRun, Payment], None],
) -> int:
    """Send every run's payment still INIT (made by this run, or by one that crashed before
    sending) and record the runs whose payment has an answer; how many charges were sent."""
    with sessions() as s:
        ids = list(
            s.scalars(
                sa.select(ChargeRun.id)
                .where(ChargeRun.state == RunState.CHARGING)
                .order_by(ChargeRun.id)
            )
        )
    sent = 0
    for run_id in ids:
        sent += _send(sessions, gateway, run_id)
        with sessions() as s:
            run = s.get(ChargeRun, run_id)
            payment = s.get(Payment, run.payment_id) if run and run.payment_id else None
            if run is None or payment is None or run.state is not RunState.CHARGING:
                continue
            if payment.state in (PaymentState.SUCCEEDED, PaymentState.DECLINED):
                on_settled(s, run, payment)
                commit(s)
    return sent


def _send(sessions: sessionmaker[Session], gateway: PaymentGateway, run_id: int) -> int:
    with sessions() as s:
        run = s.get(ChargeRun, run_id)
        payment = s.get(Payment, run.payment_id) if run and run.payment_id else None
        if payment is None or payment.state is not PaymentState.INIT:
            return 0
        payment_id, method_id = payment.id, payment.saved_method_id
        customer = s.get(Customer, payment.customer_id)
        email = customer.email.split(",")[0].strip() if customer and customer.email else None
        method = method_of(s, method_id)
        if method is None:  # the method was removed after the payment was frozen
            service.move(s, payment, PaymentState.DECLINED)
            payment.decline_reason = "The saved payment method was removed."
            commit(s)
            return 0
    try:
        service.charge(sessions, gateway, payment_id, method, email=email)
    except PaymentRefused as exc:  # the method is no longer the customer's
        with sessions() as s:
            payment = s.get(Payment, payment_id)
            assert payment is not None
            if payment.state is PaymentState.INIT and service.move(
                s, payment, PaymentState.DECLINED
            ):
                payment.decline_reason = str(exc)[:300]
                commit(s)
    return 1


def retry_due(s: Session, run: ChargeRun, today: date) -> bool:
    """Move a run waiting for its retry on to its next attempt (compare-and-set); False
    when it is not due yet or another worker took it."""
    if run.state is not RunState.RETRY or run.next_try_on is None or run.next_try_on > today:
        return False
    changed = s.execute(
        sa.update(ChargeRun)
        .where(
            ChargeRun.id == run.id,
            ChargeRun.state == RunState.RETRY,
            ChargeRun.attempt == run.attempt,
        )
        .values(state=RunState.CHARGING, attempt=run.attempt + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        return False
    s.refresh(run)
    return True


def failed(s: Session, run: ChargeRun, reason: str, retry_days: tuple[int, ...]) -> bool:
    """Record a failed attempt: a retry is scheduled (True) or every try is spent (False)."""
    run.last_error = reason[:300]
    if run.attempt <= len(retry_days):
        run.state = RunState.RETRY
        run.next_try_on = run.run_on + timedelta(days=retry_days[run.attempt - 1])
        return True
    run.state = RunState.FAILED
    run.next_try_on = None
    return False


def nothing_left(run: ChargeRun) -> None:
    """Nothing is owed any more (paid by hand, or in QuickBooks): the run is over."""
    run.state = RunState.SUCCEEDED
    run.next_try_on = None
    run.last_error = "Nothing was left to charge."
