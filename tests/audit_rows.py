"""Reading the audit log back in tests."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.audit.models import AuditEvent


def events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    """Every audit event (of one action), oldest first, detached."""
    with app.app_context():
        s = db.session()
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def actions(app: Flask) -> list[str]:
    return [e.action for e in events(app)]
