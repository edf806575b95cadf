"""Sync use cases for the CLI, the worker and the admin pages."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import sync.handlers  # noqa: F401  (registers every outbox handler)
from portal.config import Settings
from portal.outbox import OutboxMessage, OutboxStatus
from sync import outbox
from sync.accounting import AccountingAdapter, AccountingError
from sync.mirror import Mirror, MirrorSettings, SyncBusy
from sync.models import QboConnection, RunStatus, SyncRun, SyncState, request_sync
from sync.outbox import DrainResult
from sync.quickbooks.connection import adapter_for, connected_realms, mark_needs_reconnect

logger = logging.getLogger(__name__)

__all__ = ["request_sync"]  # re-exported: web pages ask for a sync through this module

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


def default_adapters(app: Flask, settings: Settings | None = None) -> AdapterFactory:
    """Build QuickBooks adapters from the stored connections (with the worker's retry policy
    from the app's settings, unless `settings` says otherwise)."""
    factory: AdapterFactory | None = app.extensions.get("portal.adapter_factory")
    if factory is not None:  # unit tests supply the in-memory fake
        return factory
    chosen: Settings = settings or app.config["PORTAL_SETTINGS"]
    fernet = app.extensions["portal.fernet"]
    return lambda realm: adapter_for(chosen, sessions_of(app), fernet, realm)


# A customer waiting for a page: one try, a short timeout, never the worker's 60 s waits.
WEB_TIMEOUT_SECONDS = 10


def web_adapters(app: Flask) -> AdapterFactory:
    """Adapters for the web path (a PDF in a request): no retries, no waiting after a 429,
    a short timeout; a failure is shown to the customer at once instead of holding a worker."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    quick = dataclasses.replace(
        settings.quickbooks,
        max_retries=0,
        throttle_wait_seconds=0,
        timeout_seconds=min(settings.quickbooks.timeout_seconds, WEB_TIMEOUT_SECONDS),
    )
    return default_adapters(app, dataclasses.replace(settings, quickbooks=quick))


def sync_realm(app: Flask, realm: str, kind: str = "auto") -> SyncRun | None:
    """One sync of one company now; None when another process is already syncing it."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    try:
        adapter = default_adapters(app)(realm)
        run = Mirror(adapter, sessions_of(app), mirror_settings(settings)).run(kind)
    except SyncBusy:
        logger.info("sync of %s skipped: another process holds its lease", realm)
        return None
    if run.status is RunStatus.SUCCEEDED:
        note_company_name(adapter, sessions_of(app), refresh=run.kind == "full")
    return run


def note_company_name(
    adapter: AccountingAdapter, sessions: sessionmaker[Session], refresh: bool
) -> str | None:
    """Keep the company's name for staff pages: read when unknown, and again when `refresh`
    (a full sync), so a renamed company is followed without a call on every sync."""
    with sessions() as s:
        state = s.get(SyncState, adapter.realm_id)
        if state is None or (state.company_name and not refresh):
            return state.company_name if state else None
    try:
        name = adapter.company_name()[:255] or None
    except AccountingError as exc:  # a name is nice to have; the sync itself went well
        logger.warning("the name of company %s could not be read: %s", adapter.realm_id, exc)
        return None
    with sessions() as s:
        s.execute(
            sa.update(SyncState)
            .where(SyncState.realm_id == adapter.realm_id)
            .values(company_name=name)
        )
        s.commit()
    return name


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


def write_back(app: Flask) -> DrainResult:
    """Drain the outbox: portal payments, credits and fees into QuickBooks. A company whose
    authority is gone is paused (nothing parked, see `needing_reconnect`) and its writes
    resume by themselves once it is connected again."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    options = {
        "deposit_account_id": settings.quickbooks.deposit_account_id,
        "payment_method_id": settings.quickbooks.payment_method_id,
        "credit_item_id": settings.quickbooks.credit_item_id,
        "timezone": settings.portal.timezone,
    }
    sessions = sessions_of(app)
    lost = needing_reconnect(sessions)
    result = outbox.drain(sessions, default_adapters(app), options=options, paused=lost)
    for realm in sorted(result.paused - set(lost)):
        mark_needs_reconnect(sessions, realm)
    result.paused.update(lost)
    return result


def needing_reconnect(sessions: sessionmaker[Session]) -> list[str]:
    """Companies an admin must connect again before anything is written to them."""
    with sessions() as s:
        return list(
            s.scalars(sa.select(QboConnection.realm_id).where(QboConnection.needs_reconnect))
        )


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
