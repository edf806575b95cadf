"""Changing the login e-mail: a link goes to the new address, and nothing changes until it
is opened; then both addresses are told."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts import alerts, tokens
from portal.accounts.models import AccountToken, PortalUser, TokenPurpose
from portal.accounts.service import AccountError, AccountPolicy, _ensure_free, normalize_email
from portal.db import utcnow
from portal.mail import queue_email

logger = logging.getLogger(__name__)

LIFETIME = timedelta(hours=24)
TAKEN = "An account already uses that e-mail address."
NOT_YOURS = (
    "This link was sent to confirm another login's e-mail. Log out, then open it again, "
    "or log in as that login."
)


def request_change(s: Session, policy: AccountPolicy, user: PortalUser, new_email: str) -> str:
    """E-mail a confirmation link to the new address; returns the address as normalized.
    A link asked for earlier stops working: only the latest request counts."""
    email = normalize_email(new_email)
    if email.lower() == user.email_key:
        raise AccountError("That is already your login e-mail.")
    _ensure_free(s, None, email, exclude=user.id)
    _void_pending(s, user.id)
    signed = tokens.issue(s, TokenPurpose.EMAIL_CHANGE, LIFETIME, user_id=user.id, email=email)
    queue_email(
        s,
        email,
        "Confirm your new {business} portal login e-mail",
        "email/confirm_email_change.txt",
        user=user,
        new_email=email,
        link=f"{policy.public_url}/account/email/confirm/{signed}",
        hours=int(LIFETIME.total_seconds() // 3600),
    )
    return email


def confirm_change(s: Session, signed: str, logged_in: int | None) -> tuple[PortalUser, str]:
    """Use a confirmation link: the login's e-mail becomes the one it names. Returns the user
    and the old address. TokenInvalid for a bad, used or expired link, or one for a login other
    than `logged_in` (that one stays usable); AccountError when the address was taken since."""
    row = tokens.peek(s, TokenPurpose.EMAIL_CHANGE, signed, LIFETIME)
    if logged_in is not None and row.user_id != logged_in:
        raise tokens.TokenInvalid(NOT_YOURS)
    tokens.consume(s, TokenPurpose.EMAIL_CHANGE, signed, LIFETIME)
    user = s.get(PortalUser, row.user_id) if row.user_id is not None else None
    if user is None or not user.active or not row.email:
        raise tokens.TokenInvalid("This link is not valid. Ask for a new one.")
    new = row.email
    _ensure_free(s, None, new, exclude=user.id)
    old = user.email
    try:
        # Compare-and-set on the address read: a change that raced this one wins alone.
        changed = s.execute(
            sa.update(PortalUser)
            .where(PortalUser.id == user.id, PortalUser.email_key == user.email_key)
            .values(email=new, email_key=new.lower())
        )
    except IntegrityError:  # the address was taken between the check and the update
        raise AccountError(TAKEN) from None
    if getattr(changed, "rowcount", 0) != 1:
        raise tokens.TokenInvalid("Your e-mail was changed meanwhile. Ask for a new link.")
    # Reset links went to the old address: they must not outlive it.
    tokens.void_for_user(s, user.id)
    alerts.email_changed(s, user, old)
    logger.info("login e-mail changed for user %s", user.id)
    return user, old


def _void_pending(s: Session, user_id: int) -> None:
    now = utcnow()
    s.execute(
        sa.update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == TokenPurpose.EMAIL_CHANGE,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
