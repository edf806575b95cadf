"""/account/details: a customer's name, contact and addresses, saved to QuickBooks."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal import auth, db
from portal.audit.web import actor
from portal.details import service
from portal.details.forms import DetailsForm
from portal.details.service import Saved
from sync.accounting import DETAIL_FIELDS

bp = Blueprint("details", __name__)

SAID = {
    Saved.QUEUED: "Saved. We are saving your details to our books; this takes a moment.",
    Saved.ALREADY: "Already saved: your details are on their way to our books.",
    Saved.NOTHING: "Nothing was changed.",
}


@bp.route("/account/details", methods=["GET", "POST"])
@auth.account_required(auth.Access.FULL)
def edit() -> Response | tuple[str, int]:
    customer_id = auth.account_id()
    page = service.shown(db.session(), customer_id)
    form = DetailsForm(data=service.for_form(page.values))
    if not form.form_key.data:
        form.form_key.data = secrets.token_urlsafe(24)
    if request.method == "GET":
        form.version.data = page.version
    elif form.validate_on_submit():
        submitted = {name: getattr(form, name).data or "" for name in DETAIL_FIELDS}
        try:
            wanted = service.read_form(submitted, page.values)
        except service.Invalid as exc:
            for name, words in exc.errors.items():
                getattr(form, name).errors.append(words)
        else:
            outcome = _save(customer_id, form, wanted)
            if outcome is not Saved.STALE:
                flash(SAID[outcome], "success" if outcome is not Saved.NOTHING else "info")
                return redirect(url_for("details.edit"))
            page = service.shown(db.session(), customer_id)
            form.version.data = page.version
            form.form_errors.append(
                "Your details changed while you were editing (in another tab, or by our "
                "staff). The page shows what you typed; check it and save again."
            )
    status = 400 if request.method == "POST" else 200
    return render_template("details/edit.html", form=form, page=page), status


def _save(customer_id: int, form: DetailsForm, wanted: service.Values) -> Saved:
    try:
        with db.transaction() as s:
            return service.save(
                s,
                customer_id,
                wanted,
                form.version.data or "",
                form.form_key.data or "",
                auth.user().id,
                actor(),
            )
    except IntegrityError:  # the same form, posted again at the same moment
        return Saved.ALREADY
