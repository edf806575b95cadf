"""The limits on payment plans an admin sets on /admin/plan-limits (the most installments and
the smallest one); until they do, [autopay]'s settings hold."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.autopay.models import PlanLimits
from portal.config import AutopaySettings

AMOUNT = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")
MOST_INSTALLMENTS = 60
LARGEST_MINIMUM = Decimal("100000.00")


class LimitsRefused(ValueError):
    """A limit outside what is allowed; the message says what is."""


def current(s: Session, base: AutopaySettings) -> AutopaySettings:
    """The autopay settings with the admin's plan limits in place of the file's."""
    row = s.get(PlanLimits, 1)
    if row is None:
        return base
    return dataclasses.replace(
        base,
        plan_max_installments=row.max_installments,
        plan_min_installment=f"{row.min_installment:.2f}",
    )


def parse(raw_count: str, raw_minimum: str) -> tuple[int, Decimal]:
    """The limits as typed (ASCII digits, a whole number and dollars and cents), checked."""
    count_text, minimum_text = raw_count.strip(), raw_minimum.strip().lstrip("$")
    if not (count_text.isascii() and count_text.isdigit()) or len(count_text) > 3:
        raise LimitsRefused(f"Installments: a whole number from 2 to {MOST_INSTALLMENTS}.")
    count = int(count_text)
    if not 2 <= count <= MOST_INSTALLMENTS:
        raise LimitsRefused(f"Installments: a whole number from 2 to {MOST_INSTALLMENTS}.")
    if not AMOUNT.fullmatch(minimum_text):
        raise LimitsRefused("Smallest installment: dollars and cents, such as 25.00.")
    minimum = Decimal(minimum_text)
    if not Decimal("0.01") <= minimum <= LARGEST_MINIMUM:
        raise LimitsRefused(f"Smallest installment: from 0.01 to {LARGEST_MINIMUM:,}.")
    return count, minimum.quantize(Decimal("0.01"))


def save(s: Session, count: int, minimum: Decimal, by: int | None) -> None:
    row = s.get(PlanLimits, 1) or PlanLimits(id=1)
    row.max_installments = count
    row.min_installment = minimum
    row.updated_by = by
    s.add(row)
