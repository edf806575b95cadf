"""Two-factor pages: the second step of signing in, setting up an authenticator app, recovery
codes, remembered devices, and confirming who you are before a security change (step-up)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts import alerts, email_codes, factors, passwords, ratelimit, trusted
from portal.accounts.forms import CodeForm, ConfirmForm
from portal.accounts.models import PortalUser
from portal.accounts.ratelimit import TooManyAttempts
from portal.accounts.service import AccountPolicy
from portal.accounts.views import bp
from portal.audit import signins
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.branding import brand
from portal.db import utcnow
from portal.forms import CsrfOnly
from portal.redirects import same_site_path

View = str | Response | tuple[str, int]
METHODS = ("app", "recovery", "email")

__all__ = ["bp"]


def _limits() -> ratelimit.LoginLimits:
    policy: AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy.limits


def _address() -> str:
    return request.remote_addr or "unknown"


def _no_store(page: str, status: int = 200) -> Response:
    """Codes on a page: never cached, never kept in history."""
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- the second step of signing in -------------------------------------------------------


def _verify_page(person: PortalUser, form: CodeForm, method: str, status: int = 200) -> View:
    s = db.session()
    if method != "recovery":  # six digits: a phone shows its number pad
        form.code.render_kw = {"inputmode": "numeric", "pattern": "[0-9 ]*"}
    page = render_template(
        "accounts/verify.html",
        form=form,
        method=method,
        has_app=factors.has_app(s, person.id),
        has_passkey=factors.passkey_count(s, person.id) > 0,
    )
    return page, status


@bp.route("/login/verify", methods=["GET", "POST"])
def verify() -> View:
    person = auth.pending_user()
    if person is None:
        flash("Sign in again: the first step expired.", "info")
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    method = request.values.get("method", "")
    if method not in METHODS:
        method = "app" if factors.has_app(db.session(), person.id) else "email"
    if request.method == "GET" or not form.validate_on_submit():
        return _verify_page(person, form, method, 400 if form.errors else 200)
    try:
        with db.transaction() as s:
            ratelimit.check(s, _limits(), ratelimit.factor_key(person.id), _address(), utcnow())
            code = form.code.data or ""
            if method == "app":
                ok = factors.verify_totp(s, person.id, code)
            elif method == "recovery":
                ok = factors.use_recovery_code(s, person.id, code)
            else:
                ok = email_codes.verify(s, person.id, code)
            if ok:
                ratelimit.clear_account(s, ratelimit.factor_key(person.id))
            else:
                ratelimit.record_failure(s, ratelimit.factor_key(person.id), _address(), utcnow())
                signins.login_failed(s, actor(), person=person, how=method)
    except TooManyAttempts as exc:
        form.code.errors = [
            f"Too many wrong codes. Try again in {exc.minutes} "
            f"minute{'' if exc.minutes == 1 else 's'}."
        ]
        return _verify_page(person, form, method, 429)
    if not ok:
        form.code.errors = [
            "That code is not right, or was already used. "
            + ("Codes change every 30 seconds." if method == "app" else "Check it and try again.")
        ]
        return _verify_page(person, form, method, 401)
    signed_in = auth.finish_login(person, remember_device=bool(form.remember.data))
    if method == "recovery":  # flashed after the login, which starts a fresh cookie
        left = factors.recovery_codes_left(db.session(), person.id)
        flash(
            f"You used a recovery code; {left} left. Make new ones on the two-factor page.",
            "warning",
        )
    return signed_in


@bp.route("/login/verify/email", methods=["POST"])
def verify_send_email() -> Response:
    person = auth.pending_user()
    if person is None:
        return redirect(url_for("accounts.login"))
    try:
        with db.transaction() as s:
            email_codes.send(s, s.merge(person))
    except email_codes.SendRefused as exc:
        flash(str(exc), "warning")
    else:
        flash("We e-mailed you a sign-in code. It works for 10 minutes.", "info")
    return redirect(url_for("accounts.verify", method="email"))


# ---- step-up: confirm it is you -----------------------------------------------------------


@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
def confirm() -> View:
    form = ConfirmForm()
    person = auth.user()
    target = same_site_path(request.values.get("next")) or url_for("accounts.profile")
    has_app = factors.has_app(db.session(), person.id)
    if form.validate_on_submit():
        secret = form.secret.data or ""
        try:
            with db.transaction() as s:
                ratelimit.check(s, _limits(), ratelimit.factor_key(person.id), _address(), utcnow())
                ok = passwords.verify_password(person.password_hash, secret) or (
                    has_app and factors.verify_totp(s, person.id, secret)
                )
                if not ok:
                    ratelimit.record_failure(
                        s, ratelimit.factor_key(person.id), _address(), utcnow()
                    )
        except TooManyAttempts as exc:
            form.secret.errors = [f"Too many wrong tries. Try again in {exc.minutes} minutes."]
        else:
            if ok:
                auth.mark_verified()
                return redirect(target)
            form.secret.errors = ["That is not your password or a current code."]
    page = render_template(
        "accounts/confirm.html",
        form=form,
        next=target,
        has_app=has_app,
        has_passkey=factors.passkey_count(db.session(), person.id) > 0,
    )
    return page, 400 if form.errors else 200


# ---- the two-factor page -----------------------------------------------------------------


@bp.route("/account/two-factor")
@login_required
def two_factor() -> View:
    person = auth.user()
    s = db.session()
    return render_template(
        "accounts/two_factor.html",
        has_app=factors.has_app(s, person.id),
        passkeys=factors.passkey_count(s, person.id),
        codes_left=factors.recovery_codes_left(s, person.id),
        devices=trusted.live(s, person.id),
        required=auth.must_use_two_factor(person),
        form=CsrfOnly(),
    )


@bp.route("/account/two-factor/app")
@auth.fresh_login_required("accounts.two_factor")
def totp_setup() -> View:
    person = auth.user()
    with db.transaction() as s:
        if factors.has_app(s, person.id):
            return redirect(url_for("accounts.two_factor"))
        secret = factors.pending_secret(s, person.id) or factors.start_totp(s, s.merge(person))
    return _setup_page(person, secret, CodeForm())


def _setup_page(person: PortalUser, secret: str, form: CodeForm, status: int = 200) -> Response:
    business = brand().name
    uri = factors.provisioning_uri(secret, person.username, business)
    page = render_template(
        "accounts/totp_setup.html",
        form=form,
        qr=factors.qr_svg(uri, f"QR code for {business}"),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    )
    return _no_store(page, status)


@bp.route("/account/two-factor/app", methods=["POST"])
@auth.fresh_login_required("accounts.totp_setup")
def totp_confirm() -> View:
    person = auth.user()
    form = CodeForm()
    codes: list[str] = []
    with db.transaction() as s:
        me = s.merge(person)
        secret = factors.pending_secret(s, me.id)
        if secret is None:
            return redirect(url_for("accounts.two_factor"))
        first = not me.two_factor
        done = form.validate_on_submit() and factors.confirm_totp(s, me, form.code.data or "")
        if done:
            summary = f"{me.username} set up an authenticator app"
            record(
                s,
                Action.TWO_FACTOR_ADDED,
                customer_id=me.customer_id,
                actor=actor(),
                summary=summary,
            )
        if done and first:
            codes = factors.new_recovery_codes(s, me.id)
            alerts.two_factor_changed(s, me, on=True)
    if not done:
        form.code.errors = form.code.errors or [
            "That code is not right. Type the 6 digits your app shows now."
        ]
        return _setup_page(person, secret, form, 400)
    auth.mark_verified()
    if not codes:
        flash("Your authenticator app is set up.", "success")
        return redirect(url_for("accounts.two_factor"))
    return _no_store(render_template("accounts/recovery_codes.html", codes=codes, first=True))


@bp.route("/account/two-factor/app/remove", methods=["POST"])
@auth.fresh_login_required("accounts.two_factor")
def totp_remove() -> Response:
    person = auth.user()
    with db.transaction() as s:
        me = s.merge(person)
        if auth.must_use_two_factor(me) and factors.passkey_count(s, me.id) == 0:
            flash(
                "Your account must keep a second factor: add a passkey before removing the app.",
                "error",
            )
            return redirect(url_for("accounts.two_factor"))
        if factors.remove_totp(s, me):
            summary = f"{me.username} removed their authenticator app"
            record(
                s,
                Action.TWO_FACTOR_REMOVED,
                customer_id=me.customer_id,
                actor=actor(),
                summary=summary,
            )
        if not me.two_factor:
            trusted.forget_all(s, me.id)
            alerts.two_factor_changed(s, me, on=False)
    flash("The authenticator app is removed.", "success")
    return redirect(url_for("accounts.two_factor"))


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@auth.fresh_login_required("accounts.two_factor")
def recovery_codes() -> View:
    person = auth.user()
    if not person.two_factor:
        return redirect(url_for("accounts.two_factor"))
    with db.transaction() as s:
        codes = factors.new_recovery_codes(s, person.id)
        alerts.recovery_codes_renewed(s, s.merge(person))
        summary = f"{person.username} made new recovery codes"
        record(
            s, Action.RECOVERY_CODES, customer_id=person.customer_id, actor=actor(), summary=summary
        )
    return _no_store(render_template("accounts/recovery_codes.html", codes=codes, first=False))


@bp.route("/account/two-factor/forget-devices", methods=["POST"])
@login_required
def forget_devices() -> Response:
    with db.transaction() as s:
        count = trusted.forget_all(s, auth.user().id)
        if count:
            me = auth.user()
            summary = f"{me.username} forgot {count} remembered device{'' if count == 1 else 's'}"
            record(
                s,
                Action.DEVICES_FORGOTTEN,
                customer_id=me.customer_id,
                actor=actor(),
                summary=summary,
            )
    flash(
        f"Forgot {count} device{'' if count == 1 else 's'}: each will ask for a second factor.",
        "success",
    )
    return redirect(url_for("accounts.two_factor"))
