"""Login sessions kept on the server, so logging out or changing the password ends them.

The browser's signed cookie carries a random id; only its SHA-256 is stored. A session is
alive while it is not revoked and was seen within the session lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import LoginSession, PortalUser
from portal.db import utcnow

# last_seen_at moves at most this often, so a page view is not a write.
TOUCH_EVERY = timedelta(minutes=1)
USER_AGENT_LENGTH = 200
ADDRESS_LENGTH = 64


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _alive(lifetime: timedelta, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(LoginSession.revoked_at.is_(None), LoginSession.last_seen_at > now - lifetime)


def start(s: Session, user_id: int, user_agent: str, address: str) -> str:
    """Open a session for this user and return its id (to put in the signed cookie)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(
        LoginSession(
            token_hash=_hash(raw),
            user_id=user_id,
            user_agent=user_agent[:USER_AGENT_LENGTH],
            address=address[:ADDRESS_LENGTH],
            created_at=now,
            last_seen_at=now,
            verified_at=now,  # a login is a proof of who you are
        )
    )
    return raw


def mark_verified(s: Session, login_id: int) -> None:
    """Note that the session just proved who it is again (step-up)."""
    s.execute(
        sa.update(LoginSession).where(LoginSession.id == login_id).values(verified_at=utcnow())
    )


def is_new_device(s: Session, user_id: int, user_agent: str) -> bool:
    """Whether the user logged in before, but never with this user agent."""
    earlier = sa.select(LoginSession.id).where(LoginSession.user_id == user_id)
    if s.scalar(earlier.limit(1)) is None:
        return False  # a first login is no news
    same = earlier.where(LoginSession.user_agent == user_agent[:USER_AGENT_LENGTH])
    return s.scalar(same.limit(1)) is None


def user_of(s: Session, raw: str, lifetime: timedelta) -> tuple[PortalUser, LoginSession] | None:
    """The active user and live session behind this id, or None if it ended."""
    row = s.execute(
        sa.select(PortalUser, LoginSession)
        .join(LoginSession, LoginSession.user_id == PortalUser.id)
        .where(LoginSession.token_hash == _hash(raw), PortalUser.active)
        .where(_alive(lifetime, utcnow()))
    ).first()
    return (row[0], row[1]) if row else None


def due(login: LoginSession) -> bool:
    """Whether the session's last use is old enough to note again (at most once a minute)."""
    return utcnow() - login.last_seen_at >= TOUCH_EVERY


def touch(s: Session, login: LoginSession) -> None:
    """Note that the session was just used, unless another request noted it meanwhile."""
    now = utcnow()
    s.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == login.id, LoginSession.last_seen_at == login.last_seen_at)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end(s: Session, raw: str) -> None:
    """Revoke the session behind this id (logging out)."""
    s.execute(
        sa.update(LoginSession)
        .where(LoginSession.token_hash == _hash(raw), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def active(s: Session, user_id: int, lifetime: timedelta) -> list[LoginSession]:
    """The user's live sessions, most recently used first."""
    return list(
        s.scalars(
            sa.select(LoginSession)
            .where(LoginSession.user_id == user_id, _alive(lifetime, utcnow()))
            .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
        )
    )


def is_current(login: LoginSession, raw: str | None) -> bool:
    """Whether this row is the session behind the id `raw`."""
    return raw is not None and secrets.compare_digest(login.token_hash, _hash(raw))


def revoke(s: Session, user_id: int, session_id: int) -> bool:
    """Revoke one of this user's own sessions; False if it is not theirs or already ended."""
    result = s.execute(
        sa.update(LoginSession)
        .where(
            LoginSession.id == session_id,
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_others(s: Session, user_id: int, keep: str | None = None) -> int:
    """Revoke every live session of the user but the one behind `keep`; how many ended."""
    q = sa.update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep is not None:
        q = q.where(LoginSession.token_hash != _hash(keep))
    result = s.execute(q.values(revoked_at=utcnow()))
    return int(result.rowcount)  # type: ignore[attr-defined]
