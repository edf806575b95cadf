"""The customer's mobile number page: enter a number, type the code texted to it, or remove
it. Changes ask for a recent proof of identity (step-up)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired

from portal import auth, db
from portal.config import Settings
from portal.forms import CleanText
from portal.notifications import phone as phones

bp = Blueprint("phone", __name__)

View = str | Response | tuple[str, int]
PENDING_KEY = "phone_pending"  # the number the last code went to, in the signed cookie


class PhoneForm(FlaskForm):
    phone = StringField(
        "Mobile number",
        validators=[DataRequired(message="Enter a mobile number."), CleanText(40)],
        description="US numbers as (415) 555-0123; others with + and the country code.",
    )


class PhoneCodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(message="Enter the code we texted you."), CleanText(64)],
    )


class RemovePhoneForm(FlaskForm):
    pass


def _customer_id() -> int:
    return auth.account_id()


def _sms_on() -> bool:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    return bool(settings.sms.account_sid)


def _page(
    form: PhoneForm | None = None, code_form: PhoneCodeForm | None = None, status: int = 200
) -> tuple[str, int]:
    with db.transaction() as s:
        row = phones.contact(s, _customer_id())
        pending = session.get(PENDING_KEY) if phones.code_waiting(row) else None
        html = render_template(
            "notifications/phone.html",
            contact=row,
            pending=pending,
            sms_on=_sms_on(),
            form=form or PhoneForm(formdata=None),
            code_form=code_form or PhoneCodeForm(formdata=None),
            remove_form=RemovePhoneForm(formdata=None),
        )
    return html, status


@bp.route("/account/phone", methods=["GET", "POST"])
@auth.account_required(auth.Access.FULL)
@auth.fresh_login_required("phone.edit")
def edit() -> View:
    form = PhoneForm()
    if not form.is_submitted():
        return _page(form)
    if not _sms_on():
        form.phone.errors = ["Text messages are not available here."]
        return _page(form, status=400)
    if not form.validate():
        return _page(form, status=400)
    try:
        with db.transaction() as s:
            phone = phones.request_code(s, _customer_id(), form.phone.data or "")
    except phones.TooSoon as exc:
        form.phone.errors = [str(exc)]
        return _page(form, status=429)
    except phones.PhoneError as exc:
        form.phone.errors = [str(exc)]
        return _page(form, status=400)
    session[PENDING_KEY] = phone
    flash(f"We texted a code to {phone}. Type it below within 10 minutes.", "info")
    return redirect(url_for("phone.edit"))


@bp.route("/account/phone/confirm", methods=["POST"])
@auth.account_required(auth.Access.FULL)
@auth.fresh_login_required("phone.edit")
def confirm() -> View:
    form = PhoneCodeForm()
    if not form.validate():
        return _page(code_form=form, status=400)
    customer_id = _customer_id()
    with db.transaction() as s:
        row = phones.contact(s, customer_id)
        pending = session.get(PENDING_KEY) or (row.phone if row is not None else "")
        outcome = phones.confirm_code(s, customer_id, str(pending), form.code.data or "")
        left = phones.tries_left(s, customer_id)
    if outcome is phones.Outcome.CONFIRMED:
        session.pop(PENDING_KEY, None)
        flash(f"{pending} is verified: we can text you there.", "success")
        return redirect(url_for("phone.edit"))
    form.code.errors = [_why(outcome, left)]
    return _page(code_form=form, status=400)


def _why(outcome: phones.Outcome, left: int) -> str:
    if outcome is phones.Outcome.MALFORMED:
        return "The code is the six digits (0-9) in the text message."
    if outcome is phones.Outcome.WRONG and left:
        return f"That code is not right. {left} {'try' if left == 1 else 'tries'} left."
    return "No code is waiting (it expired or was tried too often). Ask for a new one."


@bp.route("/account/phone/remove", methods=["POST"])
@auth.account_required(auth.Access.FULL)
@auth.fresh_login_required("phone.edit")
def remove() -> View:
    form = RemovePhoneForm()
    if not form.validate():
        return _page(status=400)
    with db.transaction() as s:
        removed = phones.remove(s, _customer_id())
    session.pop(PENDING_KEY, None)
    flash("Your mobile number was removed." if removed else "There was no number.", "info")
    return redirect(url_for("phone.edit"))
