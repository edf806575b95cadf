"""Mirroring QuickBooks into portal tables: full (resumable) and incremental (CDC)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from portal.clock import zone_name
from portal.db import utcnow
from sync import lease, upsert
from sync.accounting import (
    AccountingAdapter,
    AccountingError,
    ChangeSet,
    CustomerRecord,
    Entity,
    NotFound,
    Record,
    WindowTooOld,
)
from sync.models import RunStatus, SyncRun, SyncState
from sync.upsert import Tally

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Parents before children: invoices need their customers, payments their invoices.
ORDER = (Entity.ITEM, Entity.CUSTOMER, Entity.INVOICE, Entity.CREDIT_MEMO, Entity.PAYMENT)


@dataclass(frozen=True)
class MirrorSettings:
    """Tuning of the mirror."""

    page_size: int = 1000
    # CDC restarts this far before the last run: clocks differ and timestamps are to the second.
    overlap: timedelta = timedelta(minutes=5)
    # QuickBooks CDC looks back 30 days; past this a full mirror is cheaper and safe.
    full_after: timedelta = timedelta(days=29)
    lease_ttl: timedelta = timedelta(minutes=10)


def prefetched(pages: Iterator[T]) -> Iterator[T]:
    """Ask QuickBooks for the next page while the caller writes this one.

    Calls stay strictly one at a time (the next is asked only once the previous answered),
    so throttling and token refresh see what they would without it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qbo-prefetch") as pool:
        ahead = pool.submit(next, pages, None)
        while (page := ahead.result()) is not None:
            ahead = pool.submit(next, pages, None)
            yield page


def note_zone(s: Session, realm: str, records: Sequence[Record]) -> None:
    """Keep the UTC offset of the newest QuickBooks stamp seen: the company's time zone (every
    stamp carries it), from which "today" is the company's date."""
    stamps = [r.updated_at for r in records if r.updated_at and r.updated_at.tzinfo]
    state = s.get(SyncState, realm)
    if not stamps or state is None:
        return
    newest = max(stamps)
    if state.timezone_seen_at is None or newest >= state.timezone_seen_at:
        state.timezone = zone_name(newest.utcoffset() or timedelta())
        state.timezone_seen_at = newest


class SyncBusy(Exception):
    """Another process is syncing this company now."""


