"""Paying invoices: one charge, frozen allocation, bad input refused, exactly-once write-back."""

from __future__ import annotations

import secrets
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import sync.writeback  # noqa: F401  (registers the write-back handlers)
from portal import outbox as portal_outbox
from portal.billing.models import Customer, Invoice
from portal.db import utcnow
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments import service
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Outcome, Token
from portal.payments.models import MethodKind, Payment, PaymentState, SavedMethod
from portal.payments.service import Method, PaymentRefused
from sync import outbox
from sync.accounting import Entity
from sync.fake import FakeAccounting
from tests import records as rec
from tests.rows import saved_card


def key() -> str:
    return secrets.token_urlsafe(18)


def card() -> Method:
    return Method(MethodKind.CARD, token=Token("COMMON.ACCEPT.INAPP.PAYMENT", key()))


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    return app.extensions["portal.db"].sessions


@pytest.fixture
def qbo() -> FakeAccounting:
    """QuickBooks as the in-memory fake, holding the same customers and invoices."""
    fake = FakeAccounting("test")
    fake.put(rec.customer("1", "Ada"))
    fake.put(rec.customer("2", "Bob"))
    for iid, cid, total in (
        ("inv1", "1", "100.00"),
        ("inv2", "1", "50.00"),
        ("inv3", "1", "80.00"),
        ("inv4", "2", "70.00"),
    ):
        fake.put(rec.invoice(iid, cid, total))
    return fake


@pytest.fixture
def world(app: Flask, sessions) -> dict[str, object]:
    """Ada with three open invoices and Bob with one, mirrored as QuickBooks has them."""
    with sessions() as s:
        ada = Customer(realm_id="test", qbo_id="1", display_name="Ada", balance=Decimal("230"))
        bob = Customer(realm_id="test", qbo_id="2", display_name="Bob", balance=Decimal("70"))
        s.add_all([ada, bob])
        s.flush()
        rows = {}
        for iid, owner, total in (
            ("inv1", ada, "100.00"),
            ("inv2", ada, "50.00"),
            ("inv3", ada, "80.00"),
            ("inv4", bob, "70.00"),
        ):
            inv = Invoice(
                realm_id="test",
                qbo_id=iid,
                doc_number=iid.upper(),
                customer_id=owner.id,
                txn_date=date(2026, 1, 1),
                due_date=date(2026, 2, 1),
                total_amt=Decimal(total),
                balance=Decimal(total),
            )
            s.add(inv)
            s.flush()
            rows[iid] = inv.id
        s.commit()
        return {"ada": ada.id, "bob": bob.id, **rows}


def pay(
    sessions,
    gateway,
    customer_id: int,
    amounts: dict[int, str],
    method: Method | None = None,
    idem: str | None = None,
) -> Payment:
    method = method or card()
    with sessions() as s:
        payment = service.start(s, customer_id, None, amounts, idem or key(), method)
        s.commit()
        payment_id = payment.id
    return service.charge(sessions, gateway, payment_id, method)


def balances(sessions) -> dict[str, Decimal]:
    with sessions() as s:
        return dict(s.execute(sa.select(Invoice.qbo_id, Invoice.balance)).all())


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def drain(sessions, qbo: FakeAccounting) -> outbox.DrainResult:
    return outbox.drain(sessions, lambda realm: qbo)


