"""Admins set the sign-in rules: whether customers must use a second factor (staff always
must), an optional password age after which people are asked for a new password, and whether
customers may create their own login from an invoice."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal import db
from portal.accounts import signin_policy
from portal.accounts.models import Role
from portal.auth import roles_required, user

bp = Blueprint("admin_security", __name__)

# ASCII digits only: int() would also take '²' or '٣٠'; five digits bound what is parsed.
_DAYS = re.compile(r"[0-9]{1,5}")
DAYS_ERROR = (
    f"Enter the number of days as a whole number from {signin_policy.MIN_AGE_DAYS} "
    f"to {signin_policy.MAX_AGE_DAYS}, in digits 0-9."
)


def parse_days(raw: str | None) -> int | None:
    """The days `raw` names when they are ASCII digits within the allowed range, else None."""
    text = (raw or "").strip()
    if not _DAYS.fullmatch(text):
        return None
    days = int(text)
    return days if signin_policy.MIN_AGE_DAYS <= days <= signin_policy.MAX_AGE_DAYS else None


class SecurityForm(FlaskForm):
    customer_two_factor = RadioField(
        "Second factor for customers",
        choices=[
            SelectChoice("optional", "Optional: each customer chooses (default)"),
            SelectChoice("required", "Required: customers set one up before anything else"),
        ],
        validate_choice=False,
    )
    password_age = RadioField(
        "Ask for a new password",
        choices=[
            SelectChoice("off", "Never (default)"),
            SelectChoice("days", "After a number of days"),
        ],
        validate_choice=False,
    )
    self_claim = RadioField(
        "Customers create their own login",
        choices=[
            SelectChoice(
                "on", "On: from a recent invoice, by a link to the e-mail on file (default)"
            ),
            SelectChoice("off", "Off: only by your invitation"),
        ],
        validate_choice=False,
    )
    days = StringField(
        "Days",
        render_kw={"inputmode": "numeric"},
        description=(
            f"{signin_policy.MIN_AGE_DAYS} to {signin_policy.MAX_AGE_DAYS}; "
            "used only with “After a number of days”."
        ),
    )

    def validate_customer_two_factor(self, field: Field) -> None:
        if field.data not in signin_policy.CUSTOMER_CHOICES:
            raise ValidationError("Choose optional or required.")

    def validate_password_age(self, field: Field) -> None:
        if field.data not in ("off", "days"):
            raise ValidationError("Choose never or after a number of days.")

    def validate_self_claim(self, field: Field) -> None:
        if field.data not in ("on", "off"):
            raise ValidationError("Choose on or off.")

    def validate_days(self, field: Field) -> None:
        if self.password_age.data == "days" and parse_days(field.data) is None:
            raise ValidationError(DAYS_ERROR)

    def max_age_days(self) -> int | None:
        """The password age chosen (call after validate): None is off."""
        return parse_days(self.days.data) if self.password_age.data == "days" else None


@bp.route("/admin/security", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit() -> Response | tuple[str, int]:
    found = signin_policy.rules(db.session())
    form = SecurityForm(
        data={
            "customer_two_factor": found.customer_two_factor,
            "password_age": "off" if found.password_max_age_days is None else "days",
            "days": str(found.password_max_age_days or ""),
            "self_claim": "on" if found.self_claim else "off",
        }
    )
    if form.validate_on_submit():
        with db.transaction() as s:
            signin_policy.save(
                s,
                form.customer_two_factor.data or "",
                form.max_age_days(),
                user().id,
                self_claim=form.self_claim.data == "on",
            )
        flash("Sign-in rules saved.", "success")
        return redirect(url_for("admin_security.edit"))
    status = 400 if form.errors else 200
    return render_template("admin/security.html", form=form, rules=found), status
