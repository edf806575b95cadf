"""The worker's side of notices: claim due deliveries, send each through its channel's
adapter (SMTP through the mailer, SMS through Twilio), record the outcome; a failure is
retried with back-off, then parked for staff to see.

A claim is a conditional UPDATE committed before the call, so two workers never send the
same delivery; an SMS whose answer was lost is looked up at Twilio before it is sent again.
"""

from __future__ import annotations

import email.policy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import Flask, render_template
from sqlalchemy.orm import Session

from portal.billing.models import Invoice
from portal.branding import brand
from portal.clock import clock_of
from portal.config import Settings
from portal.db import utcnow
from portal.ids import parse_id
from portal.mail.adapters import MailDeliveryError, Mailer, batch
from portal.notifications import unsubscribe
from portal.notifications.kinds import kind
from portal.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    SmsContact,
)
from portal.notifications.sms import SmsError, SmsSender
from portal.overdue.models import CustomerOverdue

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120
BATCH = 200
OPTED_OUT = 21610  # Twilio: the recipient replied STOP


@dataclass
class DeliveryRun:
    sent: int = 0
    failed: int = 0
    retried: int = 0


def deliver_due(app: Flask, limit: int = 5000, notice_ids: list[int] | None = None) -> DeliveryRun:
    """Send every delivery that is due (the worker runs this every minute), or only those
    of the given notices (right after the commit that wrote them)."""
    run = DeliveryRun()
    sessions = app.extensions["portal.db"].sessions
    while limit > 0:
        with sessions() as s:
            ids = _claim(s, min(BATCH, limit), clock_of(app)(), notice_ids)
        if not ids:
            break
        limit -= len(ids)
        with batch(app.extensions["portal.mailer"]):  # one SMTP connection for the batch
            for delivery_id in ids:
                with sessions() as s:
                    _send_one(app, s, delivery_id, run)
    return run


