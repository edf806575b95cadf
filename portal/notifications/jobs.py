"""What causes notices: a new invoice (in the mirror's own transaction), reminders before and
on the due date, steps of the overdue ladder, monthly statements. Each notice has a key, so a
job run twice, or by two workers at once, writes it once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from portal.billing.models import Invoice
from portal.clock import app_today, clock_of, company_zones
from portal.config import Settings
from portal.db import utcnow
from portal.formatting import money
from portal.notifications.models import NotificationSetting
from portal.notifications.service import Draft, QuietHours, notify_many
from portal.overdue.ladder import OverdueState, long_date
from sync.models import RunStatus, SyncRun

logger = logging.getLogger(__name__)

# A new invoice is news for this long after its date; older ones arriving late are not.
NEW_FOR = timedelta(days=14)


def _number(invoice_doc: str | None, invoice_id: int) -> str:
    return invoice_doc or f"#{invoice_id}"


def quiet_hours(app: Flask, s: Session) -> QuietHours | None:
    """The SMS quiet hours in the company's zone (None when SMS is not configured)."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    sms = getattr(settings, "sms", None)
    if sms is None:
        return None
    zones = company_zones(s)
    zone = zones[0] if zones else UTC
    start = time.fromisoformat(sms.quiet_hours_start)
    end = time.fromisoformat(sms.quiet_hours_end)
    return QuietHours(start, end, zone)


def _skip_new_invoices(s: Session) -> bool:
    row = s.get(NotificationSetting, 1)
    return bool(row and row.skip_new_invoice)


# ---- new invoices: called by the mirror in the transaction that inserts them ----------------


def new_invoices(s: Session, realm: str, invoice_ids: Sequence[int]) -> int:
    """Notices for invoices seen for the first time, written with them. Not on a company's
    first mirror (every invoice is "new" then), not for invoices dated more than two weeks
    ago or already paid, and not when QuickBooks e-mails invoices itself (admin setting)."""
    if not invoice_ids or _skip_new_invoices(s):
        return 0
    mirrored_before = s.scalar(
        sa.select(SyncRun.id)
        .where(SyncRun.realm_id == realm, SyncRun.status == RunStatus.SUCCEEDED)
        .limit(1)
    )
    if mirrored_before is None:
        return 0
    today = _today(s)
    rows = s.execute(
        sa.select(
            Invoice.id, Invoice.customer_id, Invoice.doc_number, Invoice.balance, Invoice.due_date
        ).where(
            Invoice.id.in_(invoice_ids),
            Invoice.balance > 0,
            ~Invoice.voided,
            Invoice.txn_date >= today - NEW_FOR,
        )
    ).all()
    drafts = []
    for invoice_id, customer_id, doc, balance, due in rows:
        number = _number(doc, invoice_id)
        when = f", due {long_date(due)}" if due else ""
        drafts.append(
            Draft(
                kind="new_invoice",
                customer_id=customer_id,
                subject=f"invoice:{invoice_id}",
                period="new",
                title=f"New invoice {number}: {money(balance)}",
                body=f"Invoice {number} for {money(balance)} is ready{when}. "
                "You can see it and pay it online.",
                link=f"/invoices/{invoice_id}",
                context={"button": "See and pay the invoice"},
            )
        )
    return len(notify_many(s, drafts, quiet=_quiet(s)))


def _today(s: Session) -> date:
    if has_app_context():
        return app_today(current_app, s)
    return utcnow().date()


def _quiet(s: Session) -> QuietHours | None:
    return quiet_hours(current_app, s) if has_app_context() else None


# ---- reminders before and on the due date ---------------------------------------------------


def covered_by_autopay(s: Session, invoice_ids: Sequence[int]) -> set[int]:
    """Invoices that autopay or a scheduled payment will pay: no reminder for them.
    (Autopay and schedules arrive with their own issue; none exist yet.)"""
    return set()


def reminders(app: Flask) -> int:
    """Reminders for open invoices due in N days (each N of notifications.reminder_days) or
    today, on the company's date; returns how many notices were new."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    sessions = app.extensions["portal.db"].sessions
    with sessions() as s:
        today = app_today(app, s)
        offsets = {today + timedelta(days=n): n for n in (*settings.notifications.days_before, 0)}
        rows = s.execute(
            sa.select(
                Invoice.id,
                Invoice.customer_id,
                Invoice.doc_number,
                Invoice.balance,
                Invoice.due_date,
            ).where(
                Invoice.due_date.in_(list(offsets)),
                Invoice.balance > 0,
                ~Invoice.voided,
                ~Invoice.deleted,
            )
        ).all()
        skip = covered_by_autopay(s, [r[0] for r in rows])
        drafts = []
        for invoice_id, customer_id, doc, balance, due in rows:
            if invoice_id in skip:
                continue
            n = offsets[due]
            drafts.append(_reminder(invoice_id, customer_id, doc, balance, due, n))
        made = notify_many(s, drafts, quiet=quiet_hours(app, s), now=clock_of(app)())
        s.commit()
    if made:
        logger.info("reminders: %s new notices", len(made))
    return len(made)


def _reminder(
    invoice_id: int, customer_id: int, doc: str | None, balance: Decimal, due: date, n: int
) -> Draft:
    number = _number(doc, invoice_id)
    if n == 0:
        title = f"Invoice {number} is due today: {money(balance)}"
    else:
        title = f"Invoice {number} is due in {n} day{'' if n == 1 else 's'}: {money(balance)}"
    return Draft(
        kind="due_soon",
        customer_id=customer_id,
        subject=f"invoice:{invoice_id}",
        period=f"due-{n}",
        title=title,
        body=f"Invoice {number} for {money(balance)} is due on {long_date(due)}. "
        "Paying online takes a minute.",
        link=f"/pay?invoice={invoice_id}",
        context={"button": "Pay now"},
    )


# ---- the overdue ladder ---------------------------------------------------------------------

LADDER_KINDS = {
    OverdueState.PAST_DUE: "overdue",
    OverdueState.WARNING: "service_warning",
    OverdueState.SUSPENDED: "service_suspended",
}


def ladder_draft(
    customer_id: int,
    old: str | None,
    new: OverdueState,
    since: date,
    message: str,
    turn_off: date | None,
) -> Draft | None:
    """The notice for entering a step of the ladder (keyed by the step and the day it began),
    or for service coming back after it was turned off; None for other moves."""
    if new is OverdueState.CURRENT:
        if old != OverdueState.SUSPENDED.value:
            return None
        return Draft(
            kind="service_restored",
            customer_id=customer_id,
            subject="service",
            period=f"restored-{since.isoformat()}",
            title="Your service is back on",
            body="Thank you: your payment brought the account up to date, and service is restored.",
            link="/",
        )
    titles = {
        OverdueState.PAST_DUE: "Your account is past due",
        OverdueState.WARNING: (
            f"Service will be turned off on {long_date(turn_off)}"
            if turn_off
            else "Service will be turned off"
        ),
        OverdueState.SUSPENDED: "Service was turned off for non-payment",
    }
    return Draft(
        kind=LADDER_KINDS[new],
        customer_id=customer_id,
        subject="account",
        period=f"{new.value}-{since.isoformat()}",
        title=titles[new],
        body=message,
        link="/pay",
        context={"button": "Pay the overdue balance"},
    )


def ladder_notices(s: Session, drafts: Sequence[Draft | None]) -> int:
    """Write the ladder's notices in the caller's unit of work (the one recording the states)."""
    found = [d for d in drafts if d is not None]
    return len(notify_many(s, found, quiet=_quiet(s))) if found else 0
