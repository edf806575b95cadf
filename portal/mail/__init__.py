"""Outgoing e-mail through an outbox: queue in the unit of work, deliver after commit."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import Session

from portal import crypto
from portal.branding import brand
from portal.db import after_commit, session, utcnow
from portal.mail.adapters import MailDeliveryError, Mailer
from portal.mail.models import MailStatus, OutboundEmail

logger = logging.getLogger(__name__)

# How long a claimed message is hidden from other senders while one tries it.
CLAIM_SECONDS = 120


def queue_email(
    s: Session,
    recipient: str,
    subject: str,
    template: str,
    dedupe_key: str | None = None,
    send_now: bool = True,
    **context: object,
) -> None:
    """Render a text e-mail into the outbox; it is sent once the unit of work commits.
    A `dedupe_key` (unique) makes it at most one e-mail per cause, e.g. one receipt.
    `{business}` in the subject, and `business` in the template, name the business (its
    brand as an admin saved it). `send_now=False` leaves it to the worker's next round
    (within a minute), so that the request's time does not show whether one was queued."""
    business = brand(s).name
    context.setdefault("business", business)
    body = render_template(template, **context)
    row = OutboundEmail(
        recipient=recipient,
        subject=subject.replace("{business}", business),
        body_encrypted=crypto.encrypt(body),
        dedupe_key=dedupe_key,
    )
    s.add(row)
    s.flush()
    message_id = row.id
    if send_now:
        after_commit(s, lambda: _deliver_quietly(message_id))


def _deliver_quietly(message_id: int) -> None:
    # The unit of work already committed: a failed send stays queued for `portal mail send`.
    try:
        deliver([message_id])
    except Exception:
        logger.exception("e-mail %s stays queued after an unexpected error", message_id)


def mailer() -> Mailer:
    """The app's mailer."""
    m: Mailer = current_app.extensions["portal.mailer"]
    return m


def deliver(ids: list[int] | None = None) -> int:
    """Try to send the given (or all due) queued messages; returns how many were sent."""
    s = session()
    now = utcnow()
    query = sa.select(OutboundEmail.id).where(
        OutboundEmail.status == MailStatus.QUEUED, OutboundEmail.next_attempt_at <= now
    )
    if ids is not None:
        query = query.where(OutboundEmail.id.in_(ids))
    sent = 0
    for message_id in s.scalars(query.order_by(OutboundEmail.id)).all():
        sent += _deliver_one(s, message_id)
    return sent


def _claim(s: Session, message_id: int) -> bool:
    """Take a message for this sender only (a conditional update, safe across processes)."""
    now = utcnow()
    result = s.execute(
        sa.update(OutboundEmail)
        .where(
            OutboundEmail.id == message_id,
            OutboundEmail.status == MailStatus.QUEUED,
            OutboundEmail.next_attempt_at <= now,
        )
        .values(
            attempts=OutboundEmail.attempts + 1,
            next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
        )
        .execution_options(synchronize_session=False)
    )
    s.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


def _deliver_one(s: Session, message_id: int) -> int:
    if not _claim(s, message_id):
        return 0
    row = s.get(OutboundEmail, message_id, populate_existing=True)
    assert row is not None
    message = EmailMessage()
    message["From"] = current_app.config["PORTAL_SETTINGS"].mail.sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = f"<portal-{row.id}@{current_app.config['MAIL_DOMAIN']}>"
    message.set_content(crypto.decrypt(row.body_encrypted))
    try:
        mailer().send(message)
    except MailDeliveryError as exc:
        _record_failure(row, str(exc))
        s.commit()
        return 0
    row.status = MailStatus.SENT
    row.sent_at = utcnow()
    row.last_error = None
    s.commit()
    logger.info("sent e-mail %s", row.id)
    return 1


def _record_failure(row: OutboundEmail, error: str) -> None:
    limit = current_app.config["PORTAL_SETTINGS"].mail.max_attempts
    row.last_error = error[:500]
    if row.attempts >= limit:
        row.status = MailStatus.PARKED
        logger.error("e-mail %s parked after %s attempts: %s", row.id, row.attempts, error)
        return
    # Exponential back-off: 1, 2, 4, 8 ... minutes.
    row.next_attempt_at = utcnow() + timedelta(minutes=2 ** (row.attempts - 1))
    logger.warning("e-mail %s not sent (attempt %s): %s", row.id, row.attempts, error)
