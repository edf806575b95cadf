"""Staff pages for late fees and the overdue ladder."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.accounts.models import PortalUser, Role
from portal.auth import roles_required, user
from portal.clock import today
from portal.config import Settings
from portal.forms import CsrfOnly
from portal.overdue.fees import fee_items, recent_fees
from portal.overdue.forms import PolicyForm, form_data
from portal.overdue.ladder import OverdueState
from portal.overdue.states import overdue_customers, record_states
from portal.overdue.store import policy_in_force, reset_policy, save_policy

bp = Blueprint("overdue", __name__, url_prefix="/admin")


def _settings() -> Settings:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return settings


def _late_fees_page(form: PolicyForm) -> str:
    s = db.session()
    in_force = policy_in_force(s, _settings())
    saved_by = s.get(PortalUser, in_force.saved_by) if in_force.saved_by else None
    return render_template(
        "overdue/late_fees.html",
        form=form,
        in_force=in_force,
        saved_by=saved_by,
        item_missing=not fee_items(s, in_force.policy.item_name),
        fees=recent_fees(s),
        reset_form=CsrfOnly(),
    )


@bp.route("/late-fees")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def late_fees() -> str:
    policy = policy_in_force(db.session(), _settings()).policy
    return _late_fees_page(PolicyForm(data=form_data(policy)))


@bp.route("/late-fees", methods=["POST"])
@roles_required(Role.ADMIN)
def save() -> Response | tuple[str, int]:
    form = PolicyForm()
    previous = policy_in_force(db.session(), _settings()).policy
    policy = form.to_policy(previous) if form.validate_on_submit() else None
    if policy is None:
        return _late_fees_page(form), 400
    with db.transaction() as s:
        save_policy(s, policy, user().id)
    flash("Late-fee policy saved; the hourly job applies it from its next run.", "success")
    return redirect(url_for("overdue.late_fees"))


@bp.route("/late-fees/reset", methods=["POST"])
@roles_required(Role.ADMIN)
def reset() -> Response:
    with db.transaction() as s:  # CSRFProtect checked the token before this view ran
        if reset_policy(s):
            flash("The saved policy is gone: the configuration file applies again.", "info")
    return redirect(url_for("overdue.late_fees"))


@bp.route("/overdue")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def overdue() -> str:
    wanted = request.args.get("state", "")
    state = OverdueState(wanted) if wanted in {s.value for s in OverdueState} else None
    return render_template(
        "overdue/overdue.html",
        rows=overdue_customers(db.session(), _settings(), today(), state),
        state=state,
        states=[s for s in OverdueState if s is not OverdueState.CURRENT],
        form=CsrfOnly(),
    )


@bp.route("/overdue/refresh", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def refresh() -> Response:
    with db.transaction() as s:  # CSRFProtect checked the token before this view ran
        counts = record_states(s, _settings(), today())
    total = sum(counts.values())
    flash(
        f"States checked: {total} overdue {'customer' if total == 1 else 'customers'}.",
        "success",
    )
    return redirect(url_for("overdue.overdue", state=request.args.get("state") or None))
