"""The e-mail outbox: every message is written here before any SMTP call."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, str_enum, utcnow


class MailStatus(enum.StrEnum):
    """Where a queued message stands."""

    QUEUED = "queued"
    SENT = "sent"
    PARKED = "parked"


class OutboundEmail(Base):
    """A message to send; the body is encrypted because it may carry a reset link."""

    __tablename__ = "outbound_email"
    __table_args__ = (sa.Index("ix_outbound_email_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body_encrypted: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[MailStatus] = mapped_column(
        str_enum(MailStatus, "mail_status", 10),
        default=MailStatus.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # What the message is for ("receipt:12"): at most one e-mail per cause.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
