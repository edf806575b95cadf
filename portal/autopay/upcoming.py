"""Notices before charges: autopay's (with a skip link per invoice), scheduled payments' and
plan installments', each at most once (by key), in the caller's unit of work."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.autopay import notices
from portal.autopay.amounts import autopay_amounts, digest, plan_amounts, schedule_amounts
from portal.autopay.charging import Amounts
from portal.autopay.models import (
    AutopayEnrollment,
    PaymentPlan,
    PlanInstallment,
    PlanState,
    ScheduledPayment,
    ScheduleState,
)
from portal.billing.models import Invoice


def upcoming(s: Session, today: date, notice_days: int) -> None:
    """Notices for charges due in the next `notice_days` days (at most once each)."""
    last = today + timedelta(days=notice_days)
    for enrollment in s.scalars(sa.select(AutopayEnrollment).where(AutopayEnrollment.active)):
        first_due = today + timedelta(days=enrollment.days_before + 1)
        amounts = autopay_amounts(s, enrollment, last + timedelta(days=enrollment.days_before))
        due = {
            i.id: i.due_date
            for i in s.scalars(sa.select(Invoice).where(Invoice.id.in_(list(amounts))))
        }
        by_day: dict[date, Amounts] = {}
        for invoice_id, amount in amounts.items():
            when = due[invoice_id]
            if when is not None and when >= first_due:
                charge_day = when - timedelta(days=enrollment.days_before)
                by_day.setdefault(charge_day, {})[invoice_id] = amount
        for day, part in sorted(by_day.items()):
            subject = f"autopay:{enrollment.id}:{day:%Y%m%d}:{digest(part)}"
            notices.upcoming(
                s,
                "autopay_upcoming",
                enrollment.customer_id,
                subject,
                day,
                part,
                enrollment.saved_method_id,
                skip_links=True,
            )
    for planned in s.scalars(
        sa.select(ScheduledPayment).where(
            ScheduledPayment.state == ScheduleState.SCHEDULED,
            ScheduledPayment.run_on > today,
            ScheduledPayment.run_on <= last,
        )
    ):
        notices.upcoming(
            s,
            "scheduled_upcoming",
            planned.customer_id,
            f"schedule:{planned.id}",
            planned.run_on,
            schedule_amounts(s, planned),
            planned.saved_method_id,
            skip_links=False,
        )
    for installment, plan in s.execute(
        sa.select(PlanInstallment, PaymentPlan)
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(
            PaymentPlan.state == PlanState.CURRENT,
            PlanInstallment.due_on > today,
            PlanInstallment.due_on <= last,
        )
    ).all():
        amounts = plan_amounts(s, installment)
        if amounts:
            notices.upcoming(
                s,
                "plan_installment",
                plan.customer_id,
                f"installment:{installment.id}",
                installment.due_on,
                amounts,
                plan.saved_method_id,
                skip_links=False,
            )
