"""Admins set the business's name, logo and brand colour; every page serves them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import BooleanField, Field, Form, StringField
from wtforms.validators import Optional, ValidationError

from portal import branding, db
from portal.accounts.models import Role
from portal.accounts.service import AccountError, normalize_email
from portal.auth import roles_required, user
from portal.forms import CleanText

bp = Blueprint("branding", __name__)

# Versioned URLs (?v=): a new brand is a new URL, so the old one may be cached for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


def _email(form: Form, field: Field) -> None:
    try:
        field.data = normalize_email(field.data or "")
    except AccountError as e:
        raise ValidationError(str(e)) from e


def _colour(form: Form, field: Field) -> None:
    try:
        field.data = branding.check_colour((field.data or "").strip())
    except ValueError as e:
        raise ValidationError(str(e)) from e


class BrandForm(FlaskForm):
    business_name = StringField(
        "Business name",
        description="Blank: the name in the portal's settings.",
        validators=[Optional(), CleanText(120)],
    )
    colour = StringField(
        "Brand colour",
        description="# and six hex digits, dark enough for white text (4.5:1), e.g. #0b6bcb.",
        validators=[Optional(), _colour],
    )
    contact_phone = StringField(
        "Phone for customers",
        description="Shown where customers are asked to contact you; blank: none.",
        validators=[Optional(), CleanText(40)],
    )
    contact_email = StringField(
        "E-mail for customers",
        description="Likewise; blank: none.",
        validators=[Optional(), CleanText(254), _email],
    )
    logo = FileField("Logo", description="PNG or JPEG, at most 200 KB.")
    remove_logo = BooleanField("Remove the logo")

    def validate_logo(self, field: Field) -> None:
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            field.data = None
            return
        data = upload.read(branding.MAX_LOGO_BYTES + 1)
        try:
            branding.check_logo(data)
        except ValueError as e:
            raise ValidationError(str(e)) from e
        field.data = data


@bp.route("/admin/branding", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit() -> Response | tuple[str, int]:
    s = db.session()
    row = s.get(branding.BrandSetting, 1)
    form = BrandForm(
        data={
            "business_name": row.business_name if row else "",
            "colour": row.colour if row else "",
            "contact_phone": row.contact_phone if row else "",
            "contact_email": row.contact_email if row else "",
        }
    )
    if form.validate_on_submit():
        with db.transaction() as s:
            branding.save_brand(
                s,
                (form.business_name.data or "").strip() or None,
                form.colour.data or None,
                form.logo.data,
                bool(form.remove_logo.data),
                user().id,
                contact=(
                    (form.contact_phone.data or "").strip(),
                    (form.contact_email.data or "").strip(),
                ),
            )
        flash("Branding saved.", "success")
        return redirect(url_for("branding.edit"))
    status = 400 if form.errors else 200
    return render_template("admin/branding.html", form=form), status


@bp.route("/brand/logo")
def logo() -> Response:
    found = branding.logo(db.session())
    if found is None:
        abort(404)
    data, mime = found
    response = Response(data, mimetype=mime)
    response.headers["Cache-Control"] = IMMUTABLE if request.args.get("v") else "no-cache"
    response.set_etag(branding.brand().version)
    return response.make_conditional(request)


@bp.route("/brand.css")
def css() -> Response:
    """The brand colour as --brand: a stylesheet, since the CSP allows no inline styles."""
    colour = branding.brand().colour
    response = Response(f":root {{ --brand: {colour}; }}\n", mimetype="text/css")
    response.headers["Cache-Control"] = IMMUTABLE if request.args.get("v") else "no-cache"
    return response
