"""Who may see what: login manager wiring and role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, abort
from flask_login import LoginManager, current_user, login_required

from portal.accounts.models import PortalUser, Role
from portal.db import session

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_user(token: str) -> PortalUser | None:
    return session().scalar(
        sa.select(PortalUser).where(PortalUser.session_token == token, PortalUser.active)
    )


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
