"""State of the QuickBooks bridge: the connection, sync progress and runs, the worker lease."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, str_enum, utcnow


class QboConnection(Base):
    """One connected QuickBooks company; tokens are encrypted with portal.encryption_key."""

    __tablename__ = "qbo_connection"

    realm_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    access_token_enc: Mapped[str] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str] = mapped_column(sa.Text)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when QuickBooks refuses the refresh token: an admin must connect again.
    needs_reconnect: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncState(Base):
    """Where mirroring of one company stands."""

    __tablename__ = "sync_state"

    realm_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    # CDC asks for changes after this point (kept a little behind the last run on purpose).
    watermark: Mapped[datetime | None]
    last_full_at: Mapped[datetime | None]
    # A full mirror in progress resumes at this entity and row (1-based) after a failure.
    full_entity: Mapped[str | None] = mapped_column(sa.String(20))
    full_position: Mapped[int | None]
    full_started_at: Mapped[datetime | None]
    run_requested_at: Mapped[datetime | None]
    # The company's time zone as QuickBooks stamps its changes ("-08:00"), from the newest
    # stamp seen (`timezone_seen_at`), so a change of daylight saving time is followed.
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    timezone_seen_at: Mapped[datetime | None]
    # The company's name in QuickBooks (CompanyInfo), for staff pages; read at a full sync.
    company_name: Mapped[str | None] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RunStatus(enum.StrEnum):
    """How a sync run ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncRun(Base):
    """One sync run, for the admin page: counts, API calls and the error in words."""

    __tablename__ = "sync_run"
    __table_args__ = (sa.Index("ix_sync_run_realm_started", "realm_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[RunStatus] = mapped_column(
        str_enum(RunStatus, "run_status", 10),
        default=RunStatus.RUNNING,
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    api_calls: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    warnings: Mapped[str | None] = mapped_column(sa.Text)


class Lease(Base):
    """A named lock with an expiry, held by one process at a time across hosts."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime]


def request_sync(s: Session, realm: str) -> None:
    """Ask the worker for an incremental sync of a company soon (a webhook, an admin, or a
    write whose result the mirror should pick up)."""
    state = s.get(SyncState, realm)
    if state is None:
        state = SyncState(realm_id=realm)
        s.add(state)
    state.run_requested_at = utcnow()


class WebhookReceipt(Base):
    """A signed webhook body already acted on (SHA-256 of signature and body): a replay of it
    within a day is acknowledged and ignored. Rows older than a day are pruned."""

    __tablename__ = "webhook_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
