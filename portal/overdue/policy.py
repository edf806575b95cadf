"""The late-fee policy and its pure rules: how much, and for which period."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal.config import LateFeeSettings

CENT = Decimal("0.01")
ONCE = "once"
AMOUNT_RE = re.compile(r"\d{1,9}(\.\d{1,2})?")


class FeeKind(enum.StrEnum):
    """How a fee is computed."""

    FLAT = "flat"
    PERCENT = "percent"


class Frequency(enum.StrEnum):
    """How often an invoice that stays overdue is charged."""

    ONCE = "once"
    MONTHLY = "monthly"


class PolicyError(ValueError):
    """A policy value is not acceptable; the message says which and why."""


@dataclass(frozen=True)
class LateFeePolicy:
    """The late-fee policy in force (from [late_fees], or as an admin saved it)."""

    enabled: bool
    grace_days: int
    kind: FeeKind
    amount: Decimal
    percent: Decimal
    minimum: Decimal
    cap: Decimal | None
    frequency: Frequency
    item_name: str

    def __post_init__(self) -> None:
        check(self)


def check(policy: LateFeePolicy) -> None:
    """Refuse a policy that cannot charge sensibly (PolicyError says what to change)."""
    if not 0 <= policy.grace_days <= 365:
        raise PolicyError("Grace days must be between 0 and 365.")
    if policy.kind is FeeKind.FLAT and policy.amount <= 0:
        raise PolicyError("A flat fee must be more than zero.")
    if policy.kind is FeeKind.PERCENT and not 0 < policy.percent <= 100:
        raise PolicyError("The percentage must be more than 0 and at most 100.")
    if policy.minimum < 0:
        raise PolicyError("The minimum cannot be negative.")
    if policy.cap is not None and policy.cap < policy.minimum:
        raise PolicyError("The cap cannot be less than the minimum.")
    if not policy.item_name.strip():
        raise PolicyError("Name the QuickBooks item of the fee line (e.g. Late fee).")


def parse_decimal(raw: str, label: str) -> Decimal:
    """A non-negative number with at most two decimals, or PolicyError naming the field."""
    text = raw.strip().replace(",", "").lstrip("$").rstrip("%").strip()
    if not AMOUNT_RE.fullmatch(text):
        raise PolicyError(f"Enter the {label} as a number with at most 2 decimals, e.g. 25.00.")
    return Decimal(text).quantize(CENT)


def from_settings(section: LateFeeSettings) -> LateFeePolicy:
    """The policy written in [late_fees] (already validated at start-up)."""
    return LateFeePolicy(
        enabled=section.enabled,
        grace_days=section.grace_days,
        kind=FeeKind(section.kind),
        amount=Decimal(section.amount).quantize(CENT),
        percent=Decimal(section.percent).quantize(CENT),
        minimum=Decimal(section.minimum).quantize(CENT),
        cap=Decimal(section.cap).quantize(CENT) if section.cap else None,
        frequency=Frequency(section.frequency),
        item_name=section.item_name,
    )


def fee_for(policy: LateFeePolicy, overdue_balance: Decimal) -> Decimal:
    """The fee on an overdue balance: flat or percent, raised to the minimum, cut to the cap."""
    if overdue_balance <= 0:
        return Decimal("0.00")
    # Decimal arithmetic is exact here; the one rounding happens at the end.
    flat = policy.kind is FeeKind.FLAT
    raw = policy.amount if flat else overdue_balance * policy.percent / 100
    raw = max(raw, policy.minimum)
    if policy.cap is not None:
        raw = min(raw, policy.cap)
    # Minimum and cap are whole cents, so rounding once at the end equals rounding first.
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, the month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_fee_day(policy: LateFeePolicy, due_date: date) -> date:
    """The first day a fee is owed: the day after the grace days that follow the due date."""
    return due_date + timedelta(days=policy.grace_days + 1)


def fee_period(policy: LateFeePolicy, due_date: date, today: date) -> str | None:
    """The period a fee due today is for ("once", or the month "2026-03"); None: none due."""
    start = first_fee_day(policy, due_date)
    if today < start:
        return None
    if policy.frequency is Frequency.ONCE:
        return ONCE
    months = (today.year - start.year) * 12 + today.month - start.month
    if add_months(start, months) > today:
        months -= 1
    # Each month's fee falls on the same day of the month as the first, so consecutive
    # periods start in consecutive calendar months and "YYYY-MM" names each one uniquely.
    return add_months(start, months).strftime("%Y-%m")


def fee_description(period: str, doc_number: str | None) -> str:
    """The text of the fee line the customer reads on the invoice."""
    if period == ONCE:
        return f"Late fee for overdue invoice {doc_number}" if doc_number else "Late fee"
    return f"Late fee for {period}"
