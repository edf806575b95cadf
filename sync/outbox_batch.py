"""Batched write-back: due payment messages go to QuickBooks up to MAX_BATCH at a time, once.

A group is claimed and given one batch key in one commit, before the call; the key is the
batch's requestid, so a retry after a lost answer (the members still pending with that key,
under the same key) gets QuickBooks' first answer again instead of writing twice. Successes
are recorded in one commit; a faulted item leaves the batch (its key cleared) and goes on
alone under its own request id, through the kind's one-at-a-time handler."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from sync.accounting import (
    MAX_BATCH,
    AccountingError,
    AuthorizationLost,
    PaymentRecord,
    PaymentWrite,
)
from sync.outbox import (
    CLAIM,
    OutboxMessage,
    Run,
    due,
    fresh,
    in_order,
    mark_done,
    pause,
    perform,
    record_failure,
)

logger = logging.getLogger(__name__)

Outcome = PaymentRecord | AccountingError
Item = PaymentWrite | AccountingError  # an item, or why its message cannot be one


def new_key() -> str:
    """A batch key: unique per batch, at most 50 characters (a QuickBooks requestid)."""
    return f"portal-batch-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class PaymentBatcher:
    """Drains messages that each record one payment (the kind's functions: sync.writeback)."""

    # the payment a message asks for, as a batch item (AccountingError if it cannot be built)
    write: Callable[[Session, OutboxMessage, Mapping[str, str]], PaymentWrite]
    # records what QuickBooks made for a message; returns the message's result reference
    recorded: Callable[[Session, OutboxMessage, PaymentRecord], str]
    # refusals the one-at-a-time handler knows how to get around: it runs at once
    alone: tuple[type[AccountingError], ...] = ()
    # loads what the messages' items need in a few queries (instead of a few per message)
    preload: Callable[[Session, Sequence[OutboxMessage]], None] = lambda s, messages: None

    def drain(self, run: Run, kind: str, limit: int) -> int:
        """Resend unfinished batches first, then send new ones; how many messages it took."""
        taken = 0
        for key in _unfinished_keys(run, kind):
            taken += self._send(run, key, _claim_batch(run, key))
        for ids in _fresh_groups(run, kind, max(0, limit - taken)):
            key = new_key()
            taken += self._send(run, key, _claim_group(run, ids, key))
        return taken

    def _send(self, run: Run, key: str, ids: list[int]) -> int:
        """One batch call for the claimed members, then their outcomes recorded."""
        if not ids:
            return 0
        realm_id, items = self._items(run, ids)
        writes = {i: w for i, w in items.items() if isinstance(w, PaymentWrite)}
        try:
            answers = run.adapter(realm_id).record_payments(list(writes.values()), key)
        except AuthorizationLost as exc:
            pause(run, ids, realm_id, exc)  # the batch waits under its key for a reconnect
            return len(ids)
        except AccountingError as exc:
            _batch_failed(run, ids, exc)
            return len(ids)
        outcomes: dict[int, Outcome] = dict(zip(writes, answers, strict=True))
        outcomes.update({i: e for i, e in items.items() if isinstance(e, AccountingError)})
        self._settle(run, outcomes)
        return len(ids)

    def _items(self, run: Run, ids: list[int]) -> tuple[str, dict[int, Item]]:
        """The batch items, read and then released before the call (no open transaction)."""
        items: dict[int, Item] = {}
        with run.sessions() as s:
            messages = s.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            ).all()
            self.preload(s, messages)
            for message in messages:
                try:
                    items[message.id] = self.write(s, message, run.options)
                except AccountingError as exc:
                    items[message.id] = exc
            return messages[0].realm_id, items

    def _settle(self, run: Run, outcomes: Mapping[int, Outcome]) -> None:
        """Successes in one commit, then each faulted item on its own."""
        self._record_done(run, {i: r for i, r in outcomes.items() if isinstance(r, PaymentRecord)})
        for message_id, outcome in outcomes.items():
            if not isinstance(outcome, AccountingError):
                continue
            if isinstance(outcome, self.alone):
                _go_alone(run, message_id, outcome)
            else:
                record_failure(run, message_id, outcome)

    def _record_done(self, run: Run, done: Mapping[int, PaymentRecord]) -> None:
        if not done:
            return
        with run.sessions() as s:
            messages = s.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.id.in_(list(done)))
                .options(selectinload(OutboxMessage.effects))
            ).all()
            self.preload(s, messages)
            for message_id, record in done.items():
                message = s.get(OutboxMessage, message_id)
                assert message is not None
                mark_done(message, self.recorded(s, message, record), run.now())
            s.commit()  # a crash before this resends the batch: QuickBooks replays its answer
        run.result.done += len(done)


