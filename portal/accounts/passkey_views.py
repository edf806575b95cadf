"""Passkey pages: the list (add, rename, remove), and the JSON endpoints the page's script
calls to add one, to sign in with one (passwordless, or as the second step), and to confirm
who you are with one before a security change."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts import alerts, passkeys, ratelimit, trusted
from portal.accounts.models import PortalUser
from portal.accounts.passkeys import PasskeyRefused
from portal.accounts.ratelimit import TooManyAttempts
from portal.accounts.service import AccountPolicy
from portal.accounts.views import bp
from portal.audit import signins
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.branding import brand
from portal.db import utcnow
from portal.formatting import device
from portal.forms import CsrfOnly
from portal.redirects import same_site_path

__all__ = ["bp"]


def _rp() -> passkeys.RelyingParty:
    return passkeys.relying_party(brand().name)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _json(data: dict[str, Any], status: int = 200) -> Response:
    """JSON that no cache or history keeps (it may carry recovery codes)."""
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _options(text: str) -> Response:
    return _json({"publicKey": current_app.json.loads(text)})


def _refused(message: str, status: int = 400) -> Response:
    return _json({"error": message}, status)


# ---- the list ----------------------------------------------------------------------------


@bp.route("/account/passkeys", endpoint="passkeys")
@auth.fresh_login_required("accounts.passkeys")
def passkeys_page() -> str:
    person = auth.user()
    return render_template(
        "accounts/passkeys.html",
        passkeys=passkeys.of_user(db.session(), person.id),
        suggested=device(request.user_agent.string),
        form=CsrfOnly(),
    )


@bp.route("/account/passkeys/options", methods=["POST"])
@auth.fresh_login_required("accounts.passkeys")
def passkey_register_options() -> Response:
    with db.transaction() as s:
        text = passkeys.registration_options(s, _rp(), s.merge(auth.user()))
    return _options(text)


@bp.route("/account/passkeys", methods=["POST"])
@auth.fresh_login_required("accounts.passkeys")
def passkey_register() -> Response:
    body = _body()
    # The device already made the key: a blank name must not throw it away.
    name = body.get("name") or device(request.user_agent.string)
    try:
        with db.transaction() as s:
            me = s.merge(auth.user())
            added = passkeys.register(s, _rp(), me, body.get("credential"), name)
            alerts.passkey_added(s, me, added.passkey.name)
            summary = f'{me.username} added the passkey "{added.passkey.name}"'
            record(
                s, Action.PASSKEY_ADDED, customer_id=me.customer_id, actor=actor(), summary=summary
            )
            if added.turned_on:
                alerts.two_factor_changed(s, me, on=True)
    except PasskeyRefused as exc:
        return _refused(str(exc))
    auth.mark_verified()
    if not added.codes:
        flash(f'The passkey "{added.passkey.name}" is added.', "success")
    return _json(
        {"name": added.passkey.name, "codes": added.codes, "redirect": url_for("accounts.passkeys")}
    )


@bp.route("/account/passkeys/<int:passkey_id>/name", methods=["POST"])
@auth.fresh_login_required("accounts.passkeys")
def passkey_rename(passkey_id: int) -> Response:
    try:
        with db.transaction() as s:
            found = passkeys.rename(s, auth.user().id, passkey_id, request.form.get("name"))
            if found is None:
                abort(404)
    except PasskeyRefused as exc:
        flash(str(exc), "error")
    else:
        flash(f'The passkey is now named "{found.name}".', "success")
    return redirect(url_for("accounts.passkeys"))


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@auth.fresh_login_required("accounts.passkeys")
def passkey_remove(passkey_id: int) -> Response:
    try:
        with db.transaction() as s:
            me = s.merge(auth.user())
            name = getattr(passkeys.owned(s, me.id, passkey_id), "name", "")
            went_off = passkeys.remove(
                s, me, passkey_id, must_keep_one=auth.must_use_two_factor(me)
            )
            if went_off is None:
                abort(404)
            summary = f'{me.username} removed the passkey "{name}"'
            record(
                s,
                Action.PASSKEY_REMOVED,
                customer_id=me.customer_id,
                actor=actor(),
                summary=summary,
            )
            if went_off:
                trusted.forget_all(s, me.id)
                alerts.two_factor_changed(s, me, on=False)
    except PasskeyRefused as exc:
        flash(str(exc), "error")
    else:
        flash("The passkey is removed: it no longer signs in to your account.", "success")
    return redirect(url_for("accounts.passkeys"))


# ---- signing in and confirming -----------------------------------------------------------


def _limits() -> ratelimit.LoginLimits:
    policy: AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy.limits


def _address() -> str:
    return request.remote_addr or "unknown"


def _attempt(purpose: str, user_id: int | None) -> Response | PortalUser:
    """Check the posted answer under the back-off; the person it signs, or a refusal. Failures
    count against the user when known (else the answer's owner, else this address)."""
    credential = _body().get("credential")
    address = _address()
    try:
        with db.transaction() as s:
            owner = user_id if user_id is not None else passkeys.credential_owner(s, credential)
            key = f"passkey:{owner}" if owner is not None else f"passkey:@{address}"
            ratelimit.check(s, _limits(), key, address, utcnow())
            try:
                person = passkeys.authenticate(s, _rp(), purpose, credential, user_id)
            except PasskeyRefused as exc:
                ratelimit.record_failure(s, key, address, utcnow())
                refusal = str(exc)
                if purpose == "login":
                    named = s.get(PortalUser, owner) if owner is not None else None
                    signins.login_failed(s, actor(), person=named, how="passkey")
            else:
                ratelimit.clear_account(s, key)
                return person
    except TooManyAttempts as exc:
        plural = "" if exc.minutes == 1 else "s"
        return _refused(f"Too many tries. Try again in {exc.minutes} minute{plural}.", 429)
    return _refused(refusal)


@bp.route("/login/passkey/options", methods=["POST"])
def passkey_login_options() -> Response:
    pending = auth.pending_user()
    with db.transaction() as s:
        text = passkeys.authentication_options(
            s, _rp(), "login", pending.id if pending is not None else None
        )
    return _options(text)


@bp.route("/login/passkey", methods=["POST"])
def passkey_login() -> Response:
    pending = auth.pending_user()
    outcome = _attempt("login", pending.id if pending is not None else None)
    if isinstance(outcome, Response):
        return outcome
    location = auth.finish_login(outcome).headers["Location"]
    wanted = same_site_path(_body().get("next"))
    if pending is None and wanted and location == auth.home_for(outcome):
        location = wanted
    return _json({"redirect": location})


@bp.route("/account/confirm/passkey/options", methods=["POST"])
@login_required
def passkey_confirm_options() -> Response:
    with db.transaction() as s:
        text = passkeys.authentication_options(s, _rp(), "confirm", auth.user().id)
    return _options(text)


@bp.route("/account/confirm/passkey", methods=["POST"])
@login_required
def passkey_confirm() -> Response:
    outcome = _attempt("confirm", auth.user().id)
    if isinstance(outcome, Response):
        return outcome
    auth.mark_verified()
    target = same_site_path(_body().get("next")) or url_for("accounts.profile")
    return _json({"redirect": target})
