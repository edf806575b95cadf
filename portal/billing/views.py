"""Customer pages about what is owed."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts import preferences
from portal.auth import customer_required
from portal.billing import activity, notices, service
from portal.billing.models import Customer
from portal.branding import brand
from portal.clock import today
from portal.db import utcnow
from portal.overdue import fees, ladder

bp = Blueprint("billing", __name__)


def _customer_id() -> int:
    return auth.account_id()


@bp.route("/")
@customer_required
def dashboard() -> str:
    customer_id = _customer_id()
    s = db.session()
    day = today()
    shown = preferences.current().shown
    summary = service.account_summary(s, customer_id, day)
    settings = current_app.config["PORTAL_SETTINGS"]
    overdue = ladder.account_status(s, customer_id, day, settings)
    # Only what a shown widget needs is read.
    months = activity.monthly(s, customer_id, day) if "chart" in shown else []
    return render_template(
        "billing/dashboard.html",
        widgets=shown,
        summary=summary,
        today=day,
        past_due=service.past_due_notice(summary, overdue),
        fees=fees.unpaid_fees(s, customer_id) if "balance" in shown else 0,
        invoices=service.open_invoices(s, customer_id, limit=10) if "invoices" in shown else [],
        recent=activity.recent_activity(s, customer_id) if "activity" in shown else [],
        months=months,
        scale=activity.chart_scale(months),
        # The customer's own alerts always show; news for everyone is the "news" widget.
        notices=notices.for_customer(s, customer_id, utcnow()),
        recommended=activity.recommended(
            s, summary.customer, exclude=settings.late_fees.item_name.lower()
        )
        if "services" in shown
        else [],
    )


@bp.route("/services/<int:item_id>/ask", methods=["POST"])
@auth.account_required(auth.Access.FULL)
def ask_about_service(item_id: int) -> Response:
    """A recommended service's link: tell the staff this customer would like it."""
    with db.transaction() as s:
        customer = s.get(Customer, _customer_id())
        if customer is None:
            abort(404)
        try:
            item = service.ask_about_service(s, customer, item_id, today())
        except LookupError:
            abort(404)
    flash(
        f"Thank you: we told {brand().name} you would like "
        f"\u201c{item.name}\u201d. They will be in touch.",
        "success",
    )
    return redirect(url_for("billing.dashboard"))