def test_two_invoices_in_full_and_one_in_part_are_one_charge_and_one_qbo_payment(
    sessions, world, qbo
):
    gateway = FakeGateway()
    payment = pay(
        sessions,
        gateway,
        world["ada"],
        {world["inv1"]: "100.00", world["inv2"]: "50", world["inv3"]: "30.25"},
    )
    assert payment.state is PaymentState.SUCCEEDED
    assert payment.total == Decimal("180.25")
    assert gateway.calls == 1
    assert balances(sessions) == {
        "inv1": 0,
        "inv2": 0,
        "inv3": Decimal("49.75"),
        "inv4": Decimal("70.00"),
    }
    assert drain(sessions, qbo).done == 1
    [qbo_payment] = qbo.rows[Entity.PAYMENT].values()
    assert qbo_payment.total == Decimal("180.25")
    assert {(a.txn_id, a.amount) for a in qbo_payment.applied} == {
        ("inv1", Decimal("100.00")),
        ("inv2", Decimal("50.00")),
        ("inv3", Decimal("30.25")),
    }
    assert qbo_payment.reference == payment.gateway_trans_id
    assert qbo.rows[Entity.INVOICE]["inv3"].balance == Decimal("49.75")
    with sessions() as s:
        assert s.get(Payment, payment.id).qbo_payment_id == qbo_payment.id


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("10.005", "dollars and cents"),
        ("-5.00", "dollars and cents"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("abc", "dollars and cents"),
        ("1e3", "dollars and cents"),
        ("100.01", "more than its balance of $100.00"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_charged_or_written(
    sessions, world, amount: str, message: str
):
    gateway = FakeGateway()
    with pytest.raises(PaymentRefused, match=message.replace("$", r"\$")):
        pay(sessions, gateway, world["ada"], {world["inv1"]: amount})
    assert gateway.calls == 0
    assert count(sessions, Payment) == 0
    assert count(sessions, OutboxMessage) == 0


def test_another_customers_invoice_cannot_be_paid(sessions, world):
    gateway = FakeGateway()
    with pytest.raises(PaymentRefused, match="not one of yours"):
        pay(sessions, gateway, world["ada"], {world["inv1"]: "10", world["inv4"]: "70.00"})
    assert gateway.calls == 0 and count(sessions, Payment) == 0


def test_a_closed_invoice_cannot_be_paid(sessions, world):
    with sessions() as s:
        s.get(Invoice, world["inv2"]).balance = Decimal(0)
        s.commit()
    with pytest.raises(PaymentRefused, match="already paid or closed"):
        pay(sessions, FakeGateway(), world["ada"], {world["inv2"]: "1.00"})


def test_a_removed_or_foreign_saved_method_is_refused(sessions, world):
    with sessions() as s:
        s.add(saved_card(world["bob"]))
        s.commit()
        bobs = s.scalar(sa.select(SavedMethod.id))
    for method_id in (bobs, 9999):
        with pytest.raises(PaymentRefused, match="no longer exists"):
            pay(
                sessions,
                FakeGateway(),
                world["ada"],
                {world["inv1"]: "10"},
                Method(MethodKind.CARD, saved_method_id=method_id),
            )
    assert count(sessions, Payment) == 0


def test_a_double_click_charges_once(sessions, world):
    gateway = FakeGateway()
    idem = key()
    first = pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"}, idem=idem)
    second = pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"}, idem=idem)
    assert first.id == second.id and gateway.calls == 1
    assert count(sessions, OutboxMessage) == 1


def test_a_decline_charges_nothing_and_changes_no_balance(sessions, world):
    gateway = FakeGateway(next_outcomes=[Outcome.DECLINED])
    payment = pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"})
    assert payment.state is PaymentState.DECLINED
    assert "declined" in payment.decline_reason
    assert balances(sessions)["inv1"] == Decimal("100.00")
    assert count(sessions, OutboxMessage) == 0


def test_a_gateway_timeout_is_unknown_and_recovery_finds_the_charge(sessions, world, qbo):
    gateway = FakeGateway(lose_answer=True)  # charged, but the answer never arrived
    payment = pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"})
    assert payment.state is PaymentState.UNKNOWN
    assert balances(sessions)["inv1"] == Decimal("100.00")  # not yet: we do not know
    assert service.recover(sessions, gateway) == 1
    assert service.recover(sessions, gateway) == 0
    with sessions() as s:
        assert s.get(Payment, payment.id).state is PaymentState.SUCCEEDED
    assert balances(sessions)["inv1"] == 0
    assert drain(sessions, qbo).done == 1
    assert len(qbo.rows[Entity.PAYMENT]) == 1
    assert len(gateway.charges) == 1


def test_an_unknown_attempt_with_no_trace_is_flagged_for_review_never_declined(sessions, world):
    gateway = FakeGateway(next_outcomes=[Outcome.UNKNOWN])
    payment = pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"})
    assert service.recover(sessions, gateway) == 0  # too early to say
    with sessions() as s:
        s.get(Payment, payment.id).created_at = utcnow() - timedelta(hours=1)
        s.commit()
    assert service.recover(sessions, gateway) == 0  # only the processor's word settles it
    with sessions() as s:
        stuck = s.get(Payment, payment.id)
        assert stuck.state is PaymentState.UNKNOWN
        assert "Needs review" in (stuck.review_note or "")
    # the money may have moved: the invoice stays held, so it cannot be paid twice
    with sessions() as s:
        assert service.in_flight_by_invoice(s, [world["inv1"]]) == {
            world["inv1"]: Decimal("100.00")
        }


class DyingGateway(FakeGateway):
    """Charges, then the process dies before the answer is committed."""

    def charge(self, request):  # type: ignore[no-untyped-def]
        super().charge(request)
        raise SystemExit("killed after the charge")


def test_a_crash_after_the_charge_loses_no_money_and_charges_once(sessions, world, qbo):
    gateway = DyingGateway()
    with pytest.raises(SystemExit):
        pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"})
    with sessions() as s:
        stuck = s.scalar(sa.select(Payment))
        assert stuck.state is PaymentState.PENDING
        stuck.updated_at = utcnow() - timedelta(minutes=5)
        s.commit()
    assert service.recover(sessions, gateway) == 1
    with sessions() as s:
        assert s.scalar(sa.select(Payment)).state is PaymentState.SUCCEEDED
    drain(sessions, qbo)
    assert len(gateway.charges) == 1 and len(qbo.rows[Entity.PAYMENT]) == 1


def test_the_same_payment_written_back_twice_is_one_qbo_payment(sessions, world, qbo):
    pay(sessions, FakeGateway(), world["ada"], {world["inv1"]: "100.00"})
    with sessions() as s:
        message = s.scalar(sa.select(OutboxMessage))
        s.expunge(message)
    assert drain(sessions, qbo).done == 1
    with sessions() as s:  # as if the "done" commit had been lost after QuickBooks answered
        row = s.get(OutboxMessage, message.id)
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        s.commit()
    assert drain(sessions, qbo).done == 1
    assert len(qbo.rows[Entity.PAYMENT]) == 1
    assert qbo.rows[Entity.INVOICE]["inv1"].balance == 0


def test_write_back_failures_are_retried_then_parked_and_can_be_retried(sessions, world, qbo):
    pay(sessions, FakeGateway(), world["ada"], {world["inv1"]: "100.00"})
    qbo.fail_on_call = qbo.calls + 1
    first = drain(sessions, qbo)
    assert (first.done, first.retried) == (0, 1)
    assert drain(sessions, qbo).done == 0  # backing off: not due yet
    with sessions() as s:
        row = s.scalar(sa.select(OutboxMessage))
        row.attempts = outbox.MAX_ATTEMPTS - 1
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        s.commit()
    qbo.fail_on_call = qbo.calls + 1
    assert drain(sessions, qbo).parked == 1
    with sessions() as s:
        row = s.scalar(sa.select(OutboxMessage))
        assert row.status is OutboxStatus.PARKED and "injected failure" in row.last_error
        assert portal_outbox.retry(s, row.id)
        s.commit()
    assert drain(sessions, qbo).done == 1
    assert len(qbo.rows[Entity.PAYMENT]) == 1


def test_an_invoice_paid_in_quickbooks_meanwhile_leaves_a_credit_for_review(sessions, world, qbo):
    from sync.accounting import AppliedLine

    # Someone records a payment for inv1 in QuickBooks; the mirror has not seen it yet.
    qbo.record_payment(
        "1",
        [AppliedLine("Invoice", "inv1", Decimal("100.00"))],
        Decimal("100.00"),
        "cheque 42",
        date(2026, 1, 10),
        "office-1",
    )
    payment = pay(
        sessions, FakeGateway(), world["ada"], {world["inv1"]: "100.00", world["inv2"]: "50.00"}
    )
    assert payment.state is PaymentState.SUCCEEDED
    assert drain(sessions, qbo).done == 1
    portal_payments = [p for p in qbo.rows[Entity.PAYMENT].values() if p.reference != "cheque 42"]
    assert len(portal_payments) == 1
    assert portal_payments[0].total == Decimal("150.00")
    assert portal_payments[0].unapplied == Decimal("100.00")
    with sessions() as s:
        assert "$100.00 was left unapplied" in s.get(Payment, payment.id).review_note


def _race(sessions, world, barrier: threading.Barrier, results: list, gateway) -> None:
    try:
        barrier.wait()
        results.append(pay(sessions, gateway, world["ada"], {world["inv1"]: "100.00"}).state)
    except PaymentRefused as exc:
        results.append(str(exc))


def test_two_tabs_paying_the_same_invoice_at_once_charge_it_once(sessions, world):
    gateway = FakeGateway()
    barrier = threading.Barrier(2)
    results: list = []
    threads = [
        threading.Thread(target=_race, args=(sessions, world, barrier, results, gateway))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert PaymentState.SUCCEEDED in results
    refused = [r for r in results if not isinstance(r, PaymentState)]
    assert len(refused) == 1
    assert "already being processed" in refused[0] or "already paid" in refused[0]
    assert gateway.calls == 1
    assert balances(sessions)["inv1"] == 0
