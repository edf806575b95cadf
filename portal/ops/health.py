"""/healthz (the process answers) and /readyz (the database answers, every QuickBooks
connection is usable, no QuickBooks write is stuck) for load balancers and monitors.

Both need no login, set no cookie and cost a few indexed queries at most."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from portal import db
from portal.config import Settings
from portal.outbox import OutboxMessage, OutboxStatus
from sync.models import QboConnection

logger = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed and what was found, in words."""

    name: str
    ok: bool
    detail: str


def readiness(engine: Engine, stuck_after: timedelta, now: datetime) -> list[Check]:
    """Every readiness check; when the database does not answer, that one alone."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            return [
                Check("database", True, "ok"),
                _guarded(conn, "quickbooks", _quickbooks),
                _guarded(conn, "outbox", lambda c: _outbox(c, now - stuck_after)),
            ]
    except SQLAlchemyError as exc:
        logger.warning("readiness: the database did not answer (%s)", type(exc).__name__)
        return [Check("database", False, "unreachable")]


def _guarded(conn: Connection, name: str, check: Callable[[Connection], Check]) -> Check:
    try:
        return check(conn)
    except SQLAlchemyError as exc:
        logger.warning("readiness: %s could not be read (%s)", name, type(exc).__name__)
        conn.rollback()
        return Check(name, False, "could not be read")


def _quickbooks(conn: Connection) -> Check:
    lost = conn.scalar(
        sa.select(sa.func.count()).select_from(QboConnection).where(QboConnection.needs_reconnect)
    )
    if lost:
        return Check("quickbooks", False, f"{lost} company(ies) must be reconnected")
    return Check("quickbooks", True, "ok")


def _outbox(conn: Connection, cutoff: datetime) -> Check:
    """Old pending or parked writes, counted through the (status, …) index."""
    rows = conn.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.PARKED)),
            OutboxMessage.created_at < cutoff,
        )
        .group_by(OutboxMessage.status)
    ).all()
    found = {OutboxStatus(status): count for status, count in rows if count}
    if not found:
        return Check("outbox", True, "ok")
    words = [f"{count} {status.value}" for status, count in sorted(found.items())]
    return Check("outbox", False, f"{' and '.join(words)} since before {cutoff:%Y-%m-%d %H:%M} UTC")


@bp.route("/healthz")
def healthz() -> Response:
    """The process is up; touches nothing else."""
    return Response("ok\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.route("/readyz")
def readyz() -> tuple[Response, int]:
    """200 with every check, or 503 naming those that failed."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    stuck_after = timedelta(minutes=settings.monitoring.outbox_stuck_minutes)
    checks = readiness(db.database().engine, stuck_after, db.utcnow())
    failing = [c.name for c in checks if not c.ok]
    body = jsonify(
        ready=not failing,
        failing=failing,
        checks={c.name: c.detail for c in checks},
    )
    body.headers["Cache-Control"] = "no-store"
    return body, 503 if failing else 200
