""" "Create your login": ask with an invoice, then choose a username and password from the link
that went to the e-mail address on file."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field, StringField
from wtforms.validators import DataRequired, Optional, ValidationError

from portal import auth, db
from portal.accounts import claim
from portal.accounts.forms import AcceptInviteForm
from portal.accounts.passwords import PasswordRejected
from portal.accounts.service import AccountError, AccountPolicy
from portal.accounts.tokens import TokenInvalid
from portal.accounts.views import bp
from portal.audit.web import actor
from portal.clock import clock_of, today
from portal.forms import CleanText

__all__ = ["bp"]

View = str | Response | tuple[str, int]


class ClaimForm(FlaskForm):
    invoice_number = StringField(
        "Invoice number",
        validators=[
            DataRequired(message="Enter the number of one of your invoices."),
            CleanText(claim.INVOICE_NUMBER_LENGTH),
        ],
        description="As printed on a recent invoice from us.",
    )
    amount = StringField(
        "The invoice's total",
        validators=[CleanText(40)],  # not Optional(): it would skip validate_amount
        render_kw={"inputmode": "decimal"},
        description="In dollars and cents, e.g. 1,234.50.",
    )
    postal_code = StringField(
        "Or your billing ZIP or postal code",
        validators=[Optional(), CleanText(30)],
        description="Instead of the total: the ZIP code on your bills.",
    )

    def validate_amount(self, field: Field) -> None:
        if field.data and field.data.strip():
            try:
                claim.parse_amount(field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
        elif not (self.postal_code.data or "").strip():
            raise ValidationError("Give the invoice's total, or your billing ZIP or postal code.")

    def proof(self) -> claim.Proof:
        """What was typed (call after validate)."""
        amount = (self.amount.data or "").strip()
        postal = (self.postal_code.data or "").strip()
        return claim.Proof(
            invoice_number=self.invoice_number.data or "",
            amount=claim.parse_amount(amount) if amount else None,
            postal_code=postal or None,
        )


def _policy() -> AccountPolicy:
    policy: AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy


def _unavailable() -> tuple[str, int]:
    return render_template("accounts/claim_unavailable.html"), 403


@bp.app_template_global()
def self_claim_offered() -> bool:
    """Whether the sign-in page offers "Create your login"."""
    return claim.enabled(db.session())


@bp.route("/claim", methods=["GET", "POST"])
def claim_request() -> View:
    if not claim.enabled(db.session()):
        return _unavailable()
    form = ClaimForm()
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("accounts/claim.html", form=form), status
    try:
        with db.transaction() as s:
            claim.request_claim(
                s, _policy(), form.proof(), actor(), clock_of(current_app)(), today()
            )
    except claim.ClaimUnavailable:
        return _unavailable()
    return redirect(url_for("accounts.claim_requested"))


@bp.route("/claim/requested")
def claim_requested() -> View:
    hours = int(claim.LIFETIME.total_seconds() // 3600)
    return render_template("accounts/claim_requested.html", hours=hours)


@bp.route("/claim/<token>", methods=["GET", "POST"])
def claim_link(token: str) -> View:
    try:
        offer = claim.check_link(db.session(), token)
    except claim.ClaimUnavailable:
        return _unavailable()
    except TokenInvalid as exc:
        return render_template("accounts/claim_invalid.html", message=str(exc)), 400
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                person = claim.complete_claim(
                    s,
                    _policy(),
                    token,
                    form.username.data or "",
                    form.new_password.data or "",
                    actor(),
                )
        except claim.ClaimUnavailable:
            return _unavailable()
        except TokenInvalid as exc:
            return render_template("accounts/claim_invalid.html", message=str(exc)), 400
        except PasswordRejected as exc:
            form.new_password.errors = [str(exc)]
        except AccountError as exc:
            form.username.errors = [str(exc)]
        else:
            signed_in = auth.finish_login(person)  # a new session: flash after it
            flash("Welcome! Your login is ready.", "success")
            return signed_in
    status = 400 if form.errors else 200
    return render_template("accounts/claim_link.html", form=form, offer=offer), status