class Mirror:
    """Mirrors one QuickBooks company through an accounting adapter."""

    def __init__(
        self,
        adapter: AccountingAdapter,
        sessions: sessionmaker[Session],
        settings: MirrorSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.adapter = adapter
        self.sessions = sessions
        self.settings = settings or MirrorSettings()
        self.clock = clock
        self.realm = adapter.realm_id
        self.holder = lease.holder_id()
        self.lease_name = f"sync:{self.realm}"
        self.last_tally = Tally()  # of the latest run, for benchmarks and logs

    def run(self, kind: str = "auto") -> SyncRun:
        """One run under the company's lease; the run row says how it went (never raises)."""
        ttl = self.settings.lease_ttl
        if not lease.acquire(self.sessions, self.lease_name, self.holder, ttl):
            raise SyncBusy(f"another sync of company {self.realm} is running")
        try:
            return self._run(kind)
        finally:
            lease.release(self.sessions, self.lease_name, self.holder)

    def _run(self, kind: str) -> SyncRun:
        with self.sessions() as s:
            state = s.get(SyncState, self.realm) or SyncState(realm_id=self.realm)
            state.run_requested_at = None
            s.add(state)
            run = SyncRun(realm_id=self.realm, kind=self._kind(state, kind))
            s.add(run)
            s.commit()
            run_id, resolved = run.id, run.kind
        calls_before = getattr(self.adapter, "calls", 0)
        tally = self.last_tally = Tally()
        error: str | None = None
        try:
            if resolved == "incremental":
                try:
                    self._incremental(tally)
                except WindowTooOld:
                    logger.warning("CDC window too old for %s; doing a full mirror", self.realm)
                    self._full(tally)
            else:
                self._full(tally)
        except AccountingError as exc:
            error = str(exc)
            logger.error("sync of %s stopped: %s", self.realm, exc)
        except Exception as exc:  # the run row must say what happened, whatever it was
            logger.exception("sync of %s failed unexpectedly", self.realm)
            error = f"Unexpected error ({type(exc).__name__}): {exc}"
        return self._finish(run_id, tally, error, getattr(self.adapter, "calls", 0) - calls_before)

    def _kind(self, state: SyncState, asked: str) -> str:
        if asked == "full" or state.full_entity is not None or state.watermark is None:
            return "full"
        if self.clock() - state.watermark > self.settings.full_after:
            return "full"
        return "incremental"

    def _finish(self, run_id: int, tally: Tally, error: str | None, calls: int) -> SyncRun:
        with self.sessions() as s:
            run = s.get(SyncRun, run_id)
            assert run is not None
            run.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
            run.error = error
            run.finished_at = utcnow()
            run.api_calls = calls
            run.inserted, run.updated, run.unchanged = (
                tally.inserted,
                tally.updated,
                tally.unchanged,
            )
            run.deleted, run.skipped = tally.deleted, tally.skipped
            run.warnings = "\n".join(tally.warnings[:200]) or None
            s.commit()
            s.expunge(run)
            return run

    def _renew(self) -> None:
        if not lease.renew(self.sessions, self.lease_name, self.holder, self.settings.lease_ttl):
            raise AccountingError("the sync lease was lost to another process; stopping")

    def _fetch_customer(self, customer_id: str) -> CustomerRecord | None:
        try:
            return self.adapter.get_customer(customer_id)
        except NotFound:
            return None

    # --- full ---------------------------------------------------------------------------

    def _full(self, tally: Tally) -> None:
        """Every entity, page by page; progress is committed with each page, so a failed run
        resumes at the page where it stopped."""
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None
            if state.full_entity is None:
                state.full_entity, state.full_position = ORDER[0].value, 1
                state.full_started_at = self.clock()
                s.commit()
            first = ORDER.index(Entity(state.full_entity))
        for entity in ORDER[first:]:
            self._full_entity(entity, tally)
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None and state.full_started_at is not None
            state.watermark = state.full_started_at - self.settings.overlap
            state.last_full_at = self.clock()
            state.full_entity = state.full_position = state.full_started_at = None
            s.commit()

    def _full_entity(self, entity: Entity, tally: Tally) -> None:
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None
            start = state.full_position or 1 if state.full_entity == entity.value else 1
        pages = self.adapter.pages(entity, self.settings.page_size, start=start)
        for records in prefetched(pages):
            began = time.perf_counter()
            with self.sessions() as s:
                tally.add(upsert.page(s, self.realm, entity, records, self._fetch_customer))
                note_zone(s, self.realm, records)
                state = s.get(SyncState, self.realm)
                assert state is not None
                start += len(records)
                state.full_entity, state.full_position = entity.value, start
                s.commit()
            tally.write_seconds += time.perf_counter() - began
            self._renew()
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None
            following = ORDER.index(entity) + 1
            state.full_entity = ORDER[following].value if following < len(ORDER) else entity.value
            state.full_position = 1
            s.commit()

    # --- incremental --------------------------------------------------------------------

    def _incremental(self, tally: Tally) -> None:
        """CDC since the watermark; when the answer is capped, entity by entity, and for an
        entity that alone fills an answer, queries by LastUpdatedTime."""
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None and state.watermark is not None
            since = state.watermark
        next_mark = self.clock() - self.settings.overlap
        changes = self.adapter.changes_since(ORDER, since)
        if not changes.truncated:
            self._apply(changes, tally)
        else:
            for entity in ORDER:
                self._incremental_entity(entity, since, tally)
        with self.sessions() as s:
            state = s.get(SyncState, self.realm)
            assert state is not None
            state.watermark = max(next_mark, since)
            s.commit()

    def _incremental_entity(self, entity: Entity, since: datetime, tally: Tally) -> None:
        changes = self.adapter.changes_since([entity], since)
        if not changes.truncated:
            self._apply(changes, tally)
            return
        tally.warnings.append(
            f"over 1000 {entity.value} changes since {since:%Y-%m-%d %H:%M}: read by query; "
            "deletions among them arrive with the next full mirror"
        )
        for records in self.adapter.pages(entity, self.settings.page_size, changed_since=since):
            with self.sessions() as s:
                tally.add(upsert.page(s, self.realm, entity, records, self._fetch_customer))
                note_zone(s, self.realm, records)
                s.commit()
            self._renew()

    def _apply(self, changes: ChangeSet, tally: Tally) -> None:
        with self.sessions() as s:
            for entity in ORDER:
                records: Sequence[Record] = changes.records.get(entity, [])
                if records:
                    tally.add(upsert.page(s, self.realm, entity, records, self._fetch_customer))
                    note_zone(s, self.realm, records)
            tally.add(upsert.deletions(s, self.realm, changes.deleted))
            s.commit()
