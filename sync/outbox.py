"""The outbox: intent to write to QuickBooks, committed with the change that causes it and
drained by the worker through the accounting adapter, exactly once (requestid = outbox id)."""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from portal.db import Base, utcnow
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
        sa.Enum(
            OutboxStatus,
            name="outbox_status",
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result_ref: Mapped[str | None] = mapped_column(sa.String(64))
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


def _claim(sessions: sessionmaker[Session], message_id: int, now: datetime) -> bool:
    with sessions() as s:
        result = s.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
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
    """Perform due messages, oldest first; each is claimed, done and recorded on its own."""
    result = DrainResult()
    with sessions() as s:
        due = list(
            s.scalars(
                sa.select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now(),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
    cache: dict[str, AccountingAdapter] = {}
    for message_id in due:
        if not _claim(sessions, message_id, now()):
            continue  # another worker took it
        _perform(sessions, adapters, cache, message_id, result, now, options or {})
    return result


def _perform(
    sessions: sessionmaker[Session],
    adapters: Callable[[str], AccountingAdapter],
    cache: dict[str, AccountingAdapter],
    message_id: int,
    result: DrainResult,
    now: Callable[[], datetime],
    options: Mapping[str, str],
) -> None:
    with sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        try:
            adapter = cache.get(message.realm_id) or adapters(message.realm_id)
            cache[message.realm_id] = adapter
            ref = HANDLERS[message.kind](s, adapter, message, options)
        except AccountingError as exc:
            s.rollback()
            _failed(sessions, message_id, str(exc), exc.retryable, result, now)
            return
        message.status = OutboxStatus.DONE
        message.result_ref = ref
        message.done_at = now()
        message.last_error = None
        s.commit()  # the effect and "done" together: a crash before this retries, replayed
        result.done += 1


def _failed(
    sessions: sessionmaker[Session],
    message_id: int,
    error: str,
    retryable: bool,
    result: DrainResult,
    now: Callable[[], datetime],
) -> None:
    with sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        message.last_error = error[:2000]
        result.errors.append(f"outbox {message_id}: {error}")
        if retryable and message.attempts < MAX_ATTEMPTS:
            # 1, 2, 4 ... minutes, capped at an hour
            message.next_attempt_at = now() + timedelta(
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
