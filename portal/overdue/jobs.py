"""The worker's hourly job: charge due late fees, then record each customer's overdue state."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.clock import app_today
from portal.config import Settings
from portal.overdue.fees import FeeRun, apply_late_fees
from portal.overdue.states import refresh_states

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HourlyRun:
    """What one hourly run did."""

    fees: FeeRun
    states: Counter[str]


def hourly(app: Flask) -> HourlyRun:
    """Fees first (the write-back job sends them to QuickBooks), then the states staff list."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    sessions: sessionmaker[Session] = app.extensions["portal.db"].sessions
    with sessions() as s:
        day = app_today(app, s)  # the company's date: a fee never falls due hours early
    fees = apply_late_fees(sessions, settings, day)
    if fees.added:
        logger.info("late fees: %s added, %s skipped", fees.added, fees.skipped)
    return HourlyRun(fees, refresh_states(sessions, settings, day))
