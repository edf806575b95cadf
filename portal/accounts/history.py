"""A user's recent sign-ins, successful (login_session rows) and failed (login_failure rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import LoginFailure, LoginSession
from portal.accounts.ratelimit import factor_key, user_key

DAYS = 90
LIMIT = 20


@dataclass(frozen=True)
class SignIn:
    """One attempt to sign in to an account: when, from where, and whether it worked."""

    at: datetime
    user_agent: str
    address: str
    succeeded: bool
    second_step: bool = False  # the password was right, the second factor's code was not


def recent(s: Session, user_id: int, now: datetime, limit: int = LIMIT) -> list[SignIn]:
    """The user's sign-ins of the last 90 days, newest first, at most `limit`."""
    since = now - timedelta(days=DAYS)
    ok = s.execute(
        sa.select(LoginSession.created_at, LoginSession.user_agent, LoginSession.address)
        .where(LoginSession.user_id == user_id, LoginSession.created_at > since)
        .order_by(LoginSession.created_at.desc())
        .limit(limit)
    ).all()
    # Failures are kept per account key, without a user agent, and only until the next
    # successful sign-in or for a day (ratelimit.py): those still on record are shown.
    keys = (user_key(user_id), factor_key(user_id))
    failed = s.execute(
        sa.select(LoginFailure.created_at, LoginFailure.address, LoginFailure.account_key)
        .where(LoginFailure.account_key.in_(keys), LoginFailure.created_at > since)
        .order_by(LoginFailure.created_at.desc())
        .limit(limit)
    ).all()
    rows = [SignIn(at, agent, address, True) for at, agent, address in ok]
    rows += [SignIn(at, "", address, False, key == keys[1]) for at, address, key in failed]
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows[:limit]
