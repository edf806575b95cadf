"""Changing the login e-mail: ask (after a recent proof of who you are), then confirm from
the link sent to the new address."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired

from portal import auth, db
from portal.accounts import email_change
from portal.accounts.service import AccountError, AccountPolicy
from portal.accounts.tokens import TokenInvalid
from portal.accounts.views import bp
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.auth import user
from portal.forms import CleanText

__all__ = ["bp"]

View = str | Response | tuple[str, int]


class ChangeEmailForm(FlaskForm):
    email = StringField(
        "New e-mail",
        validators=[DataRequired(message="This field is required."), CleanText(254)],
        description="We e-mail a link to this address; it becomes your login e-mail once opened.",
    )


def _policy() -> AccountPolicy:
    policy: AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy


@bp.route("/account/email", methods=["GET", "POST"])
@auth.fresh_login_required("accounts.change_email")
def change_email() -> View:
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                sent_to = email_change.request_change(
                    s, _policy(), s.merge(user()), form.email.data or ""
                )
        except AccountError as exc:
            form.email.errors = [str(exc)]
        else:
            hours = int(email_change.LIFETIME.total_seconds() // 3600)
            flash(
                f"We have e-mailed a link to {sent_to}. Open it within {hours} hours to log in "
                f"with that address; until then your login e-mail stays {user().email}.",
                "info",
            )
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors else 200
    hours = int(email_change.LIFETIME.total_seconds() // 3600)
    return render_template("accounts/email_change.html", form=form, hours=hours), status


@bp.route("/account/email/confirm/<token>")
def confirm_email_change(token: str) -> View:
    logged_in = user().id if current_user.is_authenticated else None
    try:
        with db.transaction() as s:
            person, old = email_change.confirm_change(s, token, logged_in)
            record(
                s,
                Action.EMAIL_CHANGED,
                customer_id=person.customer_id,
                actor=actor(person),
                summary=f"Login e-mail changed from {old} to {person.email}",
                before={"email": old},
                after={"email": person.email},
            )
    except TokenInvalid as exc:
        return render_template("accounts/link_invalid.html", message=str(exc)), 400
    except AccountError as exc:
        message = f"{exc} Ask for a new link with another address."
        return render_template("accounts/link_invalid.html", message=message), 400
    flash(f"Your login e-mail is now {person.email}.", "success")
    if logged_in is None:
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.profile"))
