"""The fallback factor: a six-digit code e-mailed to the address on file, valid 10 minutes,
five tries, at most one a minute and five an hour per login."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.factors import six_digits
from portal.accounts.models import EmailCode, PortalUser
from portal.db import utcnow
from portal.mail import queue_email

LIFETIME = timedelta(minutes=10)
TRIES = 5
RESEND_AFTER = timedelta(minutes=1)
PER_HOUR = 5


class SendRefused(Exception):
    """Too soon or too many codes; the message says when to try again."""


def _hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()


def send(s: Session, user: PortalUser) -> None:
    """E-mail a new code (earlier ones stop working); SendRefused when asked too often."""
    now = utcnow()
    recent = list(
        s.scalars(
            sa.select(EmailCode.created_at)
            .where(EmailCode.user_id == user.id, EmailCode.created_at > now - timedelta(hours=1))
            .order_by(EmailCode.created_at.desc())
        )
    )
    if recent and now - recent[0] < RESEND_AFTER:
        raise SendRefused("A code was sent less than a minute ago. Check your e-mail.")
    if len(recent) >= PER_HOUR:
        raise SendRefused("Too many codes were sent in the past hour. Try again later.")
    s.execute(
        sa.update(EmailCode)
        .where(EmailCode.user_id == user.id, EmailCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    s.add(
        EmailCode(
            user_id=user.id,
            code_hash=_hash(user.id, code),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    queue_email(
        s,
        user.email,
        "Your {business} sign-in code",
        "email/sign_in_code.txt",
        user=user,
        code=code,
        minutes=int(LIFETIME.total_seconds() // 60),
    )


def verify(s: Session, user_id: int, raw: str) -> bool:
    """Whether `raw` is the live code last sent; each try counts, and a right code works once."""
    now = utcnow()
    row = s.scalar(
        sa.select(EmailCode)
        .where(EmailCode.user_id == user_id, EmailCode.used_at.is_(None))
        .where(EmailCode.expires_at > now, EmailCode.attempts < TRIES)
        .order_by(EmailCode.id.desc())
        .limit(1)
    )
    if row is None:
        return False
    # Count the try first (compare-and-set on the count read), so parallel guesses each spend one.
    counted = s.execute(
        sa.update(EmailCode)
        .where(EmailCode.id == row.id, EmailCode.attempts == row.attempts)
        .values(attempts=row.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if not counted.rowcount:  # type: ignore[attr-defined]
        return False
    code = six_digits(raw)
    if code is None or not secrets.compare_digest(row.code_hash, _hash(user_id, code)):
        return False
    used = s.execute(
        sa.update(EmailCode)
        .where(EmailCode.id == row.id, EmailCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(used.rowcount)  # type: ignore[attr-defined]
