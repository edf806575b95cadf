"""Staff pages: who has a login, and inviting customers to the portal."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from portal import db
from portal.accounts import service as accounts
from portal.accounts.models import PortalUser, Role
from portal.auth import roles_required
from portal.billing.models import Customer
from portal.forms import CleanText

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


class InviteForm(FlaskForm):
    customer_id = HiddenField(validators=[DataRequired()])
    email = StringField("E-mail", validators=[DataRequired(), CleanText(254)])


@bp.route("/")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def index() -> str:
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    s = db.session()
    logins = (
        sa.select(PortalUser.customer_id, sa.func.count(PortalUser.id).label("n"))
        .group_by(PortalUser.customer_id)
        .subquery()
    )
    rows = s.execute(
        sa.select(Customer, sa.func.coalesce(logins.c.n, 0))
        .outerjoin(logins, logins.c.customer_id == Customer.id)
        .order_by(Customer.display_name, Customer.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template("admin/index.html", rows=rows, page=page, form=InviteForm())


@bp.route("/invite", methods=["POST"])
@roles_required(Role.ADMIN)
def invite() -> Response | tuple[str, int]:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            customer_id = int(form.customer_id.data or "")
            policy = current_app.extensions["portal.account_policy"]
            with db.transaction() as s:
                accounts.invite_customer(s, policy, customer_id, form.email.data or "")
        except ValueError as exc:  # AccountError is a ValueError; so is a bad id
            flash(
                str(exc) if isinstance(exc, accounts.AccountError) else "No such customer.", "error"
            )
        else:
            flash("Invitation sent.", "success")
        return redirect(url_for("admin.index"))
    errors = "; ".join(e for errs in form.errors.values() for e in errs)
    flash(f"The invitation was not sent: {errors}", "error")
    return redirect(url_for("admin.index"))
