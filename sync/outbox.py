"""The outbox: intent to write to QuickBooks, committed with the change that causes it and
drained by the worker through the accounting adapter, exactly once (requestid = outbox id, or
the batch key of a batch: see sync.outbox_batch)."""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from portal.db import Base, str_enum, utcnow
from sync.accounting import AccountingAdapter, AccountingError

logger = logging.getLogger(__name__)

# A claimed message is hidden this long from other drainers while one works on it.
CLAIM = timedelta(minutes=2)
MAX_ATTEMPTS = 8


class OutboxStatus(enum.StrEnum):
    """Where a message stands."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"  # gave up: an admin looks, fixes and retries


class OutboxMessage(Base):
    """One write to QuickBooks to make."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    realm_id: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status", 10),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result_ref: Mapped[str | None] = mapped_column(sa.String(64))
    # The batch this message was claimed into (the batch's requestid), set in the claiming
    # commit before the call: retries resend the members still pending with it under the same
    # key, so QuickBooks replays its first answer. Cleared, with last_error set, when the
    # message must go on alone under its own request id; it never joins a batch again.
    batch_key: Mapped[str | None] = mapped_column(sa.String(50), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]

    @property
    def request_id(self) -> str:
        """The idempotency key QuickBooks sees for every try of this message."""
        return f"portal-outbox-{self.id}"

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


def enqueue(s: Session, kind: str, realm_id: str, data: dict[str, Any]) -> OutboxMessage:
    """Add a message in the caller's unit of work (it commits with the change)."""
    message = OutboxMessage(kind=kind, realm_id=realm_id, payload=json.dumps(data, sort_keys=True))
    s.add(message)
    return message


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
) -> DrainResult:
    """Perform due messages, oldest first: batched kinds in groups, the others one at a time."""
    run = Run(sessions, adapters, now, options or {})
    taken = 0
    for kind, drainer in BATCHERS.items():
        taken += drainer.drain(run, kind, max(0, limit - taken))
    for message_id in _due_alone(run, max(0, limit - taken)):
        if claim(sessions, message_id, now()):  # else another worker took it
            perform(run, message_id)
    return run.result


def _due_alone(run: Run, limit: int) -> list[int]:
    """Due messages for the one-at-a-time path: unbatched kinds, and those sent on alone."""
    batched = OutboxMessage.kind.in_(list(BATCHERS))
    alone = sa.or_(~batched, sa.and_(OutboxMessage.batch_key.is_(None), ~fresh()))
    with run.sessions() as s:
        return list(
            s.scalars(
                sa.select(OutboxMessage.id)
                .where(due(run.now()), alone)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )


def perform(run: Run, message_id: int) -> None:
    """Run a claimed message's handler; its effect and "done" are committed together."""
    with run.sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        try:
            adapter = run.adapter(message.realm_id)
            ref = HANDLERS[message.kind](s, adapter, message, run.options)
        except AccountingError as exc:
            s.rollback()
            record_failure(run, message_id, str(exc), exc.retryable)
            return
        mark_done(message, ref, run.now())
        s.commit()  # the effect and "done" together: a crash before this retries, replayed
        run.result.done += 1


def mark_done(message: OutboxMessage, ref: str, at: datetime) -> None:
    """Record that QuickBooks made `ref` for the message."""
    message.status = OutboxStatus.DONE
    message.result_ref = ref
    message.done_at = at
    message.last_error = None


def record_failure(
    run: Run, message_id: int, error: str, retryable: bool, keep_batch: bool = False
) -> None:
    """Back off and retry, or park; unless `keep_batch`, the message goes on alone."""
    result = run.result
    with run.sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        message.last_error = error[:2000]
        if not keep_batch:
            message.batch_key = None
        result.errors.append(f"outbox {message_id}: {error}")
        if retryable and message.attempts < MAX_ATTEMPTS:
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


def retry(s: Session, message_id: int) -> bool:
    """An admin sends a parked message again (with the same request id)."""
    message = s.get(OutboxMessage, message_id)
    if message is None or message.status is not OutboxStatus.PARKED:
        return False
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    return True
