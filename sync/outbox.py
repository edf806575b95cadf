"""The outbox: intent to write to QuickBooks, committed with the change that causes it and
drained by the worker through the accounting adapter, exactly once (requestid = outbox id, or
the batch key of a batch: see sync.outbox_batch)."""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, relationship, sessionmaker

from portal.db import Base, str_enum, utcnow
from sync.accounting import AccountingAdapter, AccountingError, AuthorizationLost

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
    # What the message is about ("payment:12"): one message per cause, ever.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    # Bumped only after QuickBooks definitely refused the last try (a Fault: nothing was
    # written), so a retry after a re-read is a new request instead of a replayed refusal.
    generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # The Fault code of the last definite refusal (None after a timeout: the write may exist).
    fault_code: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]

    effects: Mapped[list[OutboxEffect]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="OutboxEffect.id"
    )

    @property
    def request_id(self) -> str:
        """The idempotency key QuickBooks sees for every try of this message: fixed unless
        QuickBooks refused the last one outright (then nothing was written under it)."""
        base = f"portal-outbox-{self.id}"
        return base if not self.generation else f"{base}-g{self.generation}"

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


class OutboxEffect(Base):
    """What a message changes on one invoice's balance in QuickBooks (a payment or a credit
    lowers it, a fee raises it). The mirror keeps an effect in the portal's balance until a
    QuickBooks snapshot shows it (so a sync never brings back money already paid), and a
    later write of another kind to the same invoice waits for it (writes land in order)."""

    __tablename__ = "outbox_effect"
    __table_args__ = (
        sa.Index("ix_outbox_effect_invoice", "realm_id", "invoice_qbo_id"),
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("outbox.id", ondelete="CASCADE"), index=True
    )
    realm_id: Mapped[str] = mapped_column(sa.String(32))
    invoice_qbo_id: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[Decimal]
    # Filled in when written: the QuickBooks Payment that links the invoice (payments,
    # credits), or the invoice's SyncToken right after the write (fees).
    linked_txn_id: Mapped[str | None] = mapped_column(sa.String(32))
    sync_token: Mapped[str | None] = mapped_column(sa.String(16))
    # When a mirrored snapshot of the invoice first showed the effect (then it is QuickBooks'
    # own balance that carries it).
    confirmed_at: Mapped[datetime | None]


def enqueue(
    s: Session,
    kind: str,
    realm_id: str,
    data: dict[str, Any],
    dedupe_key: str | None = None,
    effects: Sequence[tuple[str, Decimal]] = (),
) -> OutboxMessage:
    """Add a message in the caller's unit of work (it commits with the change); `effects`
    are (invoice QuickBooks Id, signed amount) pairs, `dedupe_key` makes it one per cause."""
    message = OutboxMessage(
        kind=kind,
        realm_id=realm_id,
        payload=json.dumps(data, sort_keys=True),
        dedupe_key=dedupe_key,
    )
    for invoice_qbo_id, amount in effects:
        message.effects.append(
            OutboxEffect(realm_id=realm_id, invoice_qbo_id=invoice_qbo_id, amount=amount)
        )
    s.add(message)
    s.flush()  # the unique dedupe key is checked here
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


def retry(s: Session, message_id: int) -> bool:
    """An admin sends a parked message again, alone. It keeps its request id unless
    QuickBooks refused the last try outright (then a replay would only repeat the refusal);
    handlers re-read what they need, and a payment first looks for one already written."""
    message = s.get(OutboxMessage, message_id)
    if message is None or message.status is not OutboxStatus.PARKED:
        return False
    if message.fault_code:
        message.generation += 1
        message.fault_code = None
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.batch_key = None  # only this item is sent again, never the rest of its batch
    message.last_error = message.last_error or "retried by staff"  # never rejoins a batch
    message.next_attempt_at = utcnow()
    return True
