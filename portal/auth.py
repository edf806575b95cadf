"""Who may see what: login manager wiring and role guards."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import (
    Flask,
    abort,
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask import session as cookie
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal import db
from portal.accounts import alerts, people, sessions, signin_policy, trusted
from portal.accounts.models import LoginSession, MemberRole, PortalUser, Role
from portal.audit import signins
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.db import utcnow
from portal.redirects import same_site_path

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"


# The signed cookie's key for the login_session id; without a live one nobody is logged in,
# so neither a copied cookie nor a "remember me" cookie outlives a logout.
SESSION_KEY = "login_session"


@login_manager.user_loader
def _load_user(user_id: str) -> PortalUser | None:
    raw = current_session_id()
    if raw is None:
        return None
    found = sessions.user_of(db.session(), raw, current_app.permanent_session_lifetime)
    if found is None or str(found[0].id) != user_id:
        return None
    person, login = found
    g.login_session = login
    if sessions.due(login):  # most requests write nothing and commit nothing
        with db.transaction() as s:
            sessions.touch(s, login)
    return person


def log_in(person: PortalUser) -> None:
    """Start a new server-side session for `person` in this browser, forgetting the old one.
    Call it only once every factor the login needs was shown (see finish_login)."""
    user_agent, address = alerts.this_device()
    with db.transaction() as s:
        if sessions.is_new_device(s, person.id, user_agent):
            alerts.new_device_login(s, person, user_agent, address)
        raw = sessions.start(s, person.id, user_agent, address)
    cookie.clear()  # nothing from before the login carries over (a half-done sign-in neither)
    cookie[SESSION_KEY] = raw
    login_user(person)
    cookie.permanent = True


def log_out() -> None:
    """End this browser's session on the server too, so a copy of its cookie stops working."""
    raw = current_session_id()
    if raw is not None:
        with db.transaction() as s:
            sessions.end(s, raw)
            if current_user.is_authenticated:
                me = user()
                summary = f"{me.username} signed out"
                record(s, Action.LOGOUT, customer_id=me.customer_id, actor=actor(), summary=summary)
    logout_user()
    cookie.clear()


def current_session_id() -> str | None:
    """This browser's login_session id, if any."""
    raw = cookie.get(SESSION_KEY)
    return raw if isinstance(raw, str) else None


def init_app(app: Flask) -> None:
    """Attach the login manager, and send logins that lack a required second factor to set
    one up before anything else."""
    login_manager.init_app(app)
    app.before_request(require_enrolment)


def user() -> PortalUser:
    """The logged-in user (call only behind login_required)."""
    return cast(PortalUser, current_user._get_current_object())


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow only logged-in users with one of these roles; others get 404, not a hint."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if user().role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def customer_required(view: F) -> F:
    """Allow only a customer's login on an account (any access); the view scopes every query
    by account_id()."""
    return account_required(Access.VIEW)(view)


# ---- the second step of a sign-in ----------------------------------------------------------

# A password that was right, waiting for the second factor: {user, at, next}. It lives in the
# signed cookie for PENDING_LIFETIME and signs nobody in by itself.
PENDING_KEY = "pending_login"
PENDING_LIFETIME = timedelta(minutes=10)
TRUSTED_COOKIE = "portal_device"
STEP_UP_WINDOW = timedelta(minutes=10)


def begin_second_step(person: PortalUser, next_path: str | None) -> None:
    """Remember that `person` gave the right password; the second factor comes next."""
    cookie.pop(SESSION_KEY, None)
    cookie[PENDING_KEY] = {"user": person.id, "at": utcnow().timestamp(), "next": next_path}


def pending_user() -> PortalUser | None:
    """The user halfway through signing in in this browser, if the first step is recent."""
    raw = cookie.get(PENDING_KEY)
    if not isinstance(raw, dict):
        return None
    at = raw.get("at")
    user_id = raw.get("user")
    if not isinstance(at, int | float) or not isinstance(user_id, int):
        return None
    if utcnow() - datetime.fromtimestamp(at, UTC) > PENDING_LIFETIME:
        cookie.pop(PENDING_KEY, None)
        return None
    person = db.session().get(PortalUser, user_id)
    return person if person is not None and person.active else None


def home_for(person: PortalUser) -> str:
    return (
        url_for("admin.index") if person.role is not Role.CUSTOMER else url_for("billing.dashboard")
    )


def finish_login(person: PortalUser, *, remember_device: bool = False) -> Response:
    """Sign `person` in (every factor was shown) and send them on: where they were going, or
    to choose a new password when the admin's password age says so."""
    raw = cookie.get(PENDING_KEY)
    wanted = same_site_path(raw.get("next")) if isinstance(raw, dict) else None
    log_in(person)
    if remember_device:
        with db.transaction() as s:
            token = trusted.remember(s, person.id, alerts.this_device()[0])
        _set_trusted_cookie(person.id, token)
    with db.transaction() as s:
        signins.logged_in(s, actor(person), person)
        rules = signin_policy.rules(s)
    if signin_policy.password_too_old(rules, person):
        flash(
            f"Your password is older than {rules.password_max_age_days} days, and "
            "this business asks you to choose a new one.",
            "warning",
        )
        return redirect(url_for("accounts.profile") + "#password")
    return redirect(wanted or home_for(person))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="trusted-device")


