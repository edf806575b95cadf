"""Draining the outbox (portal.outbox) through the accounting adapter, exactly once
(requestid = outbox id, or the batch key of a batch: see sync.outbox_batch); handlers per
message kind are registered here by sync.writeback, sync.credits and sync.late_fees."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, sessionmaker

from portal.db import utcnow
from portal.outbox import OutboxEffect, OutboxMessage, OutboxStatus
from sync.accounting import AccountingAdapter, AccountingError, AuthorizationLost

logger = logging.getLogger(__name__)

# A claimed message is hidden this long from other drainers while one works on it.
CLAIM = timedelta(minutes=2)
MAX_ATTEMPTS = 8


# A handler performs one message through the adapter and records its effect in `s`; it
# returns a reference to what QuickBooks made (e.g. the Payment Id). `options` carries the
# write-back settings (deposit account, payment method).
Handler = Callable[[Session, AccountingAdapter, OutboxMessage, Mapping[str, str]], str]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of a message kind."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


@dataclass
class DrainResult:
    """What one drain did."""

    done: int = 0
    retried: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)
    # Companies whose QuickBooks authority is gone: their writes wait for a reconnect.
    paused: set[str] = field(default_factory=set)


@dataclass
class Run:
    """One drain: the database, the adapters (built once per company), the clock, the tally."""

    sessions: sessionmaker[Session]
    adapters: Callable[[str], AccountingAdapter]
    now: Callable[[], datetime]
    options: Mapping[str, str]
    result: DrainResult = field(default_factory=DrainResult)
    cache: dict[str, AccountingAdapter] = field(default_factory=dict)

    def adapter(self, realm_id: str) -> AccountingAdapter:
        """The adapter of a company, built on first use."""
        if realm_id not in self.cache:
            self.cache[realm_id] = self.adapters(realm_id)
        return self.cache[realm_id]

    def open_realm(self) -> sa.ColumnElement[bool]:
        """Messages of companies not paused in this drain."""
        return OutboxMessage.realm_id.not_in(sorted(self.result.paused))


class Batcher(Protocol):
    """Drains the due messages of one kind in groups (see sync.outbox_batch)."""

    def drain(self, run: Run, kind: str, limit: int) -> int:
        """Send due messages of `kind` in batches; how many messages it took."""
        ...


BATCHERS: dict[str, Batcher] = {}


def batcher(kind: str, drainer: Batcher) -> None:
    """Send the messages of a kind in batches; the handler stays their one-at-a-time path."""
    BATCHERS[kind] = drainer


def fresh() -> sa.ColumnElement[bool]:
    """Never sent: such a message may join a new batch (once sent alone, always alone)."""
    return sa.and_(
        OutboxMessage.attempts == 0,
        OutboxMessage.batch_key.is_(None),
        OutboxMessage.last_error.is_(None),
    )


def due(now: datetime) -> sa.ColumnElement[bool]:
    """Pending and not claimed or backing off."""
    return sa.and_(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now
    )


def in_order() -> sa.ColumnElement[bool]:
    """No earlier write of another kind to one of its invoices is still to land (a payment
    waits for the late fee or credit queued before it on the same invoice)."""
    mine, theirs, earlier = aliased(OutboxEffect), aliased(OutboxEffect), aliased(OutboxMessage)
    return ~sa.exists().where(
        mine.message_id == OutboxMessage.id,
        theirs.realm_id == mine.realm_id,
        theirs.invoice_qbo_id == mine.invoice_qbo_id,
        theirs.message_id < OutboxMessage.id,
        earlier.id == theirs.message_id,
        earlier.kind != OutboxMessage.kind,
        earlier.status != OutboxStatus.DONE,
    )


def claim(sessions: sessionmaker[Session], message_id: int, now: datetime) -> bool:
    """Take one due message for CLAIM, counting the attempt."""
    with sessions() as s:
        result = s.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, due(now))
            .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + CLAIM)
        )
        s.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def drain(
    sessions: sessionmaker[Session],
    adapters: Callable[[str], AccountingAdapter],
    limit: int = 500,
    now: Callable[[], datetime] = utcnow,
    options: Mapping[str, str] | None = None,
    paused: Sequence[str] = (),
) -> DrainResult:
    """Perform due messages, oldest first: batched kinds in groups, the others one at a time,
    then the batched kinds again (a payment that waited for a fee on its invoice goes now).
    Companies in `paused` (or that lose their authority meanwhile) are left for later."""
    run = Run(sessions, adapters, now, options or {})
    run.result.paused.update(paused)
    taken = _drain_batched(run, limit)
    for message_id, realm_id in _due_alone(run, max(0, limit - taken)):
        if realm_id in run.result.paused:  # lost its authority earlier in this drain
            continue
        if claim(sessions, message_id, now()):  # else another worker took it
            perform(run, message_id)
            taken += 1
    _drain_batched(run, max(0, limit - taken))
    return run.result


def _drain_batched(run: Run, limit: int) -> int:
    taken = 0
    for kind, drainer in BATCHERS.items():
        taken += drainer.drain(run, kind, max(0, limit - taken))
    return taken


def _due_alone(run: Run, limit: int) -> list[tuple[int, str]]:
    """Due messages for the one-at-a-time path: unbatched kinds, and those sent on alone."""
    batched = OutboxMessage.kind.in_(list(BATCHERS))
    alone = sa.or_(~batched, sa.and_(OutboxMessage.batch_key.is_(None), ~fresh()))
    with run.sessions() as s:
        rows = s.execute(
            sa.select(OutboxMessage.id, OutboxMessage.realm_id)
            .where(due(run.now()), alone, in_order(), run.open_realm())
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    return [(message_id, realm_id) for message_id, realm_id in rows]


def perform(run: Run, message_id: int) -> None:
    """Run a claimed message's handler; its effect and "done" are committed together."""
    with run.sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        try:
            adapter = run.adapter(message.realm_id)
            ref = HANDLERS[message.kind](s, adapter, message, run.options)
        except AuthorizationLost as exc:
            s.rollback()
            pause(run, [message_id], message.realm_id, exc)
            return
        except AccountingError as exc:
            s.rollback()
            record_failure(run, message_id, exc)
            return
        mark_done(message, ref, run.now())
        s.commit()  # the effect and "done" together: a crash before this retries, replayed
        run.result.done += 1


