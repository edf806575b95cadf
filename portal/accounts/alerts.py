"""Security e-mails nobody can turn off: a new password, a new payment method, a new device.

Each is a notice of the kind "security" (mandatory), written in the caller's unit of work and
e-mailed right after its commit; the notices' worker retries one that failed.
"""

from __future__ import annotations

import logging
import secrets

from flask import current_app, has_request_context, render_template, request
from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser
from portal.branding import brand
from portal.db import utcnow
from portal.notifications.service import notify

logger = logging.getLogger(__name__)


def this_device() -> tuple[str, str]:
    """The user agent and address of the request being served, or blanks outside one."""
    if not has_request_context():
        return "", ""
    return request.user_agent.string, request.remote_addr or ""


def _send(
    s: Session,
    user: PortalUser,
    subject: str,
    what: str,
    device: tuple[str, str] | None = None,
    to: str | None = None,
) -> None:
    """A security notice to `user` (to `to` instead when given): through the notices, so it
    is written with the change, sent right after the commit and retried if that fails."""
    address = to or user.email
    if not address:
        logger.info("security e-mail skipped: user %s has no address", user.id)
        return
    user_agent, client = device or this_device()
    public_url = current_app.config["PORTAL_SETTINGS"].portal.public_url.rstrip("/")
    business = brand(s).name
    body = render_template(
        "email/security_alert.txt",
        user=user,
        what=what,
        when=utcnow(),
        user_agent=user_agent,
        address=client,
        reset_link=f"{public_url}/forgot-password",
        business=business,
    )
    notify(
        s,
        "security",
        user_id=user.id,
        subject=subject[:80].replace("{business}", "").strip(),
        period=f"{utcnow():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}",  # every event is news
        title=subject.replace("{business}", business),
        body=body,
        email_to=address,
        send_now=True,
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


def two_factor_changed(s: Session, user: PortalUser, on: bool) -> None:
    """Tell the user two-factor sign-in was turned on or off."""
    if on:
        subject, what = (
            "Two-factor sign-in is on for your {business} account",
            ("Two-factor sign-in was turned on: signing in now needs a second step."),
        )
    else:
        subject, what = (
            "Two-factor sign-in is off for your {business} account",
            ("Two-factor sign-in was turned off: a password alone now signs in to your account."),
        )
    _send(s, user, subject, what)


def passkey_added(s: Session, user: PortalUser, name: str) -> None:
    """Tell the user a passkey was added (it can sign in without the password)."""
    what = f'A passkey named "{name}" was added to your account. It can sign in without a password.'
    _send(s, user, "A passkey was added to your {business} account", what)


def recovery_codes_renewed(s: Session, user: PortalUser) -> None:
    """Tell the user new recovery codes were made (the old ones stopped working)."""
    what = "New recovery codes were made for your account; the earlier ones no longer work."
    _send(s, user, "New recovery codes for your {business} account", what)


def email_changed(s: Session, user: PortalUser, old_email: str) -> None:
    """Tell both addresses the login e-mail was changed (call once `user.email` is the new
    one): the old address must hear of it, in case someone else did it."""
    subject = "The login e-mail of your {business} account was changed"
    what = f"Your login e-mail was changed from {old_email} to {user.email}."
    _send(s, user, subject, what)
    if not old_email or old_email.lower() == user.email.lower():
        return
    _send(s, user, subject, what, to=old_email)
