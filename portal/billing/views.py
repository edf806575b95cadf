"""Customer pages about what is owed."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal import db
from portal.auth import customer_required, user
from portal.billing import service
from portal.clock import today

bp = Blueprint("billing", __name__)


@bp.route("/")
@customer_required
def dashboard() -> str:
    customer_id = user().customer_id
    assert customer_id is not None  # guaranteed by the role check and a DB constraint
    s = db.session()
    summary = service.account_summary(s, customer_id, today())
    invoices = service.open_invoices(s, customer_id)
    return render_template(
        "billing/dashboard.html", summary=summary, invoices=invoices, today=today()
    )
