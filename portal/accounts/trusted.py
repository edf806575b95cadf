"""Browsers a user asked us to remember for 30 days, so they are not asked for a second factor
there. The cookie holds a random id, signed; only its SHA-256 is stored, so each can be
revoked (a password change, turning two-factor off, or "forget my devices")."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import TrustedDevice
from portal.db import utcnow

LIFETIME = timedelta(days=30)
USER_AGENT_LENGTH = 200


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def remember(s: Session, user_id: int, user_agent: str) -> str:
    """Trust this browser for 30 days; returns the id to put in its cookie."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(
        TrustedDevice(
            token_hash=_hash(raw),
            user_id=user_id,
            user_agent=user_agent[:USER_AGENT_LENGTH],
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return raw


def is_trusted(s: Session, user_id: int, raw: str | None) -> bool:
    """Whether the id from a cookie is a live trusted device of this user."""
    if not raw:
        return False
    q = sa.select(TrustedDevice.id).where(
        TrustedDevice.token_hash == _hash(raw),
        TrustedDevice.user_id == user_id,
        TrustedDevice.revoked_at.is_(None),
        TrustedDevice.expires_at > utcnow(),
    )
    return s.scalar(q) is not None


def live(s: Session, user_id: int) -> list[TrustedDevice]:
    """The user's trusted devices still in force, newest first."""
    return list(
        s.scalars(
            sa.select(TrustedDevice)
            .where(
                TrustedDevice.user_id == user_id,
                TrustedDevice.revoked_at.is_(None),
                TrustedDevice.expires_at > utcnow(),
            )
            .order_by(TrustedDevice.id.desc())
        )
    )


def forget_all(s: Session, user_id: int) -> int:
    """Stop trusting every device of the user; how many were trusted."""
    result = s.execute(
        sa.update(TrustedDevice)
        .where(TrustedDevice.user_id == user_id, TrustedDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
