"""The policy in force: the one an admin saved, else the [late_fees] section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from portal.config import Settings
from portal.db import utcnow
from portal.overdue.models import LateFeePolicyRow
from portal.overdue.policy import FeeKind, Frequency, LateFeePolicy, from_settings

ROW_ID = 1


@dataclass(frozen=True)
class PolicyInForce:
    """A policy and where it comes from, for the admin page."""

    policy: LateFeePolicy
    saved_at: datetime | None  # None: from the configuration file
    saved_by: int | None


def current_policy(s: Session, settings: Settings) -> LateFeePolicy:
    """The policy the fee job applies now."""
    return policy_in_force(s, settings).policy


def policy_in_force(s: Session, settings: Settings) -> PolicyInForce:
    """The saved policy with who saved it, or the configured one."""
    row = s.get(LateFeePolicyRow, ROW_ID)
    if row is None:
        return PolicyInForce(from_settings(settings.late_fees), None, None)
    policy = LateFeePolicy(
        enabled=row.enabled,
        grace_days=row.grace_days,
        kind=FeeKind(row.kind),
        amount=row.amount,
        percent=row.percent,
        minimum=row.minimum,
        cap=row.cap,
        frequency=Frequency(row.frequency),
        item_name=row.item_name,
    )
    return PolicyInForce(policy, row.updated_at, row.updated_by)


def save_policy(s: Session, policy: LateFeePolicy, by: int | None) -> None:
    """Store the policy so it overrides [late_fees] (in the caller's unit of work)."""
    row = s.get(LateFeePolicyRow, ROW_ID, with_for_update=True)
    if row is None:
        row = LateFeePolicyRow(id=ROW_ID)
        s.add(row)
    row.enabled = policy.enabled
    row.grace_days = policy.grace_days
    row.kind = policy.kind.value
    row.amount = policy.amount
    row.percent = policy.percent
    row.minimum = policy.minimum
    row.cap = policy.cap
    row.frequency = policy.frequency.value
    row.item_name = policy.item_name.strip()
    row.updated_by = by
    row.updated_at = utcnow()  # saved again unchanged still records who and when


def reset_policy(s: Session) -> bool:
    """Forget the saved policy: [late_fees] applies again. False when none was saved."""
    row = s.get(LateFeePolicyRow, ROW_ID)
    if row is None:
        return False
    s.delete(row)
    return True
