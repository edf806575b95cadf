"""Security e-mails nobody can turn off: a new password, a new payment method, a new device.

Each is queued in the caller's unit of work and sent after its commit, like every e-mail.
"""

from __future__ import annotations

import logging

from flask import current_app, has_request_context, request
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser
from portal.db import utcnow
from portal.mail import queue_email

logger = logging.getLogger(__name__)


def this_device() -> tuple[str, str]:
    """The user agent and address of the request being served, or blanks outside one."""
    if not has_request_context():
        return "", ""
    return request.user_agent.string, request.remote_addr or ""


def _send(
    s: Session, user: PortalUser, subject: str, what: str, device: tuple[str, str] | None = None
) -> None:
    if not user.email:
        logger.info("security e-mail skipped: user %s has no address", user.id)
        return
    user_agent, address = device or this_device()
    public_url = current_app.config["PORTAL_SETTINGS"].portal.public_url.rstrip("/")
    queue_email(
        s,
        user.email,
        subject,
        "email/security_alert.txt",
        user=user,
        what=what,
        when=utcnow(),
        user_agent=user_agent,
        address=address,
        reset_link=f"{public_url}/forgot-password",
    )


def password_changed(s: Session, user: PortalUser) -> None:
    """Tell the user their password was changed (or reset)."""
    _send(s, user, "Your {business} portal password was changed", "Your password was changed.")


def payment_method_saved(s: Session, user: PortalUser, brand: str, last4: str) -> None:
    """Tell the user a card or bank account was saved; only its last 4 digits are named."""
    named = f"{brand} ending in {last4[-4:]}" if last4 else brand
    what = f"A payment method was saved to your account: {named}."
    _send(s, user, "A payment method was saved to your {business} account", what)


def new_device_login(s: Session, user: PortalUser, user_agent: str, address: str) -> None:
    """Tell the user someone signed in to their account from a device not seen before."""
    what = "Someone signed in to your account from a device not used before."
    _send(
        s,
        user,
        "New sign-in to your {business} portal account",
        what,
        device=(user_agent, address),
    )
