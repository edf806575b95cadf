"""Login back-off per account and per client address, shared by every worker via the DB.

Past its limit an account (or an address) waits before the next try, twice as long after
each further failure, never longer than the window: guessing slows down, while the right
password, typed after the wait, still logs in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import LoginFailure

FIRST_WAIT = timedelta(minutes=1)
# Failures are remembered this long, so a slow guesser keeps the longest wait.
MEMORY = timedelta(hours=24)
KEY_LENGTH = 254


@dataclass(frozen=True)
class LoginLimits:
    """Failures allowed per account and per address before waits begin; the longest wait."""

    per_account: int
    per_address: int
    window: timedelta


class TooManyAttempts(Exception):
    """Logins are refused for a while; `minutes` says how long."""

    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


def user_key(user_id: int) -> str:
    """The key failures of a known account are counted under, whatever was typed."""
    return f"user:{user_id}"


def factor_key(user_id: int) -> str:
    """The key wrong second-step codes of an account are counted under."""
    return f"factor:{user_id}"


def name_key(identifier: str) -> str:
    """The key for an identifier that matches no account (it cannot look like user_key)."""
    return f"name:{identifier}"[:KEY_LENGTH]


def wait_after(failures: int, limit: int, longest: timedelta) -> timedelta:
    """How long to wait after the latest of `failures`: none below the limit, then doubling."""
    if failures < limit:
        return timedelta(0)
    doublings = min(failures - limit, 20)
    return min(longest, FIRST_WAIT * 2**doublings)


def check(s: Session, limits: LoginLimits, account_key: str, address: str, now: datetime) -> None:
    """Raise TooManyAttempts while the account or the address must still wait."""
    until = now
    for column, value, limit in (
        (LoginFailure.account_key, account_key, limits.per_account),
        (LoginFailure.address, address, limits.per_address),
    ):
        count, latest = s.execute(
            sa.select(sa.func.count(), sa.func.max(LoginFailure.created_at)).where(
                column == value, LoginFailure.created_at > now - MEMORY
            )
        ).one()
        if latest is not None:
            until = max(until, latest + wait_after(count, limit, limits.window))
    if until > now:
        raise TooManyAttempts(max(1, math.ceil((until - now).total_seconds() / 60)))


def record_failure(s: Session, account_key: str, address: str, now: datetime) -> None:
    """Count one failure and forget those too old to matter."""
    s.add(LoginFailure(account_key=account_key, address=address, created_at=now))
    s.execute(sa.delete(LoginFailure).where(LoginFailure.created_at < now - MEMORY))


def clear_account(s: Session, account_key: str) -> None:
    """A successful login clears that account's failures (not the address's)."""
    s.execute(sa.delete(LoginFailure).where(LoginFailure.account_key == account_key))
