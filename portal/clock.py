"""The portal's notion of today (UTC), in one place so tests and jobs agree."""

from __future__ import annotations

from datetime import date

from portal.db import utcnow


def today() -> date:
    """Today's date in UTC."""
    return utcnow().date()
