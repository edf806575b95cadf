"""`portal worker`: the periodic jobs, declared once with stable ids (rescheduling is
idempotent), run in one process per installation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from portal import db
from portal.admin.alerts import tell_admins_to_reconnect
from portal.autopay.jobs import autopay_run
from portal.clock import clock_of
from portal.config import Settings
from portal.mail import deliver
from portal.notifications.delivery import deliver_due
from portal.notifications.jobs import reminders
from portal.notifications.sms_status import check_sent
from portal.notifications.statements import statements
from portal.overdue.jobs import hourly
from portal.payments.jobs import recover_payments
from portal.payments.methods import expiring_notices
from sync import service
from sync.outbox import DrainResult
from sync.quickbooks.webhooks import prune_receipts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One periodic job of the worker."""

    id: str
    func: Callable[[Flask], object]
    seconds: int


def write_back(app: Flask) -> DrainResult:
    """Drain the outbox; tell the admins (once) about a company whose authority is gone."""
    result = service.write_back(app)
    for realm in sorted(result.paused):
        tell_admins_to_reconnect(app, realm)
    return result


def prune_webhook_receipts(app: Flask) -> int:
    """Forget webhook bodies older than the replay window (they would be accepted anyway)."""
    with db.transaction() as s:
        return prune_receipts(s, clock_of(app)())


def job_list(settings: Settings) -> list[Job]:
    """Every periodic job, with its interval."""
    return [
        Job("qbo-sync", service.sync_all, settings.sync.interval_minutes * 60),
        Job("qbo-sync-requested", service.sync_requested, 15),
        Job("qbo-write-back", write_back, 15),
        Job("payments-recover", recover_payments, 60),
        Job("mail-send", lambda app: deliver(), 60),
        Job("late-fees", hourly, 3600),
        Job("webhook-receipts-prune", prune_webhook_receipts, 3600),
        Job("notices-remind", reminders, 3600),
        Job("notices-statements", statements, 3600),
        Job("notices-send", deliver_due, 60),
        Job("notices-sms-status", check_sent, 900),
        Job("autopay", autopay_run, 3600),
        Job("payment-methods-expiring", expiring_notices, 3600),
    ]


def run_once(app: Flask, job: Job) -> None:
    """Run one job now (`portal worker --once`); a failure is logged, like a scheduled run."""
    _run_in_context(app, job)


def _run_in_context(app: Flask, job: Job) -> None:
    with app.app_context():
        try:
            job.func(app)
        except Exception:  # a failed run is logged; the schedule goes on
            logger.exception("job %s failed", job.id)


def schedule(scheduler: BaseScheduler, app: Flask) -> list[str]:
    """Add (or replace) every job on the scheduler; returns their ids."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    for job in job_list(settings):
        # replace_existing does not dedupe jobs added before the scheduler starts.
        if scheduler.get_job(job.id) is not None:
            scheduler.remove_job(job.id)
        scheduler.add_job(
            _run_in_context,
            "interval",
            seconds=job.seconds,
            args=(app, job),
            id=job.id,
            name=job.id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
    return [j.id for j in job_list(settings)]
