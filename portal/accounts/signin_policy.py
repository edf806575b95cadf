"""The admin's sign-in rules: whether customers must use a second factor (staff always must),
an optional password age after which people are asked to choose a new one, and whether
customers may create their own login from an invoice (self-claim)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from portal.accounts.models import PortalUser, Role, SecurityPolicy
from portal.db import utcnow

CUSTOMER_CHOICES = ("optional", "required")
MIN_AGE_DAYS = 30
MAX_AGE_DAYS = 3650


@dataclass(frozen=True)
class SignInRules:
    customer_two_factor: str = "optional"
    password_max_age_days: int | None = None  # off by default (NIST SP 800-63B)
    self_claim: bool = True


def rules(s: Session) -> SignInRules:
    row = s.get(SecurityPolicy, 1)
    if row is None:
        return SignInRules()
    return SignInRules(row.customer_two_factor, row.password_max_age_days, row.self_claim)


def save(
    s: Session,
    customer_two_factor: str,
    password_max_age_days: int | None,
    by: int | None,
    self_claim: bool | None = None,
) -> None:
    """Store the rules; ValueError when one is outside what is allowed. `self_claim` None
    keeps what was saved."""
    if customer_two_factor not in CUSTOMER_CHOICES:
        raise ValueError("Choose optional or required.")
    if password_max_age_days is not None and not (
        MIN_AGE_DAYS <= password_max_age_days <= MAX_AGE_DAYS
    ):
        raise ValueError(f"A password age is between {MIN_AGE_DAYS} and {MAX_AGE_DAYS} days.")
    row = s.get(SecurityPolicy, 1) or SecurityPolicy(id=1)
    row.customer_two_factor = customer_two_factor
    row.password_max_age_days = password_max_age_days
    if self_claim is not None:
        row.self_claim = self_claim
    row.updated_by = by
    s.add(row)


def must_use_two_factor(found: SignInRules, user: PortalUser) -> bool:
    """Staff always; customers when the admin requires it."""
    return user.role is not Role.CUSTOMER or found.customer_two_factor == "required"


def password_too_old(found: SignInRules, user: PortalUser, now: datetime | None = None) -> bool:
    if found.password_max_age_days is None:
        return False
    age = (now or utcnow()) - user.password_changed_at
    return age > timedelta(days=found.password_max_age_days)
