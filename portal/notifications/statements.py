"""Statement notices: on the statement day of the month (company date), each customer who
wants one gets the statement of the month (or quarter) before, with its PDF attached."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from portal.billing.models import Customer, Invoice
from portal.clock import app_today, clock_of
from portal.config import Settings
from portal.invoices.pdf import statement_pdf
from portal.invoices.statements import build_statement
from portal.notifications.models import Notification, StatementPreference
from portal.notifications.service import Draft, notify_many
from portal.overdue.ladder import long_date

logger = logging.getLogger(__name__)

QUARTER_STARTS = (1, 4, 7, 10)


def period_before(today: date, frequency: str) -> tuple[date, date] | None:
    """The month (or quarter) a statement sent today covers; None when none is due today
    (a quarterly statement goes out in January, April, July and October)."""
    end = today.replace(day=1) - timedelta(days=1)
    if frequency == "monthly":
        return end.replace(day=1), end
    if frequency == "quarterly" and today.month in QUARTER_STARTS:
        return date(end.year, end.month - 2, 1), end  # the quarter ends in Mar, Jun, Sep, Dec
    return None


def statements(app: Flask) -> int:
    """Write the statement notices due today (the hourly job calls it; keys make it once)."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    sessions = app.extensions["portal.db"].sessions
    with sessions() as s:
        today = app_today(app, s)
        if today.day != settings.notifications.statement_day:
            return 0
        chosen: dict[int, str] = {
            customer_id: frequency
            for customer_id, frequency in s.execute(
                sa.select(StatementPreference.customer_id, StatementPreference.frequency)
            )
        }
        # Customers with something to say: an open balance, or an invoice in the last quarter.
        active = s.scalars(
            sa.select(Invoice.customer_id)
            .where(
                ~Invoice.deleted,
                sa.or_(Invoice.balance > 0, Invoice.txn_date >= today - timedelta(days=92)),
            )
            .distinct()
        ).all()
        drafts = []
        for customer_id in active:
            span = period_before(today, chosen.get(customer_id, "monthly"))
            if span is None:
                continue
            start, end = span
            drafts.append(
                Draft(
                    kind="statement",
                    customer_id=customer_id,
                    subject="statement",
                    period=f"{start.isoformat()}/{end.isoformat()}",
                    title=f"Your statement for {_span_name(start, end)}",
                    body=f"Your statement from {long_date(start)} to {long_date(end)} is "
                    "attached, and always in the portal.",
                    link=f"/statements?start={start.isoformat()}&end={end.isoformat()}",
                    context={
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                        "button": "See it in the portal",
                    },
                )
            )
        made = notify_many(s, drafts, now=clock_of(app)())
        s.commit()
    if made:
        logger.info("statements: %s notices", len(made))
    return len(made)


def _span_name(start: date, end: date) -> str:
    if start.month == end.month:
        return f"{start:%B} {start.year}"
    return f"{start:%B} to {end:%B} {end.year}"


def statement_attachment(
    app: Flask, s: Session, notice: Notification
) -> tuple[str, str, bytes] | None:
    """The statement PDF for a statement notice, printed at delivery (None when this server
    cannot print PDFs: the e-mail still goes, with its link to the portal)."""
    customer = s.get(Customer, notice.customer_id)
    data = notice.context
    if customer is None or not isinstance(data.get("start"), str):
        return None
    start, end = date.fromisoformat(str(data["start"])), date.fromisoformat(str(data["end"]))
    statement = build_statement(s, customer, start, end, app_today(app, s))
    settings: Settings = app.config["PORTAL_SETTINGS"]
    try:
        # The print template names its stylesheet with url_for: give it the portal's address.
        with app.test_request_context("/", base_url=settings.portal.public_url):
            pdf = statement_pdf(statement)
    except (OSError, ImportError):
        logger.exception(
            "statement %s goes without its PDF: PDFs cannot be printed here", notice.id
        )
        return None
    return (f"statement-{start}-{end}.pdf", "application/pdf", pdf)
