"""Who may see what: login manager wiring and role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app
from flask import session as cookie
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from portal import db
from portal.accounts import alerts, sessions
from portal.accounts.models import PortalUser, Role

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
    if sessions.due(login):  # most requests write nothing and commit nothing
        with db.transaction() as s:
            sessions.touch(s, login)
    return person


def log_in(person: PortalUser) -> None:
    """Start a new server-side session for `person` in this browser, forgetting the old one."""
    user_agent, address = alerts.this_device()
    with db.transaction() as s:
        if sessions.is_new_device(s, person.id, user_agent):
            alerts.new_device_login(s, person, user_agent, address)
        raw = sessions.start(s, person.id, user_agent, address)
    cookie.clear()  # nothing from before the login carries over
    cookie[SESSION_KEY] = raw
    login_user(person)
    cookie.permanent = True


def log_out() -> None:
    """End this browser's session on the server too, so a copy of its cookie stops working."""
    raw = current_session_id()
    if raw is not None:
        with db.transaction() as s:
            sessions.end(s, raw)
    logout_user()
    cookie.clear()


def current_session_id() -> str | None:
    """This browser's login_session id, if any."""
    raw = cookie.get(SESSION_KEY)
    return raw if isinstance(raw, str) else None


def init_app(app: Flask) -> None:
    """Attach the login manager."""
    login_manager.init_app(app)


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
    """Allow only a customer's login; the view scopes every query by its customer_id."""
    return roles_required(Role.CUSTOMER)(view)
