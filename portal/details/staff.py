"""/admin/customer-changes: details changed in the portal and in QuickBooks at once; staff
choose whose values stand."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal import db
from portal.accounts.models import Role
from portal.audit.service import Actor
from portal.audit.web import actor
from portal.auth import roles_required, user
from portal.details import conflicts
from portal.details.models import CustomerChange
from portal.details.service import LABELS
from portal.forms import CsrfOnly

bp = Blueprint("customer_changes", __name__, url_prefix="/admin/customer-changes")

Settle = Callable[[Session, int, int, Actor], bool]


@bp.route("/")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def index() -> str:
    rows = conflicts.open_conflicts(db.session())
    return render_template("details/conflicts.html", rows=rows, labels=LABELS, form=CsrfOnly())


@bp.route("/<int:change_id>/apply-portal", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def apply_portal(change_id: int) -> Response:
    said = "The portal's values are on their way to QuickBooks again."
    return _settle(change_id, conflicts.apply_portal, said)


@bp.route("/<int:change_id>/keep-quickbooks", methods=["POST"])
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def keep_quickbooks(change_id: int) -> Response:
    return _settle(change_id, conflicts.keep_quickbooks, "QuickBooks' values stand.")


def _settle(change_id: int, act: Settle, said: str) -> Response:
    if db.session().get(CustomerChange, change_id) is None:
        abort(404)
    with db.transaction() as s:  # CSRF was checked, as for every POST, before this runs
        settled = act(s, change_id, user().id, actor())
    flash(said if settled else "That change was already settled.", "success" if settled else "info")
    return redirect(url_for("customer_changes.index"))
