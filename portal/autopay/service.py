"""Autopay enrollments, skips, scheduled payments and payment plans: set up, changed and
cancelled by the customer (or staff with the customer's consent), one unit of work each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.autopay.charging import available
from portal.autopay.models import (
    AutopayEnrollment,
    AutopaySkip,
    Consent,
    PaymentPlan,
    PlanInstallment,
    PlanInvoice,
    PlanState,
    ScheduledLine,
    ScheduledPayment,
    ScheduleState,
)
from portal.billing.models import Invoice
from portal.config import AutopaySettings
from portal.db import utcnow
from portal.payments.models import SavedMethod
from portal.payments.service import PaymentRefused, parse_amount

CENT = Decimal("0.01")


class AutopayRefused(ValueError):
    """The request cannot be done as asked; the message is for the person asking."""


@dataclass(frozen=True)
class Rule:
    """How autopay pays: with which saved method, how many days before the due date, and
    the largest charge it makes without asking."""

    method_id: int
    days_before: int = 0
    max_amount: Decimal | None = None


def _own_method(s: Session, customer_id: int, method_id: int) -> SavedMethod:
    method = s.get(SavedMethod, method_id)
    if method is None or method.customer_id != customer_id:
        raise AutopayRefused("Choose one of your saved payment methods.")
    return method


def enrollment_of(s: Session, customer_id: int) -> AutopayEnrollment | None:
    """The customer's enrollment, on or off; None when they never had one."""
    return s.scalar(
        sa.select(AutopayEnrollment).where(AutopayEnrollment.customer_id == customer_id)
    )


def enroll(
    s: Session,
    customer_id: int,
    rule: Rule,
    by_user: int | None,
    via: Consent,
    note: str | None = None,
) -> AutopayEnrollment:
    """Turn autopay on (or change its rule), recording who consented, when and how."""
    _own_method(s, customer_id, rule.method_id)
    if not 0 <= rule.days_before <= 30:
        raise AutopayRefused("Choose from 0 to 30 days before the due date.")
    if rule.max_amount is not None and rule.max_amount <= 0:
        raise AutopayRefused("The maximum per charge must be more than zero.")
    if via is Consent.STAFF and not (note or "").strip():
        raise AutopayRefused("Say how the customer consented (who, when, by what means).")
    enrollment = enrollment_of(s, customer_id)
    if enrollment is None:
        enrollment = AutopayEnrollment(customer_id=customer_id, consent_via=via)
        s.add(enrollment)
    enrollment.saved_method_id = rule.method_id
    enrollment.days_before = rule.days_before
    enrollment.max_amount = rule.max_amount
    enrollment.active = True
    enrollment.paused_reason = None
    enrollment.consent_via = via
    enrollment.consent_by = by_user
    enrollment.consent_note = (note or "").strip()[:500] or None
    enrollment.consent_at = utcnow()
    s.flush()
    return enrollment


