"""Customer pages about what is owed."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from portal import db
from portal.auth import customer_required, user
from portal.billing import activity, notices, service
from portal.clock import today
from portal.db import utcnow
from portal.overdue import fees, ladder

bp = Blueprint("billing", __name__)


@bp.route("/")
@customer_required
def dashboard() -> str:
    customer_id = user().customer_id
    assert customer_id is not None  # guaranteed by the role check and a DB constraint
    s = db.session()
    day = today()
    summary = service.account_summary(s, customer_id, day)
    months = activity.monthly(s, customer_id, day)
    settings = current_app.config["PORTAL_SETTINGS"]
    return render_template(
        "billing/dashboard.html",
        summary=summary,
        invoices=service.open_invoices(s, customer_id, limit=10),
        today=day,
        recent=activity.recent_activity(s, customer_id),
        months=months,
        scale=activity.chart_scale(months),
        notices=notices.for_customer(s, customer_id, utcnow()),
        recommended=activity.recommended(
            s, summary.customer, exclude=settings.late_fees.item_name.lower()
        ),
        overdue=ladder.account_status(s, customer_id, day, settings),
        fees=fees.unpaid_fees(s, customer_id),
    )
