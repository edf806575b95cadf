"""Card testing: after too many declined payments in an hour, from one customer or from one
client address, new attempts are refused before anything reaches the card processor.

Counted from the payments table, so the limit holds across workers and processes. Attempts
still in flight count too: they may yet be declined, and two tabs cannot slip past the limit
(a customer's attempts are serialized by a lock). Attempts for different customers from one
address are not serialized, so a burst of them at the same instant may pass the address limit
by the few that were in flight together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.payments.models import IN_FLIGHT, Payment, PaymentState

WINDOW = timedelta(hours=1)
COUNTED = (PaymentState.DECLINED, *IN_FLIGHT)


@dataclass(frozen=True)
class Attempt:
    """Where a payment attempt comes from, when, and the limits that apply to it."""

    address: str | None
    now: datetime
    per_customer: int
    per_address: int


def retry_at(s: Session, customer_id: int, attempt: Attempt) -> datetime | None:
    """When a new attempt will be allowed, or None if it is allowed now."""
    since = attempt.now - WINDOW
    recent = sa.select(Payment.created_at).where(
        Payment.state.in_(COUNTED), Payment.created_at > since
    )
    waits = [
        _wait(
            s.scalars(recent.where(Payment.customer_id == customer_id)).all(),
            attempt.per_customer,
        )
    ]
    if attempt.address:
        by_address = recent.where(Payment.client_address == attempt.address)
        waits.append(_wait(s.scalars(by_address).all(), attempt.per_address))
    return max((w for w in waits if w is not None), default=None)


def _wait(times: Sequence[datetime], limit: int) -> datetime | None:
    """Once `limit` attempts are within the window, the next is allowed when enough of the
    oldest have left it to bring the count under the limit."""
    if len(times) < limit:
        return None
    return sorted(times)[len(times) - limit] + WINDOW