def turn_off(s: Session, customer_id: int) -> bool:
    """Turn autopay off; False when it was not on."""
    changed = s.execute(
        sa.update(AutopayEnrollment)
        .where(AutopayEnrollment.customer_id == customer_id, AutopayEnrollment.active)
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    return getattr(changed, "rowcount", 0) == 1


def skip(s: Session, customer_id: int, invoice_id: int) -> None:
    """Autopay will not charge this invoice (the customer pays it another way)."""
    enrollment = enrollment_of(s, customer_id)
    invoice = s.get(Invoice, invoice_id)
    if enrollment is None or invoice is None or invoice.customer_id != customer_id:
        raise AutopayRefused("That invoice is not one autopay would charge.")
    exists = s.scalar(
        sa.select(AutopaySkip.id).where(
            AutopaySkip.enrollment_id == enrollment.id, AutopaySkip.invoice_id == invoice_id
        )
    )
    if exists is None:
        s.add(AutopaySkip(enrollment_id=enrollment.id, invoice_id=invoice_id))
        s.flush()


def skipped(s: Session, enrollment_id: int) -> set[int]:
    """The invoices this enrollment will not charge."""
    return set(
        s.scalars(
            sa.select(AutopaySkip.invoice_id).where(AutopaySkip.enrollment_id == enrollment_id)
        )
    )


def uses_method(s: Session, method_id: int) -> str | None:
    """Why a saved method cannot simply be removed: the autopay, scheduled payment or plan
    that charges it (None when nothing does)."""
    if s.scalar(
        sa.select(AutopayEnrollment.id).where(
            AutopayEnrollment.saved_method_id == method_id, AutopayEnrollment.active
        )
    ):
        return "Autopay charges this method. Choose another method for autopay first."
    if s.scalar(
        sa.select(ScheduledPayment.id).where(
            ScheduledPayment.saved_method_id == method_id,
            ScheduledPayment.state == ScheduleState.SCHEDULED,
        )
    ):
        return "A scheduled payment charges this method. Cancel it or choose another first."
    if s.scalar(
        sa.select(PaymentPlan.id).where(
            PaymentPlan.saved_method_id == method_id, PaymentPlan.state == PlanState.CURRENT
        )
    ):
        return "A payment plan charges this method. Choose another method for the plan first."
    return None


def schedule(
    s: Session,
    customer_id: int,
    method_id: int,
    amounts: dict[int, str],
    run_on: date,
    today: date,
    by_user: int | None,
) -> ScheduledPayment:
    """A one-time payment of these invoices and amounts on a future company date."""
    _own_method(s, customer_id, method_id)
    if run_on <= today:
        raise AutopayRefused("Choose a date after today.")
    if run_on > today + timedelta(days=365):
        raise AutopayRefused("Choose a date within a year.")
    if not amounts:
        raise AutopayRefused("Choose at least one invoice to pay.")
    invoices = {
        i.id: i
        for i in s.scalars(
            sa.select(Invoice).where(
                Invoice.id.in_(list(amounts)), Invoice.customer_id == customer_id
            )
        )
    }
    planned = ScheduledPayment(
        customer_id=customer_id, saved_method_id=method_id, run_on=run_on, created_by=by_user
    )
    for invoice_id, raw in amounts.items():
        invoice = invoices.get(invoice_id)
        if invoice is None or not invoice.is_open:
            raise AutopayRefused("One of the invoices is not open any more. Reload the page.")
        label = f"invoice {invoice.doc_number or invoice.qbo_id}"
        try:
            amount = parse_amount(raw, label, invoice.id)
        except PaymentRefused as exc:
            raise AutopayRefused(str(exc)) from None
        if amount > invoice.balance:
            raise AutopayRefused(f"The amount for {label} is more than its balance.")
        planned.lines.append(ScheduledLine(invoice_id=invoice.id, amount=amount))
    s.add(planned)
    s.flush()
    return planned


def cancel_schedule(s: Session, customer_id: int, schedule_id: int) -> bool:
    """Cancel a scheduled payment that has not run (compare-and-set); False otherwise."""
    changed = s.execute(
        sa.update(ScheduledPayment)
        .where(
            ScheduledPayment.id == schedule_id,
            ScheduledPayment.customer_id == customer_id,
            ScheduledPayment.state == ScheduleState.SCHEDULED,
        )
        .values(state=ScheduleState.CANCELLED)
        .execution_options(synchronize_session="fetch")
    )
    return getattr(changed, "rowcount", 0) == 1


def overdue_invoices(s: Session, customer_id: int, today: date) -> list[Invoice]:
    """The customer's open invoices past due, oldest first, not already in a current plan."""
    covered = (
        sa.select(PlanInvoice.invoice_id)
        .join(PaymentPlan)
        .where(PaymentPlan.state == PlanState.CURRENT)
    )
    return list(
        s.scalars(
            sa.select(Invoice)
            .where(
                Invoice.customer_id == customer_id,
                Invoice.due_date < today,
                Invoice.balance > 0,
                ~Invoice.voided,
                ~Invoice.deleted,
                Invoice.id.not_in(covered),
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def make_plan(
    s: Session,
    customer_id: int,
    method_id: int,
    count: int,
    today: date,
    by_user: int | None,
    limits: AutopaySettings,
) -> PaymentPlan:
    """Split the customer's overdue balance into `count` monthly installments (every 30
    days, the first in 1 day); the last takes the cents left over."""
    _own_method(s, customer_id, method_id)
    invoices = overdue_invoices(s, customer_id, today)
    owed = available(s, invoices)
    total = sum(owed.values(), Decimal(0))
    if total <= 0:
        raise AutopayRefused("There is no overdue balance to split.")
    if not 2 <= count <= limits.plan_max_installments:
        raise AutopayRefused(f"Choose from 2 to {limits.plan_max_installments} installments.")
    each = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    if each < Decimal(limits.plan_min_installment):
        raise AutopayRefused(
            f"Each installment must be at least {limits.plan_min_installment}: choose fewer."
        )
    plan = PaymentPlan(
        customer_id=customer_id, saved_method_id=method_id, total=total, created_by=by_user
    )
    for number in range(1, count + 1):
        amount = each if number < count else total - each * (count - 1)
        plan.installments.append(
            PlanInstallment(
                number=number, due_on=today + timedelta(days=1 + 30 * (number - 1)), amount=amount
            )
        )
    for invoice_id in owed:
        plan.invoices.append(PlanInvoice(invoice_id=invoice_id))
    s.add(plan)
    s.flush()
    return plan


def covered_invoice_ids(s: Session, invoice_ids: list[int]) -> set[int]:
    """Which of these invoices a current payment plan covers (the overdue hook)."""
    if not invoice_ids:
        return set()
    return set(
        s.scalars(
            sa.select(PlanInvoice.invoice_id)
            .join(PaymentPlan)
            .where(PaymentPlan.state == PlanState.CURRENT, PlanInvoice.invoice_id.in_(invoice_ids))
        )
    )
