"""One audit event per change to an account; rows are only ever inserted (the database
refuses UPDATE and DELETE on the table)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class AuditEvent(Base):
    """Something that changed on an account (or a staff setting), as it happened."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # An account's log is read newest first in keyset pages of ids.
        sa.Index("ix_audit_event_customer_id", "customer_id", "id"),
        sa.Index("ix_audit_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The account it is about (None: a staff setting or a login with no account). The keys
    # do not cascade: the table refuses every UPDATE and DELETE (triggers, migration 0018),
    # and customers and logins are never deleted.
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customer.id"))
    # Who did it (None: the system, e.g. autopay); the label keeps the name they had then.
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("portal_user.id"))
    actor_label: Mapped[str] = mapped_column(sa.String(120), default="system")
    action: Mapped[str] = mapped_column(sa.String(40))  # "login", "details.changed", ...
    summary: Mapped[str] = mapped_column(sa.String(500))
    before: Mapped[str | None] = mapped_column(sa.Text)  # JSON of the fields as they were
    after: Mapped[str | None] = mapped_column(sa.Text)  # JSON of the fields as they became
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
