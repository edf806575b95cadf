"""Login rate limiting per account and per client address, shared by every worker via the DB."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.models import LoginFailure
from portal.db import utcnow


@dataclass(frozen=True)
class LoginLimits:
    """How many failures are allowed per account and per address within the window."""

    per_account: int
    per_address: int
    window: timedelta


class TooManyAttempts(Exception):
    """Logins are refused for a while; `minutes` says how long."""

    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


def check(s: Session, limits: LoginLimits, account_key: str, address: str) -> None:
    """Raise TooManyAttempts when the account or the address is over its limit."""
    since = utcnow() - limits.window
    for column, value, limit in (
        (LoginFailure.account_key, account_key, limits.per_account),
        (LoginFailure.address, address, limits.per_address),
    ):
        rows = s.execute(
            sa.select(sa.func.count(), sa.func.min(LoginFailure.created_at)).where(
                column == value, LoginFailure.created_at > since
            )
        ).one()
        count, oldest = rows
        if count >= limit:
            raise TooManyAttempts(_minutes_left(oldest, limits.window))


def _minutes_left(oldest: datetime | None, window: timedelta) -> int:
    if oldest is None:
        return math.ceil(window.total_seconds() / 60)
    left = (oldest + window - utcnow()).total_seconds()
    return max(1, math.ceil(left / 60))


def record_failure(s: Session, limits: LoginLimits, account_key: str, address: str) -> None:
    """Count one failure and forget those older than the window."""
    s.add(LoginFailure(account_key=account_key, address=address))
    s.execute(sa.delete(LoginFailure).where(LoginFailure.created_at < utcnow() - limits.window))


def clear_account(s: Session, account_key: str) -> None:
    """A successful login clears that account's failures (not the address's)."""
    s.execute(sa.delete(LoginFailure).where(LoginFailure.account_key == account_key))
