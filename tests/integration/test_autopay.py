"""Autopay, scheduled payments and plans at the worker's level, with the clock moved: notices
and charges on the right company days, retries, the pause after the last failure, invoices
paid elsewhere left alone, and a second run that charges nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.accounts.models import Role
from portal.app import create_app
from portal.autopay import service
from portal.autopay.jobs import autopay_run
from portal.autopay.models import (
    AutopayEnrollment,
    ChargeRun,
    Consent,
    PaymentPlan,
    PlanState,
    RunState,
)
from portal.billing.models import Customer, Invoice
from portal.config import Settings
from portal.notifications.models import Notification
from portal.payments.fake import FakeGateway
from portal.payments.gateway import Outcome, SavedProfile
from portal.payments.models import Payment, PaymentState
from tests.rows import saved_card

DUE = date(2026, 3, 10)


@pytest.fixture
def gateway() -> FakeGateway:
    fake = FakeGateway()
    fake.saved_methods.add(SavedProfile("1", "2"))
    return fake


@pytest.fixture
def app(settings: Settings, gateway: FakeGateway) -> Iterator[Flask]:
    from tests.conftest import _wipe

    app = create_app(
        {"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True, "GATEWAY": gateway}
    )
    yield app
    _wipe(app.extensions["portal.db"].engine)
    app.extensions["portal.db"].engine.dispose()


def on(app: Flask, day: date) -> None:
    """Noon UTC of `day` (the company's zone is UTC here)."""
    app.config["CLOCK"] = lambda: datetime.combine(day, time(12), tzinfo=UTC)


def run(app: Flask, day: date) -> None:
    on(app, day)
    with app.app_context():
        autopay_run(app)


def enrolled(app: Flask, customer: Customer, days_before: int = 0, **rule) -> int:
    with app.app_context(), db.transaction() as s:
        method = saved_card(customer.id)
        s.add(method)
        s.flush()
        enrollment = service.enroll(
            s,
            customer.id,
            service.Rule(method.id, days_before, rule.get("max_amount")),
            None,
            Consent.CUSTOMER,
        )
        return method.id if enrollment else 0


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        rows = list(db.session().scalars(sa.select(Payment).order_by(Payment.id)))
        for p in rows:
            _ = p.allocations
        db.session().expunge_all()
        return rows


def kinds(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(sa.select(Notification.kind).order_by(Notification.id)))


@pytest.fixture
def ada(make_customer, make_invoice) -> tuple[Customer, list[Invoice]]:
    customer = make_customer("Ada", email="ada@example.com")
    return customer, [
        make_invoice(customer, "100.00", due=DUE),
        make_invoice(customer, "40.00", due=DUE),
        make_invoice(customer, "70.00", due=date(2026, 4, 10)),
    ]


def test_notice_three_days_before_then_one_charge_on_the_due_date_and_none_on_a_rerun(
    app, ada, gateway
):
    customer, invoices = ada
    enrolled(app, customer)
    run(app, date(2026, 3, 6))
    assert kinds(app) == [] and gateway.calls == 0
    run(app, date(2026, 3, 7))
    assert kinds(app) == ["autopay_upcoming"]
    with app.app_context():
        body = db.session().scalar(sa.select(Notification.body))
    assert "$140.00" in body and "Visa ending 1111" in body and "/autopay/skip/" in body
    run(app, date(2026, 3, 9))
    assert payments(app) == []
    run(app, DUE)
    run(app, DUE)  # the worker runs again the same day
    run(app, date(2026, 3, 11))
    [payment] = payments(app)
    assert payment.state is PaymentState.SUCCEEDED and payment.total == Decimal("140.00")
    assert {a.invoice_id for a in payment.allocations} == {invoices[0].id, invoices[1].id}
    assert gateway.calls == 1
    assert kinds(app).count("receipt") == 1


def test_days_before_rule_charges_early(app, ada, gateway):
    customer, _ = ada
    enrolled(app, customer, days_before=5)
    run(app, date(2026, 3, 4))
    assert payments(app) == []
    run(app, date(2026, 3, 5))
    [payment] = payments(app)
    assert payment.total == Decimal("140.00")


def test_a_failure_is_retried_after_one_three_and_five_days_then_autopay_pauses(
    app, ada, gateway, make_user
):
    customer, _ = ada
    make_user("boss", email="boss@example.com", role=Role.ADMIN)
    enrolled(app, customer)
    gateway.next_outcomes = [Outcome.DECLINED] * 4
    for day in (10, 11, 12, 13, 14, 15, 16):
        run(app, date(2026, 3, day))
    tried = [p.created_at.date() for p in payments(app)]
    assert len(tried) == 4 and gateway.calls == 4
    assert all(p.state is PaymentState.DECLINED for p in payments(app))
    assert kinds(app).count("autopay_failed") == 4
    assert kinds(app).count("autopay_paused") == 2  # the customer and the admin
    with app.app_context():
        enrollment = db.session().scalar(sa.select(AutopayEnrollment))
        assert not enrollment.active and "last retry" in enrollment.paused_reason
        days = [r.attempt for r in db.session().scalars(sa.select(ChargeRun))]
    assert days == [4]
    run(app, date(2026, 4, 10))
    assert gateway.calls == 4  # paused: nothing more is charged


def test_retry_days_follow_the_company_date(app, ada, gateway):
    customer, _ = ada
    enrolled(app, customer)
    gateway.next_outcomes = [Outcome.DECLINED]
    run(app, DUE)
    run(app, DUE)
    assert gateway.calls == 1
    run(app, date(2026, 3, 11))
    assert gateway.calls == 2
    assert [p.state for p in payments(app)] == [PaymentState.DECLINED, PaymentState.SUCCEEDED]


def test_invoices_paid_by_hand_voided_or_skipped_are_not_charged(app, ada, gateway):
    customer, invoices = ada
    enrolled(app, customer)
    with app.app_context(), db.transaction() as s:
        s.get(Invoice, invoices[0].id).balance = Decimal(0)  # paid in QuickBooks
        s.get(Invoice, invoices[1].id).voided = True
    run(app, DUE)
    assert payments(app) == []
    with app.app_context(), db.transaction() as s:
        service.skip(s, customer.id, invoices[2].id)
    run(app, date(2026, 4, 10))
    assert payments(app) == [] and gateway.calls == 0


def test_above_the_maximum_the_customer_is_asked_to_pay_by_hand(app, ada, gateway):
    customer, _ = ada
    enrolled(app, customer, max_amount=Decimal("100.00"))
    run(app, DUE)
    run(app, date(2026, 3, 11))
    assert payments(app) == [] and kinds(app) == ["autopay_over_limit"]


def test_a_scheduled_payment_is_charged_once_on_its_day_and_a_cancelled_one_never(
    app, ada, gateway
):
    customer, invoices = ada
    with app.app_context(), db.transaction() as s:
        method = saved_card(customer.id)
        s.add(method)
        s.flush()
        first = service.schedule(
            s,
            customer.id,
            method.id,
            {invoices[0].id: "60"},
            date(2026, 3, 5),
            date(2026, 3, 1),
            None,
        ).id
        second = service.schedule(
            s,
            customer.id,
            method.id,
            {invoices[1].id: "40"},
            date(2026, 3, 5),
            date(2026, 3, 1),
            None,
        ).id
        assert service.uses_method(s, method.id) is not None
    with app.app_context(), db.transaction() as s:
        assert service.cancel_schedule(s, customer.id, second)
        assert not service.cancel_schedule(s, customer.id + 1000, first)
    run(app, date(2026, 3, 2))
    assert kinds(app) == ["scheduled_upcoming"]
    run(app, date(2026, 3, 5))
    run(app, date(2026, 3, 5))
    [payment] = payments(app)
    assert payment.total == Decimal("60.00") and gateway.calls == 1
    with app.app_context(), db.transaction() as s:
        assert not service.cancel_schedule(s, customer.id, first)  # it ran


def test_a_plan_pays_installments_oldest_invoice_first_and_completes(
    app, make_customer, make_invoice, gateway
):
    customer = make_customer("Cy", email="cy@example.com")
    old = make_invoice(customer, "90.00", due=date(2026, 1, 1))
    newer = make_invoice(customer, "60.00", due=date(2026, 2, 1))
    with app.app_context(), db.transaction() as s:
        method = saved_card(customer.id)
        s.add(method)
        s.flush()
        settings = app.config["PORTAL_SETTINGS"].autopay
        plan = service.make_plan(s, customer.id, method.id, 3, date(2026, 3, 1), None, settings)
        assert [i.amount for i in plan.installments] == [Decimal("50.00")] * 3
        assert service.covered_invoice_ids(s, [old.id, newer.id]) == {old.id, newer.id}
    for day in (date(2026, 3, 2), date(2026, 4, 1), date(2026, 5, 1), date(2026, 5, 2)):
        run(app, day)
    paid = payments(app)
    assert [p.total for p in paid] == [Decimal("50.00")] * 3
    assert [(a.invoice_id, a.amount) for a in paid[1].allocations] == [
        (old.id, Decimal("40.00")),
        (newer.id, Decimal("10.00")),
    ]
    with app.app_context():
        assert db.session().scalar(sa.select(PaymentPlan.state)) is PlanState.COMPLETED
        assert db.session().scalar(sa.select(sa.func.count()).select_from(ChargeRun)) == 3
        assert all(
            r is RunState.SUCCEEDED for r in db.session().scalars(sa.select(ChargeRun.state))
        )


def test_a_current_plan_holds_the_ladder_and_late_fees_on_its_invoices(
    app, make_customer, make_invoice
):
    from portal.overdue.fees import _due
    from portal.overdue.models import CustomerOverdue
    from portal.overdue.policy import from_settings
    from portal.overdue.states import record_states

    customer = make_customer("Di", email="di@example.com")
    late = make_invoice(customer, "90.00", due=date(2026, 1, 1))
    settings = app.config["PORTAL_SETTINGS"]
    today = date(2026, 3, 1)
    with app.app_context(), db.transaction() as s:
        method = saved_card(customer.id)
        s.add(method)
        s.flush()
        service.make_plan(s, customer.id, method.id, 2, today, None, settings.autopay)
    with app.app_context(), db.transaction() as s:
        record_states(s, settings, today)
        assert s.scalar(sa.select(CustomerOverdue)) is None
        policy = from_settings(settings.late_fees)
        assert _due(s, policy, today, True) == []
        assert [i for i, _, _ in _due(s, policy, today, False)] == [late.id]
        s.execute(sa.update(PaymentPlan).values(state=PlanState.ENDED))
    with app.app_context(), db.transaction() as s:
        record_states(s, settings, today)
        assert s.scalar(sa.select(CustomerOverdue.customer_id)) == customer.id


def test_autopay_whose_method_was_removed_pauses_and_tells_once(app, ada, gateway):
    from portal.payments.models import SavedMethod

    customer, _ = ada
    method_id = enrolled(app, customer)
    with app.app_context(), db.transaction() as s:
        s.execute(sa.delete(SavedMethod).where(SavedMethod.id == method_id))
    run(app, DUE)
    run(app, date(2026, 3, 11))
    assert payments(app) == [] and gateway.calls == 0
    assert kinds(app) == ["autopay_paused"]
    with app.app_context():
        enrollment = db.session().scalar(sa.select(AutopayEnrollment))
        assert not enrollment.active and "removed" in enrollment.paused_reason
