"""Staff post news to every customer or an alert to one; both show on dashboards."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, NumberRange, Optional

from portal import db
from portal.accounts.models import Role
from portal.auth import roles_required, user
from portal.billing.models import Customer
from portal.billing.notices import Notice
from portal.confirm import ask, confirmed
from portal.db import utcnow
from portal.forms import CleanText, CsrfOnly
from portal.ids import parse_id
from portal.notifications.service import Draft, notify_many

bp = Blueprint("notices", __name__, url_prefix="/admin")


class NoticeForm(FlaskForm):
    customer_id = HiddenField()
    title = StringField("Title", validators=[DataRequired(), CleanText(120)])
    body = TextAreaField("Message", validators=[DataRequired(), CleanText(2000)])
    days = IntegerField(
        "Show for (days, blank: until removed)",
        validators=[Optional(), NumberRange(min=1, max=365)],
    )
    send = BooleanField("Also send it by e-mail or text, as each customer chose for news")


def _customer(raw: str | None) -> Customer | None:
    if not raw:
        return None
    customer_id = parse_id(raw)
    customer = db.session().get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        abort(404)
    return customer


def send_notice(s: Session, posted: Notice) -> int:
    """Send news (to every active customer) or an alert (to its customer) through the
    notices, in the unit of work that posts it; how many customers it goes to."""
    if posted.customer_id is not None:
        audience = [posted.customer_id]
    else:
        audience = list(s.scalars(sa.select(Customer.id).where(Customer.active)))
    drafts = [
        Draft(
            kind="news",
            customer_id=customer_id,
            subject=f"notice:{posted.id}",
            period="posted",
            title=posted.title,
            body=posted.body,
            link="/",
        )
        for customer_id in audience
    ]
    return len(notify_many(s, drafts))


@bp.route("/notices", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def notices() -> Response | tuple[str, int]:
    form = NoticeForm()
    customer = _customer(request.values.get("customer") or form.customer_id.data)
    if form.validate_on_submit():
        expires = utcnow() + timedelta(days=form.days.data) if form.days.data else None
        with db.transaction() as s:
            posted = Notice(
                customer_id=customer.id if customer else None,
                title=form.title.data or "",
                body=form.body.data or "",
                expires_at=expires,
                created_by=user().id,
            )
            s.add(posted)
            s.flush()
            sent = send_notice(s, posted) if form.send.data else 0
        flash(
            ("Alert posted." if customer else "News posted to every customer.")
            + (f" Sending it to {sent} customer{'' if sent == 1 else 's'}." if sent else ""),
            "success",
        )
        return redirect(url_for("notices.notices"))
    current = list(
        db.session()
        .execute(
            sa.select(Notice, Customer.display_name)
            .outerjoin(Customer, Customer.id == Notice.customer_id)
            .order_by(Notice.id.desc())
            .limit(100)
        )
        .all()
    )
    status = 400 if form.errors else 200
    return render_template(
        "admin/notices.html", form=form, customer=customer, rows=current, delete_form=CsrfOnly()
    ), status


@bp.route("/notices/<int:notice_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete(notice_id: int) -> Response | tuple[str, int]:
    if not confirmed():
        notice = db.session().get(Notice, notice_id)
        if notice is None:
            abort(404)
        return ask(
            f"Remove \u201c{notice.title}\u201d?",
            "Customers will no longer see it on their dashboard.",
            url_for("notices.delete", notice_id=notice_id),
            url_for("notices.notices"),
            "Remove",
        )
    with db.transaction() as s:
        notice = s.get(Notice, notice_id)
        if notice is None:
            abort(404)
        s.delete(notice)
    flash("Removed.", "success")
    return redirect(url_for("notices.notices"))
