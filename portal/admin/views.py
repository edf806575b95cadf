"""Staff pages: the customer list (who has a login, who was invited) and inviting customers."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from portal import db
from portal.accounts import service as accounts
from portal.accounts.models import Role
from portal.admin import customers
from portal.audit import events
from portal.audit.web import actor
from portal.auth import roles_required
from portal.clock import clock_of, today
from portal.forms import CleanText
from portal.ids import parse_id

bp = Blueprint("admin", __name__, url_prefix="/admin")


class InviteForm(FlaskForm):
    customer_id = HiddenField(validators=[DataRequired()])
    email = StringField("E-mail", validators=[DataRequired(), CleanText(254)])


@bp.route("/")
@roles_required(Role.ADMIN, Role.BOOKKEEPER)
def index() -> str:
    query = customers.parse_query(request.args)
    return render_template(
        "admin/index.html",
        page=customers.customer_page(db.session(), query, today()),
        sorts=customers.SORTS,
        now=clock_of(current_app)(),
        form=InviteForm(),
    )


@bp.route("/invite", methods=["POST"])
@roles_required(Role.ADMIN)
def invite() -> Response | tuple[str, int]:
    form = InviteForm()
    back = url_for("admin.index", **customers.parse_query(request.form).args())
    if form.validate_on_submit():
        try:
            customer_id = parse_id(form.customer_id.data)
            if customer_id is None:
                raise ValueError("not a customer id")
            policy = current_app.extensions["portal.account_policy"]
            with db.transaction() as s:
                accounts.invite_customer(s, policy, customer_id, form.email.data or "")
                sent_to = accounts.normalize_email(form.email.data or "")
                events.invitation_sent(s, actor(), customer_id, sent_to)
        except ValueError as exc:  # AccountError is a ValueError; so is a bad id
            flash(
                str(exc) if isinstance(exc, accounts.AccountError) else "No such customer.", "error"
            )
        else:
            sent_to = accounts.normalize_email(form.email.data or "")
            flash(f"Invitation sent to {sent_to}.", "success")
        return redirect(back)
    errors = "; ".join(e for errs in form.errors.values() for e in errs)
    flash(f"The invitation was not sent: {errors}", "error")
    return redirect(back)
