"""The worker's autopay run: notices before charges, then one charge per customer and source
on the company's date, retries on their days, and what a last failure means."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.audit import events
from portal.audit.service import SYSTEM
from portal.autopay import charging, notices
from portal.autopay.amounts import autopay_amounts, digest, plan_amounts, schedule_amounts
from portal.autopay.charging import Amounts
from portal.autopay.models import (
    AutopayEnrollment,
    ChargeRun,
    PaymentPlan,
    PlanInstallment,
    PlanState,
    RunState,
    ScheduledPayment,
    ScheduleState,
    Source,
)
from portal.autopay.upcoming import upcoming
from portal.clock import app_today
from portal.config import AutopaySettings, Settings
from portal.db import commit
from portal.payments.gateway import PaymentGateway
from portal.payments.models import Payment, PaymentState
from portal.payments.service import PaymentRefused

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one autopay run did."""

    frozen: int = 0  # payments made ready to charge
    charged: int = 0  # charges sent to the processor


def autopay_run(app: Flask) -> RunResult:
    """Notices, new charges, retries and their outcomes, for every source, on today's date."""
    if "portal.gateway" not in app.extensions:
        return RunResult()
    sessions: sessionmaker[Session] = app.extensions["portal.db"].sessions
    gateway: PaymentGateway = app.extensions["portal.gateway"]
    settings: Settings = app.config["PORTAL_SETTINGS"]
    limits = settings.autopay
    with sessions() as s:
        today = app_today(app, s)
    result = RunResult()

    def settle(s: Session, run: ChargeRun, payment: Payment) -> None:
        _settled(s, run, payment, limits)

    charging.charge_pending(sessions, gateway, settle)  # what a crashed run left
    with sessions() as s:
        upcoming(s, today, limits.notice_days)
        commit(s)
    for freeze in (_freeze_retries, _freeze_autopay, _freeze_schedules, _freeze_plans):
        result.frozen += freeze(sessions, today)
    result.charged = charging.charge_pending(sessions, gateway, settle)
    return result


def _begin(s: Session, run: ChargeRun, amounts: Amounts, method_id: int | None) -> int:
    """Freeze the run's payment; 1 when one was made (committed by the caller)."""
    if not amounts:
        charging.nothing_left(run)
        return 0
    method = charging.method_of(s, method_id)
    if method is None:
        run.state, run.last_error = RunState.FAILED, "No saved payment method to charge."
        return 0
    charging.begin(s, run, amounts, method)  # PaymentRefused: the caller rolls back
    return 1


# --- freezing new attempts (each customer in a unit of work of its own) --------------------


def _freeze_autopay(sessions: sessionmaker[Session], today: date) -> int:
    with sessions() as s:
        ids = list(s.scalars(sa.select(AutopayEnrollment.id).where(AutopayEnrollment.active)))
    made = 0
    for enrollment_id in ids:
        with sessions() as s:
            enrollment = s.get(AutopayEnrollment, enrollment_id)
            if (
                enrollment is None
                or not enrollment.active
                or _busy(s, Source.AUTOPAY, [enrollment_id])
            ):
                continue
            amounts = autopay_amounts(s, enrollment, today + timedelta(days=enrollment.days_before))
            if not amounts:
                continue
            if enrollment.saved_method_id is None:  # its method was removed: pause, and tell
                _pause(s, enrollment, "Its saved payment method was removed.")
                commit(s)
                continue
            total = sum(amounts.values(), Decimal(0))
            if enrollment.max_amount is not None and total > enrollment.max_amount:
                subject = f"autopay:{enrollment.id}:{digest(amounts)}"
                notices.over_limit(
                    s, enrollment.customer_id, subject, amounts, enrollment.max_amount
                )
                commit(s)
                continue
            run = charging.open_run(s, Source.AUTOPAY, enrollment.id, enrollment.customer_id, today)
            if run is None:  # today's run was made already: never a second charge today
                continue
            made += _commit_begin(s, run, amounts, enrollment.saved_method_id)
    return made


def _freeze_schedules(sessions: sessionmaker[Session], today: date) -> int:
    with sessions() as s:
        ids = list(
            s.scalars(
                sa.select(ScheduledPayment.id).where(
                    ScheduledPayment.state == ScheduleState.SCHEDULED,
                    ScheduledPayment.run_on <= today,
                )
            )
        )
    made = 0
    for schedule_id in ids:
        with sessions() as s:
            changed = s.execute(
                sa.update(ScheduledPayment)
                .where(
                    ScheduledPayment.id == schedule_id,
                    ScheduledPayment.state == ScheduleState.SCHEDULED,
                )
                .values(state=ScheduleState.DONE)
                .execution_options(synchronize_session=False)
            )
            planned = s.get(ScheduledPayment, schedule_id)
            if getattr(changed, "rowcount", 0) != 1 or planned is None:
                continue  # cancelled, or another worker took it
            run = charging.open_run(
                s, Source.SCHEDULE, planned.id, planned.customer_id, planned.run_on
            )
            if run is None:
                continue
            made += _commit_begin(s, run, schedule_amounts(s, planned), planned.saved_method_id)
    return made


def _freeze_plans(sessions: sessionmaker[Session], today: date) -> int:
    with sessions() as s:
        ids = list(
            s.scalars(sa.select(PaymentPlan.id).where(PaymentPlan.state == PlanState.CURRENT))
        )
    made = 0
    for plan_id in ids:
        with sessions() as s:
            plan = s.get(PaymentPlan, plan_id)
            if plan is None or plan.state is not PlanState.CURRENT:
                continue
            started = _runs_of(s, [i.id for i in plan.installments])
            if any(r.state in (RunState.CHARGING, RunState.RETRY) for r in started.values()):
                continue  # one installment at a time
            due = [i for i in plan.installments if i.due_on <= today and i.id not in started]
            if not due:
                _complete_if_done(s, plan, started)
                commit(s)
                continue
            installment = due[0]
            run = charging.open_run(
                s, Source.PLAN, installment.id, plan.customer_id, installment.due_on
            )
            if run is None:
                continue
            made += _commit_begin(s, run, plan_amounts(s, installment), plan.saved_method_id)
    return made


