"""Sync use cases for the CLI, the worker and the admin pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.config import Settings
from portal.db import utcnow
from sync.accounting import AccountingAdapter
from sync.mirror import Mirror, MirrorSettings, SyncBusy
from sync.models import QboConnection, RunStatus, SyncRun, SyncState
from sync.outbox import OutboxMessage, OutboxStatus
from sync.quickbooks.connection import connected_realms, mark_needs_reconnect

logger = logging.getLogger(__name__)

AdapterFactory = Callable[[str], AccountingAdapter]


def mirror_settings(settings: Settings) -> MirrorSettings:
    """Mirror tuning from [sync]."""
    sync = settings.sync
    return MirrorSettings(
        page_size=sync.page_size,
        overlap=timedelta(seconds=sync.overlap_seconds),
        lease_ttl=timedelta(seconds=sync.lease_seconds),
    )


def sessions_of(app: Flask) -> sessionmaker[Session]:
    """The app's session factory (the worker runs outside requests)."""
    factory: sessionmaker[Session] = app.extensions["portal.db"].sessions
    return factory


def default_adapters(app: Flask) -> AdapterFactory:
    """Build QuickBooks adapters from the stored connections."""
    factory: AdapterFactory | None = app.extensions.get("portal.adapter_factory")
    if factory is not None:  # unit tests supply the in-memory fake
        return factory
    from sync.quickbooks.connection import adapter_for

    settings: Settings = app.config["PORTAL_SETTINGS"]
    return lambda realm: adapter_for(
        settings, sessions_of(app), app.extensions["portal.fernet"], realm
    )


def sync_realm(app: Flask, realm: str, kind: str = "auto") -> SyncRun | None:
    """One sync of one company now; None when another process is already syncing it."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    try:
        adapter = default_adapters(app)(realm)
        return Mirror(adapter, sessions_of(app), mirror_settings(settings)).run(kind)
    except SyncBusy:
        logger.info("sync of %s skipped: another process holds its lease", realm)
        return None


def sync_all(app: Flask, kind: str = "auto") -> list[SyncRun]:
    """Sync every connected company (the scheduled job)."""
    runs = [sync_realm(app, realm, kind) for realm in connected_realms(sessions_of(app))]
    return [r for r in runs if r is not None]


def sync_requested(app: Flask) -> list[SyncRun]:
    """Sync companies a webhook or an admin asked for (polled often by the worker)."""
    with sessions_of(app)() as s:
        realms = list(
            s.scalars(sa.select(SyncState.realm_id).where(SyncState.run_requested_at.is_not(None)))
        )
    usable = set(connected_realms(sessions_of(app)))
    runs = [sync_realm(app, realm) for realm in realms if realm in usable]
    return [r for r in runs if r is not None]


def write_back(app: Flask) -> object:
    """Drain the outbox: portal payments and credits into QuickBooks. A company whose
    authority is gone is paused (nothing parked), its admins are told once per connection,
    and its writes resume by themselves once it is connected again."""
    import sync.handlers  # noqa: F401  (registers the handlers)
    from sync import outbox

    settings: Settings = app.config["PORTAL_SETTINGS"]
    options = {
        "deposit_account_id": settings.quickbooks.deposit_account_id,
        "payment_method_id": settings.quickbooks.payment_method_id,
        "credit_item_id": settings.quickbooks.credit_item_id,
    }
    sessions = sessions_of(app)
    lost = needing_reconnect(sessions)
    result = outbox.drain(sessions, default_adapters(app), options=options, paused=lost)
    for realm in sorted(result.paused - set(lost)):
        mark_needs_reconnect(sessions, realm)
    for realm in sorted(result.paused | set(lost)):
        tell_admins_to_reconnect(app, realm)
    return result


def needing_reconnect(sessions: sessionmaker[Session]) -> list[str]:
    """Companies an admin must connect again before anything is written to them."""
    with sessions() as s:
        return list(
            s.scalars(sa.select(QboConnection.realm_id).where(QboConnection.needs_reconnect))
        )


def tell_admins_to_reconnect(app: Flask, realm: str) -> int:
    """E-mail each admin once per lost connection; how many e-mails were queued."""
    from portal.accounts.models import PortalUser, Role
    from portal.db import commit
    from portal.mail import queue_email
    from portal.mail.models import OutboundEmail

    queued = 0
    with sessions_of(app)() as s:
        conn = s.get(QboConnection, realm)
        stamp = f"{conn.connected_at:%Y%m%d%H%M%S}" if conn is not None else "none"
        admins = s.scalars(sa.select(PortalUser).where(PortalUser.role == Role.ADMIN))
        for admin in admins:
            key = f"reconnect:{realm}:{stamp}:{admin.id}"
            if not admin.email or s.scalar(
                sa.select(OutboundEmail.id).where(OutboundEmail.dedupe_key == key)
            ):
                continue
            queue_email(
                s,
                admin.email,
                "Reconnect QuickBooks: payments are waiting to be written",
                "email/reconnect_quickbooks.txt",
                dedupe_key=key,
                realm=realm,
                business=app.config["BUSINESS_NAME"],
            )
            queued += 1
        commit(s)
    return queued


def request_sync(s: Session, realm: str) -> None:
    """Ask the worker for an incremental sync of a company soon."""
    state = s.get(SyncState, realm)
    if state is None:
        state = SyncState(realm_id=realm)
        s.add(state)
    state.run_requested_at = utcnow()


@dataclass(frozen=True)
class SyncStatus:
    """What the admin sync page shows for one company."""

    connection: QboConnection
    state: SyncState | None
    runs: list[SyncRun]
    next_run_at: datetime | None
    # Writes to QuickBooks not done yet, by outbox status ("pending", "parked").
    writes: dict[str, int]

    @property
    def last_success(self) -> SyncRun | None:
        return next((r for r in self.runs if r.status is RunStatus.SUCCEEDED), None)


def status(s: Session, settings: Settings, limit: int = 20) -> list[SyncStatus]:
    """Connections with their sync state and latest runs."""
    out = []
    for conn in s.scalars(sa.select(QboConnection).order_by(QboConnection.realm_id)):
        runs = list(
            s.scalars(
                sa.select(SyncRun)
                .where(SyncRun.realm_id == conn.realm_id)
                .order_by(SyncRun.id.desc())
                .limit(limit)
            )
        )
        last = runs[0].started_at if runs else None
        interval = timedelta(minutes=settings.sync.interval_minutes)
        writes = dict(
            s.execute(
                sa.select(OutboxMessage.status, sa.func.count())
                .where(
                    OutboxMessage.realm_id == conn.realm_id,
                    OutboxMessage.status != OutboxStatus.DONE,
                )
                .group_by(OutboxMessage.status)
            ).all()
        )
        out.append(
            SyncStatus(
                conn,
                s.get(SyncState, conn.realm_id),
                runs,
                last + interval if last else None,
                {str(k.value): v for k, v in writes.items()},
            )
        )
    return out