def _set_trusted_cookie(user_id: int, token: str) -> None:
    value = _serializer().dumps({"u": user_id, "t": token})
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(
            TRUSTED_COOKIE,
            value,
            max_age=int(trusted.LIFETIME.total_seconds()),
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        return response


def device_is_trusted(person: PortalUser) -> bool:
    """Whether this browser carries a live "remember this device" cookie for `person`."""
    raw = request.cookies.get(TRUSTED_COOKIE)
    if not raw:
        return False
    try:
        value = _serializer().loads(raw)
    except BadSignature:
        return False
    if not isinstance(value, dict) or value.get("u") != person.id:
        return False
    token = value.get("t")
    return isinstance(token, str) and trusted.is_trusted(db.session(), person.id, token)


# ---- step-up -------------------------------------------------------------------------------


def recently_verified() -> bool:
    """Whether this session proved who it is (password, factor, passkey) in the window."""
    login: LoginSession | None = g.get("login_session")
    if login is None or login.verified_at is None:
        return False
    return utcnow() - login.verified_at <= STEP_UP_WINDOW


def mark_verified() -> None:
    """This session just proved who it is again."""
    login: LoginSession | None = g.get("login_session")
    if login is None:
        return
    with db.transaction() as s:
        sessions.mark_verified(s, login.id)
    login.verified_at = utcnow()


def fresh_login_required(back: str = "accounts.profile") -> Callable[[F], F]:
    """Changes to the login's security ask for the password or a second factor again when the
    last proof is older than STEP_UP_WINDOW. A GET comes back to itself afterwards; a POST is
    not done and comes back to the form's `next` field, else to the page named by `back`
    (pages send no referrer), where it is asked again."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if recently_verified():
                return view(*args, **kwargs)
            if request.method == "GET":
                target = request.full_path.rstrip("?")
            else:
                target = same_site_path(request.form.get("next")) or url_for(back)
                flash("For your security, confirm it is you, then make the change again.", "info")
            return redirect(url_for("accounts.confirm", next=target))

        return cast(F, wrapped)

    return decorate


# ---- staff (and, if the admin says so, customers) must enrol ------------------------------

# What a login without its required second factor may still reach: setting one up, signing
# out, and the static files those pages need.
ENROLMENT_ENDPOINTS = frozenset(
    {
        "accounts.two_factor",
        "accounts.passkey_confirm_options",
        "accounts.passkey_confirm",
        "accounts.totp_setup",
        "accounts.totp_confirm",
        "accounts.recovery_codes",
        "accounts.passkeys",
        "accounts.passkey_register_options",
        "accounts.passkey_register",
        "accounts.logout",
        "accounts.confirm",
        "static",
        "branding.css",
        "branding.logo",
    }
)


def must_use_two_factor(person: PortalUser) -> bool:
    """Staff always; a customer when the admin requires it."""
    if person.role is not Role.CUSTOMER:
        return True
    return signin_policy.rules(db.session()).customer_two_factor == "required"


def require_enrolment() -> Response | None:
    """before_request: send a login that must use a second factor but has none to set one up."""
    if not current_user.is_authenticated or request.endpoint is None:
        return None  # a 404 stays a 404
    person = user()
    if person.two_factor or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    if not must_use_two_factor(person):
        return None
    flash("Set up a second factor to continue: your account must use one.", "info")
    return redirect(url_for("accounts.two_factor"))


# ---- the customer account a request acts for ----------------------------------------------


class Access(enum.IntEnum):
    """What a person may do on a customer account, each level including the ones below."""

    VIEW = 1  # see invoices, payments, documents
    PAY = 2  # and pay, and keep their own saved methods
    FULL = 3  # everything the owner can, except managing people
    OWNER = 4  # and the people on the account and its audit log


ACCESS_OF = {
    MemberRole.OWNER: Access.OWNER,
    MemberRole.FULL: Access.FULL,
    MemberRole.PAY: Access.PAY,
    MemberRole.VIEW: Access.VIEW,
}


def accounts() -> list[people.Membership]:
    """Every account the logged-in person is on (read once per request)."""
    if "accounts" not in g:
        g.accounts = people.memberships(db.session(), user().id)
    found: list[people.Membership] = g.accounts
    return found


def current_account() -> people.Membership | None:
    """The account this request acts for: the one chosen in this session, else the login's
    home account, else the first it is on; None when the person is on no account any more."""
    mine = accounts()
    if not mine:
        return None
    login = g.get("login_session")
    for wanted in (getattr(login, "customer_id", None), user().customer_id):
        for membership in mine:
            if membership.customer_id == wanted:
                return membership
    return mine[0]


def current_login() -> LoginSession:
    """This browser's login session (call only behind login_required)."""
    login = g.get("login_session")
    if login is None:
        abort(403)
    return cast(LoginSession, login)


def choose_account(s: Session, login: LoginSession, customer_id: int) -> None:
    """Make this session act for another account the person is on."""
    s.execute(
        sa.update(LoginSession).where(LoginSession.id == login.id).values(customer_id=customer_id)
    )
    g.pop("accounts", None)


def account_id() -> int:
    """The customer account this request acts for (call only behind account_required)."""
    chosen = current_account()
    if chosen is None:
        abort(403)
    return chosen.customer_id


def account_access() -> Access | None:
    """What the logged-in person may do on the account this request acts for."""
    chosen = current_account()
    return None if chosen is None else ACCESS_OF[chosen.role]


def account_required(level: Access) -> Callable[[F], F]:
    """Allow only a customer login whose access to the chosen account is at least `level`;
    others get 404 (for another role) or 403 (for too little access on this account)."""

    def decorate(view: F) -> F:
        @wraps(view)
        @roles_required(Role.CUSTOMER)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            access = account_access()
            if access is None:
                return redirect(url_for("people.no_account"))
            if access < level:
                abort(403)
            return view(*args, **kwargs)

        wrapped.__dict__["required_access"] = level  # the role walk reads it
        return cast(F, wrapped)

    return decorate


def own_methods_only() -> int | None:
    """The user id whose saved methods alone this person may see and use on the account
    ("pay" access keeps to their own), or None when they may use every method of it."""
    return user().id if account_access() == Access.PAY else None