def _freeze_retries(sessions: sessionmaker[Session], today: date) -> int:
    with sessions() as s:
        ids = list(
            s.scalars(
                sa.select(ChargeRun.id).where(
                    ChargeRun.state == RunState.RETRY, ChargeRun.next_try_on <= today
                )
            )
        )
    made = 0
    for run_id in ids:
        with sessions() as s:
            run = s.get(ChargeRun, run_id)
            if run is None or not charging.retry_due(s, run, today):
                continue
            found = _source_amounts(s, run, today)
            if found is None:  # autopay turned off, or the plan ended, meanwhile
                run.state, run.last_error = RunState.FAILED, "Stopped before the retry."
                commit(s)
                continue
            made += _commit_begin(s, run, *found)
    return made


def _source_amounts(s: Session, run: ChargeRun, today: date) -> tuple[Amounts, int | None] | None:
    if run.source is Source.AUTOPAY:
        enrollment = s.get(AutopayEnrollment, run.source_id)
        if enrollment is None or not enrollment.active:
            return None
        horizon = today + timedelta(days=enrollment.days_before)
        return autopay_amounts(s, enrollment, horizon), enrollment.saved_method_id
    if run.source is Source.PLAN:
        installment = s.get(PlanInstallment, run.source_id)
        plan = s.get(PaymentPlan, installment.plan_id) if installment else None
        if installment is None or plan is None or plan.state is not PlanState.CURRENT:
            return None
        return plan_amounts(s, installment), plan.saved_method_id
    return None  # a scheduled payment is charged once


def _commit_begin(s: Session, run: ChargeRun, amounts: Amounts, method_id: int | None) -> int:
    try:
        made = _begin(s, run, amounts, method_id)
    except PaymentRefused as exc:  # the mirror changed under us: tried again next run
        logger.info("charge run of customer %s not started: %s", run.customer_id, exc)
        s.rollback()
        return 0
    commit(s)
    return made


def _busy(s: Session, source: Source, source_ids: list[int]) -> bool:
    """Whether a run of this source is charging or waiting for a retry."""
    return (
        s.scalar(
            sa.select(ChargeRun.id).where(
                ChargeRun.source == source,
                ChargeRun.source_id.in_(source_ids),
                ChargeRun.state.in_((RunState.CHARGING, RunState.RETRY)),
            )
        )
        is not None
    )


def _runs_of(s: Session, installment_ids: list[int]) -> dict[int, ChargeRun]:
    return {
        r.source_id: r
        for r in s.scalars(
            sa.select(ChargeRun).where(
                ChargeRun.source == Source.PLAN, ChargeRun.source_id.in_(installment_ids)
            )
        )
    }


def _complete_if_done(s: Session, plan: PaymentPlan, runs: dict[int, ChargeRun]) -> None:
    done = [runs.get(i.id) for i in plan.installments]
    if all(r is not None and r.state is RunState.SUCCEEDED for r in done):
        plan.state = PlanState.COMPLETED


# --- outcomes --------------------------------------------------------------------------------


def _settled(s: Session, run: ChargeRun, payment: Payment, limits: AutopaySettings) -> None:
    """Record the attempt's answer on its run: done, retry later, or give up and tell."""
    if payment.state is PaymentState.SUCCEEDED:
        run.state, run.next_try_on = RunState.SUCCEEDED, None
        if run.source is Source.PLAN:
            installment = s.get(PlanInstallment, run.source_id)
            plan = s.get(PaymentPlan, installment.plan_id) if installment else None
            if plan is not None and plan.state is PlanState.CURRENT:
                s.flush()
                _complete_if_done(s, plan, _runs_of(s, [i.id for i in plan.installments]))
        return
    retries = () if run.source is Source.SCHEDULE else limits.retry_schedule
    reason = payment.decline_reason or "The payment was declined."
    again = charging.failed(s, run, reason, retries)
    subject = f"{run.source.value}:{run.source_id}:{run.run_on:%Y%m%d}"
    notices.charge_failed(s, run.customer_id, subject, run.attempt, reason, run.next_try_on)
    if again:
        return
    if run.source is Source.AUTOPAY:
        enrollment = s.get(AutopayEnrollment, run.source_id)
        if enrollment is not None:
            _pause(s, enrollment, f"Paused after the last retry failed: {reason}", subject)
    elif run.source is Source.PLAN:
        installment = s.get(PlanInstallment, run.source_id)
        plan = s.get(PaymentPlan, installment.plan_id) if installment else None
        if plan is not None and plan.state is PlanState.CURRENT:
            plan.state = PlanState.ENDED
            plan.ended_reason = f"An installment failed after every retry: {reason}"[:300]
        notices.paused(s, run.customer_id, subject, "Your payment plan")


def _pause(
    s: Session, enrollment: AutopayEnrollment, reason: str, subject: str | None = None
) -> None:
    """Autopay stops charging until the customer turns it on again; they and staff are told."""
    enrollment.active = False
    enrollment.paused_reason = reason[:300]
    events.autopay_off(s, SYSTEM, enrollment.customer_id, f"paused: {reason}")
    subject = subject or f"autopay:{enrollment.id}:paused:{enrollment.consent_at:%Y%m%d%H%M%S}"
    notices.paused(s, enrollment.customer_id, subject, "Autopay")
