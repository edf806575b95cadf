"""Where an SMS stands, from Twilio: its status callbacks, and a job that asks Twilio about
texts still only "sent" after a while (a callback can be lost: one that arrives before the
worker stored the message's SID matches nothing, and Twilio does not call again)."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from portal.clock import clock_of
from portal.db import utcnow
from portal.notifications.models import Channel, Delivery, DeliveryStatus
from portal.notifications.sms import SmsError, SmsSender

logger = logging.getLogger(__name__)

TARGET = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}
# What each status may replace: a status never moves backwards.
REPLACES = {
    DeliveryStatus.SENT: (DeliveryStatus.QUEUED,),
    DeliveryStatus.DELIVERED: (DeliveryStatus.QUEUED, DeliveryStatus.SENT),
    DeliveryStatus.FAILED: (DeliveryStatus.QUEUED, DeliveryStatus.SENT),
}
ASK_AFTER = timedelta(minutes=15)
ASK_FOR = timedelta(days=2)
BATCH = 200


def record(s: Session, sid: str, reported: str, error_code: str | int | None = None) -> int:
    """Move the SMS delivery with this SID to what Twilio reported, by one compare-and-set
    (a repeated or late report matches no row); how many rows moved."""
    target = TARGET.get(reported)
    if not sid or target is None:
        return 0  # queued, sending, accepted...: nothing to record
    values: dict[str, object] = {"status": target, "updated_at": utcnow()}
    if target is DeliveryStatus.FAILED:
        values["last_error"] = f"ErrorCode {error_code or 'unknown'} ({reported})"
    result = s.execute(
        sa.update(Delivery)
        .where(
            Delivery.provider_id == sid,
            Delivery.channel == Channel.SMS,
            Delivery.status.in_(REPLACES[target]),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def check_sent(app: Flask) -> int:
    """Ask Twilio about texts sent 15 minutes to 2 days ago and still not delivered or
    failed; how many moved. The worker runs it every 15 minutes."""
    sender: SmsSender | None = app.extensions.get("portal.sms")
    if sender is None:
        return 0
    now = clock_of(app)()
    sessions = app.extensions["portal.db"].sessions
    with sessions() as s:
        waiting = list(
            s.scalars(
                sa.select(Delivery.provider_id)
                .where(
                    Delivery.channel == Channel.SMS,
                    Delivery.status == DeliveryStatus.SENT,
                    Delivery.provider_id.is_not(None),
                    Delivery.sent_at < now - ASK_AFTER,
                    Delivery.sent_at > now - ASK_FOR,
                )
                .order_by(Delivery.sent_at)
                .limit(BATCH)
            )
        )
    moved = 0
    for sid in waiting:
        if sid is None:
            continue
        try:
            status, error_code = sender.status(sid)
        except SmsError as exc:
            logger.warning("could not ask Twilio about SMS %s: %s", sid, exc)
            if exc.retryable:
                continue
            break
        with sessions() as s:
            moved += record(s, sid, status, error_code)
            s.commit()
    return moved
