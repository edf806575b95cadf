"""Account pages: log in and out, forgotten password, invitation, username and password."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal import auth, db
from portal.accounts import history, people, service, sessions
from portal.accounts.forms import (
    AcceptInviteForm,
    ChangePasswordForm,
    ChangeUsernameForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    ResetPasswordForm,
)
from portal.accounts.passwords import PasswordRejected
from portal.accounts.ratelimit import TooManyAttempts
from portal.accounts.tokens import TokenInvalid
from portal.audit import signins
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.auth import current_session_id, log_in, log_out, user
from portal.db import utcnow
from portal.forms import CsrfOnly
from portal.redirects import same_site_path

bp = Blueprint("accounts", __name__)

View = str | Response | tuple[str, int]


def _policy() -> service.AccountPolicy:
    policy: service.AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy


@bp.route("/login", methods=["GET", "POST"])
def login() -> View:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form), 400 if form.errors else 200
    address = request.remote_addr or "unknown"
    try:
        with db.transaction() as s:
            found = service.authenticate(
                s, _policy(), form.identifier.data or "", form.password.data or "", address
            )
            if found is None:
                signins.login_failed(s, actor(), identifier=form.identifier.data)
    except TooManyAttempts as exc:
        form.form_errors.append(
            f"Too many failed logins. For your security, try again in {exc.minutes} "
            f"minute{'' if exc.minutes == 1 else 's'} or reset your password."
        )
        return render_template("accounts/login.html", form=form), 429
    if found is None:
        form.form_errors.append(service.LOGIN_FAILED)
        return render_template("accounts/login.html", form=form), 401
    auth.begin_second_step(found, same_site_path(request.args.get("next")))
    if found.two_factor and not auth.device_is_trusted(found):
        return redirect(url_for("accounts.verify"))
    return auth.finish_login(found)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    LogoutForm().validate_on_submit()  # CSRF is checked for every POST before this runs
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> View:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with db.transaction() as s:
            service.request_password_reset(s, _policy(), form.identifier.data or "")
        minutes = int(_policy().reset_lifetime.total_seconds() // 60)
        flash(
            "If an account matches, we have e-mailed it a link to reset the password. "
            f"The link works once, for {minutes} minutes.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> View:
    form = ResetPasswordForm()
    try:
        service.check_reset_token(db.session(), _policy(), token)
    except TokenInvalid as exc:
        return render_template("accounts/link_invalid.html", message=str(exc)), 400
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                person = service.reset_password(s, _policy(), token, form.new_password.data or "")
                record(
                    s,
                    Action.PASSWORD_RESET,
                    customer_id=person.customer_id,
                    actor=actor(person),
                    summary=f"{person.username} set a new password from a reset link",
                )
        except (PasswordRejected, TokenInvalid) as exc:
            form.new_password.errors = [str(exc)]
        else:
            flash("Your password is changed. Log in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    status = 400 if form.errors else 200
    return render_template("accounts/reset.html", form=form, token=token), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> View:
    form = AcceptInviteForm()
    try:
        offer = service.check_invite(db.session(), _policy(), token)
    except TokenInvalid as exc:
        return render_template("accounts/link_invalid.html", message=str(exc)), 400
    if offer.existing_login:
        return _join_with_login(token, offer)
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                new_user = service.accept_invite(
                    s, _policy(), token, form.username.data or "", form.new_password.data or ""
                )
                assert new_user.customer_id is not None
                people.joined(s, new_user, new_user.customer_id, actor(new_user))
        except PasswordRejected as exc:
            form.new_password.errors = [str(exc)]
        except (service.AccountError, TokenInvalid) as exc:
            form.username.errors = [str(exc)]
        else:
            log_in(new_user)
            flash("Welcome! Your login is ready.", "success")
            return redirect(url_for("billing.dashboard"))
    status = 400 if form.errors else 200
    return render_template(
        "accounts/invite.html", form=form, email=offer.email, offer=offer, token=token
    ), status


def _join_with_login(token: str, offer: service.Invitation) -> View:
    """Someone with a login already: they log in (as the invited address) and join."""
    here = url_for("accounts.accept_invite", token=token)
    if not current_user.is_authenticated:
        return render_template(
            "accounts/invite_existing.html",
            offer=offer,
            login_next=here,
            role_names=people.ROLE_NAMES,
        )
    form = CsrfOnly()
    if request.method == "POST" and form.validate_on_submit():
        try:
            with db.transaction() as s:
                customer_id = service.accept_invite_as(s, _policy(), token, user())
                people.joined(s, user(), customer_id, actor())
                auth.choose_account(s, auth.current_login(), customer_id)
        except (service.AccountError, TokenInvalid) as exc:
            flash(str(exc), "error")
            return redirect(here)
        flash(f"{offer.customer_name} is now on your login.", "success")
        return redirect(url_for("billing.dashboard"))
    return render_template(
        "accounts/invite_existing.html",
        offer=offer,
        form=form,
        login_next=here,
        role_names=people.ROLE_NAMES,
    )


@bp.route("/account")
@login_required
def profile() -> View:
    return render_template(
        "accounts/profile.html",
        username_form=ChangeUsernameForm(),
        password_form=ChangePasswordForm(),
    )


@bp.route("/account/username", methods=["POST"])
@auth.fresh_login_required()
def change_username() -> View:
    form = ChangeUsernameForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                me, old = s.merge(user()), user().username
                service.change_username(s, me, form.username.data or "")
                record(
                    s,
                    Action.USERNAME_CHANGED,
                    customer_id=me.customer_id,
                    actor=actor(),
                    summary=f"Username changed from {old} to {me.username}",
                    before={"username": old},
                    after={"username": me.username},
                )
        except service.AccountError as exc:
            form.username.errors = [str(exc)]
        else:
            flash("Your username is changed. Use it the next time you log in.", "success")
            return redirect(url_for("accounts.profile"))
    page = render_template(
        "accounts/profile.html", username_form=form, password_form=ChangePasswordForm()
    )
    return page, 400


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password() -> View:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as s:
                me = s.merge(user())
                service.change_password(
                    s,
                    _policy(),
                    me,
                    form.current_password.data or "",
                    form.new_password.data or "",
                )
                record(
                    s,
                    Action.PASSWORD_CHANGED,
                    customer_id=me.customer_id,
                    actor=actor(),
                    summary=f"{me.username} changed their password",
                )
        except PasswordRejected as exc:
            form.new_password.errors = [str(exc)]
        except service.AccountError as exc:
            form.current_password.errors = [str(exc)]
        else:
            # Every session ended with the change: this browser alone starts a new one.
            log_in(me)
            flash("Your password is changed. Other sessions have been logged out.", "success")
            return redirect(url_for("accounts.profile"))
    page = render_template(
        "accounts/profile.html", username_form=ChangeUsernameForm(), password_form=form
    )
    return page, 400


@bp.route("/account/security")
@login_required
def security() -> View:
    lifetime = current_app.permanent_session_lifetime
    logins = sessions.active(db.session(), user().id, lifetime)
    this = next((x.id for x in logins if sessions.is_current(x, current_session_id())), None)
    signins = history.recent(db.session(), user().id, utcnow())
    return render_template(
        "accounts/security.html", logins=logins, this=this, signins=signins, form=CsrfOnly()
    )


@bp.route("/account/security/<int:session_id>/sign-out", methods=["POST"])
@login_required
def sign_out_session(session_id: int) -> Response:
    with db.transaction() as s:  # CSRF was checked, as for every POST, before this runs
        ended = sessions.revoke(s, user().id, session_id)
        if ended:
            one = f"{user().username} signed out one of their sessions"
            record(
                s, Action.SESSIONS_ENDED, customer_id=user().customer_id, actor=actor(), summary=one
            )
    if not ended:
        abort(404)  # not one of yours, or already over: the same answer either way
    flash("That session is signed out.", "success")
    return redirect(url_for("accounts.security"))


@bp.route("/account/security/sign-out-others", methods=["POST"])
@login_required
def sign_out_others() -> Response:
    with db.transaction() as s:
        count = sessions.revoke_others(s, user().id, keep=current_session_id())
        if count:
            others = (
                f"{user().username} signed out {count} other session{'' if count == 1 else 's'}"
            )
            record(
                s,
                Action.SESSIONS_ENDED,
                customer_id=user().customer_id,
                actor=actor(),
                summary=others,
            )
    flash(f"Signed out {count} other session{'' if count == 1 else 's'}.", "success")
    return redirect(url_for("accounts.security"))
