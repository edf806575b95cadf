"""A customer's mobile number for SMS: a six-digit code texted to it (at most one a minute and
five an hour, valid 10 minutes, five tries) proves it before anything else is sent there. A
number already verified stays in use until a new one is confirmed."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts.factors import six_digits
from portal.notifications.models import Channel, Notification, SmsContact
from portal.notifications.service import app_now, notify
from portal.notifications.sms import normalize_phone

LIFETIME = timedelta(minutes=10)
TRIES = 5
RESEND_AFTER = timedelta(minutes=1)
PER_HOUR = 5
KIND = "phone_code"


class PhoneError(Exception):
    """The number or the request cannot be accepted; the message is for the customer."""


class TooSoon(PhoneError):
    """A code was asked for too often; the message says when to try again."""


class Outcome(enum.Enum):
    """How a typed code fared (a wrong try is recorded, so it is returned, not raised)."""

    CONFIRMED = "confirmed"
    WRONG = "wrong"
    MALFORMED = "malformed"  # not six digits: no try used
    NO_CODE = "no_code"  # none waiting, expired or out of tries


def _hash(customer_id: int, phone: str, code: str) -> str:
    """The stored form of a code, bound to the customer and the number it went to."""
    return hashlib.sha256(f"{customer_id}:{phone}:{code}".encode()).hexdigest()


def contact(s: Session, customer_id: int) -> SmsContact | None:
    return s.get(SmsContact, customer_id)


def request_code(s: Session, customer_id: int, raw_phone: str, now: datetime | None = None) -> str:
    """Text a new code to `raw_phone` (earlier codes stop working); the number as E.164.
    PhoneError for a number that cannot get SMS, TooSoon when asked too often."""
    try:
        phone = normalize_phone(raw_phone)
    except ValueError as exc:
        raise PhoneError(str(exc)) from None
    now = now or app_now()
    sent = list(
        s.scalars(
            sa.select(Notification.created_at)
            .where(
                Notification.customer_id == customer_id,
                Notification.kind == KIND,
                Notification.created_at > now - timedelta(hours=1),
            )
            .order_by(Notification.created_at.desc())
        )
    )
    if sent and now - sent[0] < RESEND_AFTER:
        raise TooSoon("A code was sent less than a minute ago. Wait a minute and try again.")
    if len(sent) >= PER_HOUR:
        raise TooSoon("Too many codes were sent in the past hour. Try again later.")
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = s.get(SmsContact, customer_id, with_for_update=True)
    if row is None:
        row = SmsContact(customer_id=customer_id, phone=phone)
        s.add(row)
    elif row.verified_at is None:
        row.phone = phone  # nothing verified to keep: the number being proved is the one on file
    row.code_hash = _hash(customer_id, phone, code)
    row.code_expires_at = now + LIFETIME
    row.code_attempts = 0
    s.flush()
    minutes = int(LIFETIME.total_seconds() // 60)
    notify(
        s,
        KIND,
        customer_id=customer_id,
        subject="phone",
        period=now.isoformat(),
        title="Phone verification code",
        body=f"Your verification code is {code}. It expires in {minutes} minutes.",
        only=[Channel.SMS],
        sms_to=phone,
        mandatory=True,
        now=now,
        send_now=True,  # the person is waiting for it: texted right after the commit
    )
    return phone


def confirm_code(
    s: Session, customer_id: int, phone: str, raw_code: str, now: datetime | None = None
) -> Outcome:
    """Check `raw_code` for the code texted to `phone`; on success that number is verified
    (and takes the place of any earlier one). Each wrong try counts."""
    code = six_digits(raw_code)
    if code is None:
        return Outcome.MALFORMED
    now = now or app_now()
    row = s.get(SmsContact, customer_id, with_for_update=True)
    if (
        row is None
        or row.code_hash is None
        or row.code_expires_at is None
        or row.code_expires_at <= now
        or row.code_attempts >= TRIES
    ):
        return Outcome.NO_CODE
    # Compare-and-set on the attempts read: two tries at once cannot both use the last one.
    counted = s.execute(
        sa.update(SmsContact)
        .where(
            SmsContact.customer_id == customer_id,
            SmsContact.code_attempts == row.code_attempts,
            SmsContact.code_hash == row.code_hash,
        )
        .values(code_attempts=row.code_attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not counted or not hmac.compare_digest(_hash(customer_id, phone, code), row.code_hash):
        s.expire(row)
        return Outcome.WRONG
    s.refresh(row)
    row.phone = phone
    row.verified_at = now
    row.opted_out_at = None  # the code reached it: the number takes SMS from us
    row.code_hash = None
    row.code_expires_at = None
    row.code_attempts = 0
    return Outcome.CONFIRMED


def tries_left(s: Session, customer_id: int) -> int:
    row = s.get(SmsContact, customer_id)
    return max(0, TRIES - row.code_attempts) if row is not None else 0


def code_waiting(row: SmsContact | None, now: datetime | None = None) -> bool:
    """Whether a code sent to this customer can still be typed."""
    now = now or app_now()
    return bool(
        row is not None
        and row.code_hash
        and row.code_expires_at is not None
        and row.code_expires_at > now
        and row.code_attempts < TRIES
    )


def remove(s: Session, customer_id: int) -> bool:
    """Forget the customer's number (no more SMS); whether there was one."""
    result = s.execute(sa.delete(SmsContact).where(SmsContact.customer_id == customer_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
