"""Single-use, signed, expiring tokens for e-mailed links (password reset, invitation)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from portal.accounts.models import AccountToken, TokenPurpose
from portal.db import utcnow


class TokenInvalid(Exception):
    """The link is malformed, expired or already used; the message says which."""


def _serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"account-{purpose}")


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(
    s: Session,
    purpose: TokenPurpose,
    lifetime: timedelta,
    *,
    user_id: int | None = None,
    customer_id: int | None = None,
    email: str | None = None,
    member_role: str | None = None,
    invited_by: int | None = None,
) -> str:
    """Store a new token (its hash only) and return the signed value for the link."""
    raw = secrets.token_urlsafe(32)
    s.add(
        AccountToken(
            token_hash=_digest(raw),
            purpose=purpose,
            user_id=user_id,
            customer_id=customer_id,
            email=email,
            member_role=member_role,
            invited_by=invited_by,
            expires_at=utcnow() + lifetime,
        )
    )
    return _serializer(purpose).dumps(raw)


def peek(s: Session, purpose: TokenPurpose, signed: str, lifetime: timedelta) -> AccountToken:
    """The token's row if the link is valid now, without using it."""
    try:
        raw = _serializer(purpose).loads(signed, max_age=int(lifetime.total_seconds()))
    except SignatureExpired:
        raise TokenInvalid("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise TokenInvalid("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(raw, str):
        raise TokenInvalid("This link is not valid. Check that you copied all of it.")
    row = s.scalar(
        sa.select(AccountToken).where(
            AccountToken.token_hash == _digest(raw), AccountToken.purpose == purpose
        )
    )
    if row is None:
        raise TokenInvalid("This link is not valid. Check that you copied all of it.")
    if row.used_at is not None:
        raise TokenInvalid("This link has already been used. Ask for a new one.")
    if row.expires_at <= utcnow():
        raise TokenInvalid("This link has expired. Ask for a new one.")
    return row


def consume(s: Session, purpose: TokenPurpose, signed: str, lifetime: timedelta) -> AccountToken:
    """Validate and mark the token used; two concurrent uses cannot both succeed."""
    row = peek(s, purpose, signed, lifetime)
    now = utcnow()
    result = s.execute(
        sa.update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise TokenInvalid("This link has already been used. Ask for a new one.")
    row.used_at = now
    return row


def void_for_user(s: Session, user_id: int) -> None:
    """End every outstanding reset and e-mail-change link of a user: a new password makes
    links sent before it stale (one may have gone to whoever took the account)."""
    now = utcnow()
    s.execute(
        sa.update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose.in_([TokenPurpose.RESET, TokenPurpose.EMAIL_CHANGE]),
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
