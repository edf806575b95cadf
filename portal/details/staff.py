"""/admin/customer-changes: details changed in the portal and in QuickBooks at once; staff
choose whose values stand."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.accounts.models import Role
from portal.audit.web import actor
from portal.auth import roles_required, user
from portal.details import conflicts
from portal.details.service import LABELS
from portal.forms import CsrfOnly

bp = Blueprint("customer_changes", __name__, url_prefix="/admin/customer-changes")


@bp.route("/")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def index() -> str:
    rows = conflicts.open_conflicts(db.session())
    return render_template("details/conflicts.html", rows=rows, labels=LABELS, form=CsrfOnly())


@bp.route("/<int:change_id>/<choice>", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def settle(change_id: int, choice: str) -> Response:
    act = {"portal": conflicts.apply_portal, "quickbooks": conflicts.keep_quickbooks}.get(choice)
    if act is None:
        abort(404)
    with db.transaction() as s:  # CSRF was checked, as for every POST, before this runs
        settled = act(s, change_id, user().id, actor())
    if not settled:
        flash("That change was already settled.", "info")
    elif choice == "portal":
        flash("The portal's values are on their way to QuickBooks again.", "success")
    else:
        flash("QuickBooks' values stand; the change is closed.", "success")
    return redirect(url_for("customer_changes.index"))