def _unfinished_keys(run: Run, kind: str) -> list[str]:
    """Batch keys with due members: sent before, answer lost or not yet recorded."""
    with run.sessions() as s:
        return list(
            s.scalars(
                sa.select(OutboxMessage.batch_key)
                .where(
                    OutboxMessage.kind == kind,
                    OutboxMessage.batch_key.is_not(None),
                    due(run.now()),
                    run.open_realm(),
                )
                .group_by(OutboxMessage.batch_key)
                .order_by(sa.func.min(OutboxMessage.id))
            )
        )


def _fresh_groups(run: Run, kind: str, limit: int) -> Iterator[list[int]]:
    """Never-sent due messages, oldest first, in groups of MAX_BATCH of one company."""
    with run.sessions() as s:
        rows = s.execute(
            sa.select(OutboxMessage.id, OutboxMessage.realm_id)
            .where(OutboxMessage.kind == kind, due(run.now()), fresh(), in_order())
            .where(run.open_realm())
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    by_realm: dict[str, list[int]] = {}
    for message_id, realm_id in rows:
        by_realm.setdefault(realm_id, []).append(message_id)
    for ids in by_realm.values():
        for start in range(0, len(ids), MAX_BATCH):
            yield ids[start : start + MAX_BATCH]


def _claim(run: Run, where: sa.ColumnElement[bool], key: str) -> list[int]:
    """Claim the due messages matching `where` into batch `key`, in one commit."""
    now = run.now()
    with run.sessions() as s:
        claimed = s.scalars(
            sa.update(OutboxMessage)
            .where(where, due(now))
            .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + CLAIM, batch_key=key)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        s.commit()  # persisted before the call: every retry resends these under this key
    return sorted(claimed)


def _claim_group(run: Run, ids: list[int], key: str) -> list[int]:
    """A new batch: those of `ids` still fresh (another worker may have taken some)."""
    return _claim(run, sa.and_(OutboxMessage.id.in_(ids), fresh()), key)


def _claim_batch(run: Run, key: str) -> list[int]:
    """An unfinished batch again: exactly its members still pending."""
    return _claim(run, OutboxMessage.batch_key == key, key)


def _batch_failed(run: Run, ids: list[int], exc: AccountingError) -> None:
    """The whole call failed: each member backs off or parks, together."""
    # A QuickBooks Fault on the first send of a batch means nothing was written, so the
    # members may go on alone. After any earlier send whose answer was lost, or on a timeout,
    # a 5xx or an unreadable answer, the batch may have been applied: the members stay under
    # this key for life, and only a resend under it (a replay) can tell.
    with run.sessions() as s:
        resent = bool(
            s.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.attempts > 1)
            )
        )
    refused = exc.code is not None and not exc.retryable and not resent
    for message_id in ids:
        record_failure(run, message_id, exc, keep_batch=not refused)


def _go_alone(run: Run, message_id: int, exc: AccountingError) -> None:
    """Take a faulted item out of its batch and run the one-at-a-time handler on it now."""
    with run.sessions() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        message.batch_key = None
        message.last_error = str(exc)[:2000]  # also marks it as sent: it never rejoins a batch
        s.commit()
    logger.info("outbox %s leaves its batch (fault %s) and goes on alone", message_id, exc.code)
    perform(run, message_id)
