"""The worker's periodic jobs, declared once with stable ids (rescheduling is idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from portal.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One periodic job of the worker."""

    id: str
    func: Callable[[Flask], object]
    seconds: int


def _sync_all(app: Flask) -> object:
    from sync.service import sync_all

    return sync_all(app)


def _sync_requested(app: Flask) -> object:
    from sync.service import sync_requested

    return sync_requested(app)


def _write_back(app: Flask) -> object:
    from sync.service import write_back

    return write_back(app)


def _recover_payments(app: Flask) -> object:
    from portal.payments.jobs import recover_payments

    return recover_payments(app)


def _send_mail(app: Flask) -> object:
    from portal.mail import deliver

    return deliver()


def _late_fees(app: Flask) -> object:
    from portal.overdue.jobs import hourly

    return hourly(app)


def job_list(settings: Settings) -> list[Job]:
    """Every periodic job, with its interval."""
    return [
        Job("qbo-sync", _sync_all, settings.sync.interval_minutes * 60),
        Job("qbo-sync-requested", _sync_requested, 15),
        Job("qbo-write-back", _write_back, 15),
        Job("payments-recover", _recover_payments, 60),
        Job("mail-send", _send_mail, 60),
        Job("late-fees", _late_fees, 3600),
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
