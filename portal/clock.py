"""The company's clock: "today" for due dates, overdue states, late fees and statements.

A business day is the QuickBooks company's, not UTC's: at 03:00 UTC on March 1 it is still
February 28 in California, and an invoice due that day is not late yet. The company's zone is
`portal.timezone` when set (an IANA name follows daylight saving time exactly), else the UTC
offset QuickBooks stamped on the company's newest change (kept by the mirror), else UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from portal import db
from portal.config import Settings, parse_zone
from portal.db import utcnow
from sync.models import SyncState

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def zone_name(offset: timedelta) -> str:
    """A UTC offset as QuickBooks writes it: -08:00, +05:30."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def company_zones(s: Session, realm: str | None = None) -> list[tzinfo]:
    """The time zones the mirror learned from QuickBooks (of one company, or of every one)."""
    query = sa.select(SyncState.realm_id, SyncState.timezone).where(SyncState.timezone.is_not(None))
    if realm is not None:
        query = query.where(SyncState.realm_id == realm)
    zones = []
    for realm_id, name in s.execute(query).all():
        try:
            zones.append(parse_zone(name or ""))
        except ValueError:
            logger.warning("company %s has an unreadable time zone %r; ignored", realm_id, name)
    return zones


def display_zone(override: str, session: Callable[[], Session]) -> tzinfo:
    """The zone times are shown in: `portal.timezone`, else QuickBooks's (read through
    `session` only then), else UTC."""
    if override:
        return parse_zone(override)
    zones = company_zones(session())
    return zones[0] if zones else UTC


def date_in(zones: Sequence[tzinfo], now: datetime) -> date:
    """The date at `now` (aware) in the zone furthest behind, so that with several companies
    a due date never passes, nor a fee falls due, before it has in every one of them."""
    if now.tzinfo is None:
        raise ValueError("a naive datetime has no date in a time zone")
    return min(now.astimezone(zone).date() for zone in zones or [UTC])


def company_today(s: Session, override: str, now: datetime, realm: str | None = None) -> date:
    """The company's date at `now`: the one function every business "today" comes from."""
    return date_in([parse_zone(override)] if override else company_zones(s, realm), now)


def clock_of(app: Flask) -> Clock:
    """The app's clock: `CLOCK` in its config (tests pin the moment), else the real one."""
    clock: Clock = app.config.get("CLOCK") or utcnow
    return clock


def app_today(app: Flask, s: Session) -> date:
    """The company's date now, for a job that holds the app and a session of its own."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    return company_today(s, settings.portal.timezone, clock_of(app)())


def today() -> date:
    """The company's date now, in a request or app context (outside one: the UTC date)."""
    if not has_app_context():
        return utcnow().date()
    return app_today(current_app, db.session())