def written(
    s: Session,
    message: OutboxMessage,
    linked_txn_id: str | None = None,
    sync_token: str | None = None,
    not_applied: Sequence[str] = (),
) -> None:
    """Remember how a mirrored snapshot will show the message's effects: the Payment that
    links each invoice, or the invoice's SyncToken after the write. Invoices in
    `not_applied` were left out of the write (QuickBooks has nothing to show there)."""
    for effect in message.effects:
        effect.linked_txn_id = linked_txn_id
        effect.sync_token = sync_token
        if effect.invoice_qbo_id in not_applied:
            effect.confirmed_at = utcnow()


def mark_done(message: OutboxMessage, ref: str, at: datetime) -> None:
    """Record that QuickBooks made `ref` for the message."""
    message.status = OutboxStatus.DONE
    message.result_ref = ref
    message.done_at = at
    message.last_error = None


def record_failure(
    run: Run, message_id: int, exc: AccountingError, keep_batch: bool = False
) -> None:
    """Back off and retry, or park; unless `keep_batch`, the message goes on alone."""
    result = run.result
    error = str(exc)
    with run.sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        message.last_error = error[:2000]
        # A Fault means QuickBooks refused: nothing was written under this request id.
        message.fault_code = exc.code if exc.code and not exc.retryable else None
        if not keep_batch:
            message.batch_key = None
        result.errors.append(f"outbox {message_id}: {error}")
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            # 1, 2, 4 ... minutes, capped at an hour
            message.next_attempt_at = run.now() + timedelta(
                minutes=min(60, 2 ** (message.attempts - 1))
            )
            result.retried += 1
            logger.warning("outbox %s will be retried: %s", message_id, error)
        else:
            message.status = OutboxStatus.PARKED
            result.parked += 1
            logger.error(
                "outbox %s parked after %s attempts: %s", message_id, message.attempts, error
            )
        s.commit()


def pause(run: Run, message_ids: Sequence[int], realm_id: str, exc: AccountingError) -> None:
    """QuickBooks no longer accepts our authority for the company: the messages wait, as
    they were (batch key kept, the attempt not counted), until an admin reconnects it."""
    run.result.paused.add(realm_id)
    with run.sessions() as s:
        s.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(message_ids)))
            .values(
                attempts=sa.case((OutboxMessage.attempts > 0, OutboxMessage.attempts - 1), else_=0),
                next_attempt_at=run.now(),
                last_error=f"Waiting for QuickBooks to be reconnected: {exc}"[:2000],
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
    logger.error("write-back to %s paused until QuickBooks is reconnected: %s", realm_id, exc)
