"""The audit log is append-only in the database: an UPDATE or DELETE of a row is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.audit.models import AuditEvent
from portal.audit.service import SYSTEM, record


@pytest.fixture
def event_id(app: Flask, make_customer) -> int:
    customer = make_customer("Ada")
    with app.app_context(), db.transaction() as s:
        event = record(s, "login", customer_id=customer.id, actor=SYSTEM, summary="Signed in")
        s.flush()
        return event.id


@pytest.mark.parametrize(
    "statement",
    [
        sa.update(AuditEvent).values(summary="nothing happened"),
        sa.delete(AuditEvent),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_remove_an_audit_event(
    app: Flask, event_id: int, statement: sa.Executable
):
    engine = app.extensions["portal.db"].engine
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(statement)
    with engine.connect() as conn:
        summary = conn.scalar(sa.select(AuditEvent.summary).where(AuditEvent.id == event_id))
    assert summary == "Signed in"


def test_a_refused_change_through_the_orm_leaves_the_row_as_written(app: Flask, event_id: int):
    with app.app_context(), pytest.raises(sa.exc.DatabaseError), db.transaction() as s:
        s.get(AuditEvent, event_id).summary = "rewritten"  # type: ignore[union-attr]
    with app.extensions["portal.db"].engine.connect() as conn:
        summary = conn.scalar(sa.select(AuditEvent.summary).where(AuditEvent.id == event_id))
    assert summary == "Signed in"
