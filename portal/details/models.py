"""A change of a customer's details on its way to QuickBooks, and what became of it."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, str_enum, utcnow


class ChangeStatus(enum.StrEnum):
    """Where a change stands (moves: pending → done | conflict | failed; conflict → pending
    when staff send the portal's values again, or dismissed when they keep QuickBooks')."""

    PENDING = "pending"  # queued or being written: the page says "saving to our books"
    DONE = "done"  # QuickBooks has it
    CONFLICT = "conflict"  # a changed field was changed in QuickBooks meanwhile: staff decide
    FAILED = "failed"  # QuickBooks refused it (a name in use); the customer is told why
    DISMISSED = "dismissed"  # staff kept QuickBooks' values


class CustomerChange(Base):
    """The details one form changed: {field: [before, after]}, written by one outbox message
    (a second edit while one is pending is a change of its own, queued after it)."""

    __tablename__ = "customer_change"
    __table_args__ = (sa.Index("ix_customer_change_customer_status", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id", ondelete="CASCADE"))
    fields: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ChangeStatus] = mapped_column(
        str_enum(ChangeStatus, "change_status", 10), default=ChangeStatus.PENDING
    )
    # The form's one-time key: the same form posted many times is one change.
    form_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox.id", ondelete="SET NULL"))
    sends: Mapped[int] = mapped_column(default=1, server_default="1")
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    # The Customer's SyncToken right after our write: a mirrored snapshot older than it does
    # not yet show the change, so the page keeps showing ours until one at least as new comes.
    written_token: Mapped[str | None] = mapped_column(sa.String(16))
    # Why it is a conflict or failed, in words, and QuickBooks' values of the fields at odds.
    problem: Mapped[str | None] = mapped_column(sa.String(500))
    theirs: Mapped[str | None] = mapped_column(sa.Text)
    resolved_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("portal_user.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]

    @property
    def changes(self) -> dict[str, list[str | None]]:
        """{field: [before, after]}."""
        loaded: dict[str, list[str | None]] = json.loads(self.fields)
        return loaded

    @property
    def wanted(self) -> dict[str, str | None]:
        """The values the change writes."""
        return {name: pair[1] for name, pair in self.changes.items()}

    @property
    def seen(self) -> dict[str, str | None]:
        """The values the portal showed before it."""
        return {name: pair[0] for name, pair in self.changes.items()}

    @property
    def their_values(self) -> dict[str, Any]:
        """QuickBooks' values of the conflicting fields."""
        return json.loads(self.theirs) if self.theirs else {}
