"""The overdue ladder: current → past due → warning → suspended, derived from due dates.

A state is computed from the oldest unpaid due date, never stored as the truth: a payment
lowers the balances and the very next page shows the account current again."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.billing.locations import family_of
from portal.billing.models import Invoice
from portal.config import OverdueSettings, Settings


class OverdueState(enum.StrEnum):
    """A step of the ladder, mildest first."""

    CURRENT = "current"
    PAST_DUE = "past_due"
    WARNING = "warning"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        """In words, for pages."""
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class OverdueStatus:
    """Where an account stands, what to tell the customer, and what is blocked."""

    name: OverdueState
    message: str
    turn_off_date: date | None
    blocks_changes: bool
    service_off: bool
    since: date | None = None  # the day this state began
    oldest_due_date: date | None = None

    @property
    def overdue(self) -> bool:
        """Whether anything is past due."""
        return self.name is not OverdueState.CURRENT


CURRENT = OverdueStatus(OverdueState.CURRENT, "", None, False, False)


def section(settings: Settings | OverdueSettings) -> OverdueSettings:
    """The [overdue] section, from the whole settings or the section itself."""
    return settings.overdue if isinstance(settings, Settings) else settings


def long_date(day: date) -> str:
    """A date as customers read it: March 6, 2026."""
    return f"{day:%B} {day.day}, {day.year}"


def state_for(
    oldest_overdue_due_date: date | None, today: date, settings: Settings | OverdueSettings
) -> OverdueStatus:
    """The ladder step for the oldest unpaid due date as of today (pure)."""
    cfg = section(settings)
    if oldest_overdue_due_date is None:
        return CURRENT
    due = oldest_overdue_due_date
    late = (today - due).days
    if late < cfg.past_due_days:
        return CURRENT
    turn_off = due + timedelta(days=cfg.suspend_days)
    if late >= cfg.suspend_days:
        name, days, template = OverdueState.SUSPENDED, cfg.suspend_days, cfg.suspended_message
        blocks, off = True, cfg.suspended_service_off
    elif late >= cfg.warning_days:
        name, days, template = OverdueState.WARNING, cfg.warning_days, cfg.warning_message
        blocks, off = cfg.warning_blocks_changes, False
    else:
        name, days, template = OverdueState.PAST_DUE, cfg.past_due_days, cfg.past_due_message
        blocks, off = False, False
    return OverdueStatus(
        name=name,
        message=template.format(date=long_date(turn_off)),
        turn_off_date=turn_off,
        blocks_changes=blocks,
        service_off=off,
        since=due + timedelta(days=days),
        oldest_due_date=due,
    )


def open_overdue(today: date) -> sa.ColumnElement[bool]:
    """An invoice still owed whose due date has passed."""
    return sa.and_(
        Invoice.balance > 0,
        ~Invoice.voided,
        ~Invoice.deleted,
        Invoice.due_date.is_not(None),
        Invoice.due_date < today,
    )


def account_status(
    s: Session, customer_id: int, today: date, settings: Settings | OverdueSettings
) -> OverdueStatus:
    """The account's ladder step from its oldest open overdue invoice, its locations' included
    (one query)."""
    oldest = s.scalar(
        sa.select(sa.func.min(Invoice.due_date)).where(
            Invoice.customer_id.in_(family_of(customer_id)), open_overdue(today)
        )
    )
    return state_for(oldest, today, settings)
