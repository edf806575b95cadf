"""The payment methods page: list, add without paying (Accept.js, checked by the processor),
make default, remove. Routes on the payments blueprint."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import auth, db
from portal.audit import events
from portal.audit.web import actor
from portal.auth import fresh_login_required, user
from portal.clock import today
from portal.config import Settings
from portal.confirm import ask, confirmed
from portal.forms import CsrfOnly
from portal.payments import methods as saved
from portal.payments import service
from portal.payments.gateway import GatewayError, SavedProfile, Token, Validation
from portal.payments.models import MethodKind, SavedMethod
from portal.payments.views import (
    ACCEPT_DESCRIPTOR,
    _client_key,
    _customer_id,
    _gateway,
    _methods,
    _with_accept_csp,
    bp,
)

logger = logging.getLogger(__name__)

KINDS = {"card": MethodKind.CARD, "bank": MethodKind.BANK}


def _own_method(method_id: int) -> SavedMethod:
    method = db.session().get(SavedMethod, method_id)
    if method is None or method.customer_id != _customer_id():
        abort(404)  # another customer's method looks exactly like a missing one
    only = auth.own_methods_only()
    if only is not None and method.added_by != only:
        abort(404)  # "pay" access keeps to the methods this person saved
    return method


def _named(method: SavedMethod) -> str:
    return f"{method.brand} ending in {method.last4}"


@bp.route("/payment-methods")
@auth.account_required(auth.Access.PAY)
def methods() -> str:
    now = today()
    rows = [(m, saved.expiry_state(m.expiry, now)) for m in _methods()]
    return render_template(
        "payments/methods.html", rows=rows, form=CsrfOnly(), enabled=_gateway() is not None
    )


def _render_add(kind: str, error: str | None = None, status: int = 200) -> Response:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    page = render_template(
        "payments/add_method.html",
        kind=kind,
        error=error,
        form=CsrfOnly(),
        accept_js_url=settings.authorizenet.accept_js_url,
        client_key=_client_key(),
        api_login_id=settings.authorizenet.api_login_id,
    )
    return _with_accept_csp(current_app.make_response((page, status)))


@bp.route("/payment-methods/add-card", methods=["GET", "POST"])
@auth.account_required(auth.Access.PAY)
@fresh_login_required("payments.methods")
def add_card() -> Response:
    return _add("card")


@bp.route("/payment-methods/add-bank-account", methods=["GET", "POST"])
@auth.account_required(auth.Access.PAY)
@fresh_login_required("payments.methods")
def add_bank() -> Response:
    return _add("bank")


def _add(kind: str) -> Response:
    """The add page, or keeping what its Accept.js token stands for."""
    gateway = _gateway()
    if gateway is None:
        abort(404)
    if request.method == "GET":
        return _render_add(kind)
    value = request.form.get("opaque_value", "")
    if request.form.get("opaque_descriptor") != ACCEPT_DESCRIPTOR or not 0 < len(value) <= 8000:
        message = "Your details did not reach the processor. Check them and try again."
        return _render_add(kind, message, 400)
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    db.release()  # the processor is asked: no transaction held across the call
    try:
        added = saved.add(
            db.database().sessions,
            gateway,
            _customer_id(),
            user().id,
            Token(ACCEPT_DESCRIPTOR, value),
            KINDS[kind],
            Validation(settings.authorizenet.validation_mode),
        )
    except saved.MethodNotAdded as exc:
        return _render_add(kind, f"It was not saved: {exc}", 400)
    flash(f"{added.brand} ending in {added.last4} was saved.", "success")
    return redirect(url_for("payments.methods"), code=303)


@bp.route("/payment-methods/<int:method_id>/default", methods=["POST"])
@auth.account_required(auth.Access.PAY)
@fresh_login_required("payments.methods")
def make_default(method_id: int) -> Response:
    chosen = _own_method(method_id)
    with db.transaction() as s:
        for method in _methods():
            method.is_default = method.id == chosen.id
        s.flush()
        events.method_default(s, actor(), chosen)
    flash(f"{_named(chosen)} is now your default.", "success")
    return redirect(url_for("payments.methods"))


@bp.route("/payment-methods/<int:method_id>/remove", methods=["POST"])
@auth.account_required(auth.Access.PAY)
@fresh_login_required("payments.methods")
def remove(method_id: int) -> Response | tuple[str, int]:
    method = _own_method(method_id)
    reason = saved.in_use(db.session(), method_id)
    if reason is not None:
        flash(f"{_named(method)} cannot be removed: {reason} Choose another method first.", "error")
        return redirect(url_for("payments.methods"))
    if not confirmed():
        return ask(
            f"Remove {_named(method)}?",
            "You will need to enter its details again to pay with it.",
            url_for("payments.remove", method_id=method_id),
            url_for("payments.methods"),
            "Remove",
        )
    gateway = _gateway()
    if gateway is not None:
        profile = SavedProfile(
            method.gateway_customer_profile_id, method.gateway_payment_profile_id
        )
        db.release()
        try:
            gateway.delete_method(profile)
        except GatewayError as exc:
            flash(f"The method could not be removed just now: {exc}", "error")
            return redirect(url_for("payments.methods"))
    with db.transaction() as s:
        service.forget_method(s, _customer_id(), method_id)
        events.method_removed(s, actor(), method)
    flash(f"{_named(method)} was removed.", "success")
    return redirect(url_for("payments.methods"))