def _claim(s: Session, count: int, now: datetime, notice_ids: list[int] | None = None) -> list[int]:
    """Take up to `count` due deliveries for this worker: each row is claimed by a
    compare-and-set on its next_attempt_at, committed before anything is sent."""
    query = (
        sa.select(Delivery.id, Delivery.next_attempt_at)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(count)
    )
    if notice_ids is not None:
        query = query.where(Delivery.notification_id.in_(notice_ids))
    due = list(s.execute(query).all())
    claimed = []
    for delivery_id, seen in due:
        result = s.execute(
            sa.update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == DeliveryStatus.QUEUED,
                Delivery.next_attempt_at == seen,
            )
            .values(
                attempts=Delivery.attempts + 1,
                next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    s.commit()
    return claimed


def _send_one(app: Flask, s: Session, delivery_id: int, run: DeliveryRun) -> None:
    row = s.get(Delivery, delivery_id)
    if row is None or row.status is not DeliveryStatus.QUEUED:
        return
    notice = row.notification
    if settled_meanwhile(s, notice):
        row.status = DeliveryStatus.SKIPPED
        row.last_error = "paid before it was sent"
        s.commit()
        return
    try:
        if row.channel is Channel.EMAIL:
            row.provider_id = _send_email(app, s, row, notice)
        elif row.channel is Channel.SMS:
            row.provider_id = _send_sms(app, row, notice)
        else:
            raise ValueError(f"no adapter for {row.channel}")
    except MailDeliveryError as exc:
        _failed(app, row, str(exc), retry=True, run=run)
    except SmsError as exc:
        if exc.code == OPTED_OUT and notice.customer_id is not None:
            _mark_opted_out(s, notice.customer_id)
        _failed(app, row, str(exc), retry=exc.retryable, run=run)
    else:
        row.status = DeliveryStatus.SENT
        row.sent_at = clock_of(app)()
        row.last_error = None
        run.sent += 1
    s.commit()


def settled_meanwhile(s: Session, notice: Notification) -> bool:
    """Whether what a reminder or overdue notice asks for was paid since it was written (an
    SMS held back by quiet hours, a retry): then it is not sent."""
    if notice.kind in ("due_soon", "new_invoice") and notice.subject.startswith("invoice:"):
        invoice_id = parse_id(notice.subject.removeprefix("invoice:"))
        if invoice_id is None:
            return False
        row = s.execute(
            sa.select(Invoice.balance, Invoice.voided).where(Invoice.id == invoice_id)
        ).first()
        return row is None or row.balance <= 0 or bool(row.voided)
    if notice.kind in ("overdue", "service_warning") and notice.customer_id is not None:
        return s.get(CustomerOverdue, notice.customer_id) is None  # current again
    return False


def _failed(app: Flask, row: Delivery, error: str, retry: bool, run: DeliveryRun) -> None:
    settings: Settings = app.config["PORTAL_SETTINGS"]
    limit = settings.mail.max_attempts
    row.last_error = error[:500]
    if not retry:
        row.status = DeliveryStatus.FAILED
        run.failed += 1
        logger.warning("notice delivery %s failed for good: %s", row.id, error)
    elif row.attempts >= limit:
        row.status = DeliveryStatus.PARKED
        run.failed += 1
        logger.error("notice delivery %s parked after %s attempts: %s", row.id, row.attempts, error)
    else:
        row.next_attempt_at = clock_of(app)() + timedelta(minutes=2 ** (row.attempts - 1))
        run.retried += 1
        logger.warning("notice delivery %s not sent (attempt %s): %s", row.id, row.attempts, error)


def _mark_opted_out(s: Session, customer_id: int) -> None:
    s.execute(
        sa.update(SmsContact)
        .where(SmsContact.customer_id == customer_id, SmsContact.opted_out_at.is_(None))
        .values(opted_out_at=utcnow())
    )


# ---- e-mail --------------------------------------------------------------------------------


def message_id(app: Flask, delivery_id: int) -> str:
    """The same Message-ID on every attempt: a receiver that got it once drops the retry."""
    return f"<notice-{delivery_id}@{app.config['MAIL_DOMAIN']}>"


def build_email(app: Flask, s: Session, row: Delivery, notice: Notification) -> EmailMessage:
    """The notice as a multipart e-mail (text and HTML, with the business's brand), with a
    one-click unsubscribe (RFC 8058) unless the kind cannot be turned off."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    public = settings.portal.public_url.rstrip("/")
    k = kind(notice.kind)
    the_brand = brand(s)
    stop_url = None
    if not notice.mandatory and notice.customer_id is not None:
        token = unsubscribe.token_for(notice.customer_id, notice.kind)
        stop_url = f"{public}/notifications/unsubscribe/{token}"
    context: dict[str, Any] = {
        "notice": notice,
        "data": notice.context,
        "brand": the_brand,
        "business": the_brand.name,
        "link": f"{public}{notice.link}" if notice.link else None,
        "preferences_url": f"{public}/notifications/preferences",
        "logo_url": f"{public}/brand/logo?v={the_brand.version}" if the_brand.logo_href else None,
        "unsubscribe_url": stop_url,
    }
    # Lines up to 998 characters (RFC 5322): a long List-Unsubscribe URL stays one plain
    # header instead of being folded into encoded words that mail providers cannot read.
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = settings.mail.sender
    message["To"] = row.destination
    message["Subject"] = notice.title
    message["Message-ID"] = message_id(app, row.id)
    if stop_url:
        message["List-Unsubscribe"] = f"<{stop_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(render_template(f"{k.template}.txt", **context))
    message.add_alternative(render_template(f"{k.template}.html", **context), subtype="html")
    for name, mime, data in attachments(app, s, notice):
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def attachments(app: Flask, s: Session, notice: Notification) -> list[tuple[str, str, bytes]]:
    """Files the notice carries: a statement notice attaches the statement PDF."""
    if notice.kind != "statement" or notice.customer_id is None:
        return []
    from portal.notifications.statements import statement_attachment

    found = statement_attachment(app, s, notice)
    return [found] if found else []


def _send_email(app: Flask, s: Session, row: Delivery, notice: Notification) -> str:
    message = build_email(app, s, row, notice)
    mailer: Mailer = app.extensions["portal.mailer"]
    mailer.send(message)
    return str(message["Message-ID"])[:64]


# ---- SMS -----------------------------------------------------------------------------------


def sms_text(notice: Notification, public_url: str) -> str:
    """The SMS: the title and a link, within one or two segments."""
    text = notice.title
    if notice.kind == "phone_code":
        return notice.body
    if notice.link:
        text = f"{text} {public_url.rstrip('/')}{notice.link}"
    return text[:320]


def _send_sms(app: Flask, row: Delivery, notice: Notification) -> str:
    sender: SmsSender | None = app.extensions.get("portal.sms")
    if sender is None:
        raise SmsError("SMS is not configured here", retryable=False)
    settings: Settings = app.config["PORTAL_SETTINGS"]
    public = settings.portal.public_url.rstrip("/")
    body = sms_text(notice, public)
    if row.attempts > 1:  # an earlier attempt may have reached Twilio before its answer was lost
        found = sender.find_sent(row.destination, body, row.created_at - timedelta(minutes=1))
        if found:
            return found
    return sender.send(row.destination, body, f"{public}/webhooks/twilio/status")


def parked(s: Session, limit: int = 100) -> list[Delivery]:
    """Deliveries that kept failing or failed for good, newest first (for staff)."""
    return list(
        s.scalars(
            sa.select(Delivery)
            .where(Delivery.status.in_([DeliveryStatus.PARKED, DeliveryStatus.FAILED]))
            .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )
