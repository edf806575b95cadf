"""The outbox: intent to write to the accounting system, committed in the same unit of work
as the change that causes it (a payment, a credit, a late fee). `sync.outbox` drains it
through the accounting adapter, exactly once (requestid = outbox id, or the batch key of a
batch: see sync.outbox_batch)."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.db import Base, str_enum, utcnow


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
