"""Making notices: `notify` writes the notice and its deliveries in the caller's unit of work
(the same transaction as the fact that causes it), at most once per key; the worker sends
them (delivery.py). Preferences, destinations and quiet hours are decided here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.accounts.models import AccountMember, MemberRole, PortalUser
from portal.billing.models import Customer
from portal.clock import clock_of
from portal.db import after_commit, utcnow
from portal.notifications.kinds import kind, parse_channels
from portal.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    SmsContact,
)

logger = logging.getLogger(__name__)

KEY_LENGTH = 160


def app_now() -> datetime:
    """The app's clock (tests move it) inside an app context, else the real one."""
    return clock_of(current_app)() if has_app_context() else utcnow()


@dataclass(frozen=True)
class QuietHours:
    """No SMS between `start` and `end` (wall-clock times in `zone`); `end` may be the next day."""

    start: time
    end: time
    zone: tzinfo

    def next_allowed(self, now: datetime) -> datetime:
        """`now` when SMS may be sent now, else the end of the quiet hours (UTC)."""
        local = now.astimezone(self.zone)
        t = local.time()
        if self.start == self.end:
            return now
        if self.start < self.end:
            quiet = self.start <= t < self.end
            end_day = local.date()
        else:  # across midnight, e.g. 21:00-08:00
            quiet = t >= self.start or t < self.end
            end_day = local.date() + timedelta(days=1) if t >= self.start else local.date()
        if not quiet:
            return now
        end = datetime.combine(end_day, self.end, tzinfo=self.zone)
        return end.astimezone(now.tzinfo)


def notice_key(
    kind_name: str, customer_id: int | None, user_id: int | None, subject: str, period: str
) -> str:
    audience = f"c{customer_id}" if customer_id is not None else f"u{user_id}"
    return f"{kind_name}:{audience}:{subject}:{period}"[:KEY_LENGTH]


@dataclass(frozen=True)
class Draft:
    """A notice to write: about `subject` (e.g. "invoice:12") at `period` (e.g. "due-7")."""

    kind: str
    subject: str
    period: str
    title: str
    body: str
    customer_id: int | None = None
    user_id: int | None = None
    link: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    only: tuple[Channel, ...] | None = None  # overrides the preferences
    sms_to: str | None = None  # an unverified number (a verification code)
    email_to: str | None = None  # another address than the customer's (the login that paid)

    @property
    def key(self) -> str:
        return notice_key(self.kind, self.customer_id, self.user_id, self.subject, self.period)


def _insert_new(s: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING: the ids of the rows that were new."""
    table = cast(sa.Table, Notification.__table__)
    maker = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        maker(table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id, table.c.key)
    )
    return {key: new_id for new_id, key in s.execute(statement, rows).all()}


@dataclass
class _Lookups:
    """Everything deliveries need, fetched with one query per table for a whole batch."""

    prefs: dict[tuple[int, str], tuple[Channel, ...]]
    customer_email: dict[int, str]
    user_email: dict[int, str]
    phones: dict[int, tuple[str | None, str]]

    @classmethod
    def load(cls, s: Session, drafts: Sequence[Draft]) -> _Lookups:
        customers = {d.customer_id for d in drafts if d.customer_id is not None}
        users = {d.user_id for d in drafts if d.user_id is not None and d.customer_id is None}
        kinds_ = {d.kind for d in drafts}
        prefs: dict[tuple[int, str], tuple[Channel, ...]] = {}
        emails: dict[int, str] = {}
        phones: dict[int, tuple[str | None, str]] = {}
        if customers:
            for row in s.scalars(
                sa.select(NotificationPreference).where(
                    NotificationPreference.customer_id.in_(customers),
                    NotificationPreference.kind.in_(kinds_),
                )
            ):
                prefs[(row.customer_id, row.kind)] = parse_channels(row.channels)
            for customer_id, email in s.execute(
                sa.select(Customer.id, Customer.email).where(Customer.id.in_(customers))
            ):
                first = (email or "").split(",")[0].strip()
                if first:
                    emails[customer_id] = first
            missing = customers - emails.keys()
            if missing:  # no address in QuickBooks: the account owner's login's
                for owner, email in s.execute(
                    sa.select(AccountMember.customer_id, PortalUser.email)
                    .join(PortalUser, PortalUser.id == AccountMember.user_id)
                    .where(
                        AccountMember.customer_id.in_(missing),
                        AccountMember.role == MemberRole.OWNER,
                        PortalUser.active,
                    )
                ):
                    emails[owner] = email
            for contact in s.scalars(
                sa.select(SmsContact).where(SmsContact.customer_id.in_(customers))
            ):
                if contact.verified_at is None:
                    phones[contact.customer_id] = (None, "no verified mobile number")
                elif contact.opted_out_at is not None:
                    phones[contact.customer_id] = (None, "the number replied STOP")
                else:
                    phones[contact.customer_id] = (contact.phone, "")
        user_email: dict[int, str] = {}
        if users:
            user_email = {
                user_id: address
                for user_id, address in s.execute(
                    sa.select(PortalUser.id, PortalUser.email).where(PortalUser.id.in_(users))
                )
            }
        return cls(prefs, emails, user_email, phones)

    def channels(self, d: Draft) -> tuple[Channel, ...]:
        if d.only is not None:
            return d.only
        k = kind(d.kind)
        chosen = k.default
        if d.customer_id is not None and k.customer_choice:
            chosen = self.prefs.get((d.customer_id, d.kind), chosen)
        if not chosen and k.mandatory:
            chosen = (Channel.EMAIL,)
        return chosen

    def email(self, d: Draft) -> str | None:
        if d.email_to:
            return d.email_to
        if d.customer_id is None:
            return self.user_email.get(d.user_id or 0)
        return self.customer_email.get(d.customer_id)

    def phone(self, d: Draft) -> tuple[str | None, str]:
        if d.sms_to:
            return d.sms_to, ""
        if d.customer_id is None:
            return None, "no mobile number"
        return self.phones.get(d.customer_id, (None, "no verified mobile number"))


CHUNK = 500


def notify_many(
    s: Session,
    drafts: Sequence[Draft],
    quiet: QuietHours | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Write each draft's notice and deliveries unless its key exists (in the caller's unit of
    work); the new notices' ids by key. A constant number of queries per 500 drafts."""
    now = now or app_now()
    made: dict[str, int] = {}
    for start in range(0, len(drafts), CHUNK):
        chunk = drafts[start : start + CHUNK]
        for d in chunk:
            if d.customer_id is None and d.user_id is None:
                raise ValueError("a notice needs a customer or a login")
        # Most runs of a job find their notices written already (an hourly job, 24 a day):
        # read the keys first and insert only the missing ones; ON CONFLICT still settles a
        # race with another worker.
        keys = [d.key for d in chunk]
        known = set(s.scalars(sa.select(Notification.key).where(Notification.key.in_(keys))))
        missing = list({d.key: d for d in chunk if d.key not in known}.values())  # each key once
        if not missing:
            continue
        new = _insert_new(s, [_row(d, now) for d in missing])
        fresh = [d for d in missing if d.key in new]
        if not fresh:
            continue
        found = _Lookups.load(s, fresh)
        deliveries: list[dict[str, Any]] = []
        for d in fresh:
            deliveries += _deliveries(d, new[d.key], found, quiet, now)
        if deliveries:
            s.execute(sa.insert(Delivery), deliveries)
        made.update(new)
    return made


def _row(d: Draft, now: datetime) -> dict[str, Any]:
    return {
        "key": d.key,
        "kind": d.kind,
        "customer_id": d.customer_id,
        "user_id": d.user_id,
        "subject": d.subject[:80],
        "period": d.period[:40],
        "title": d.title[:200],
        "body": d.body,
        "link": d.link,
        "context": d.context,
        "mandatory": kind(d.kind).mandatory,
        "created_at": now,
    }


def _deliveries(
    d: Draft, notice_id: int, found: _Lookups, quiet: QuietHours | None, now: datetime
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    channels = found.channels(d)

    def add(channel: Channel, destination: str | None, why_not: str, due: datetime) -> None:
        out.append(
            {
                "notification_id": notice_id,
                "channel": channel,
                "destination": destination or "",
                "status": DeliveryStatus.QUEUED if destination else DeliveryStatus.SKIPPED,
                "last_error": None if destination else why_not,
                "next_attempt_at": due,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )

    for channel in channels:
        if channel is Channel.EMAIL:
            add(channel, found.email(d), "no e-mail address on file", now)
        elif channel is Channel.SMS:
            phone, why = found.phone(d)
            due = quiet.next_allowed(now) if quiet is not None and not d.sms_to else now
            add(channel, phone, why, due)
            if phone is None and kind(d.kind).mandatory and Channel.EMAIL not in channels:
                # A notice that cannot be skipped still goes by e-mail when SMS cannot.
                add(Channel.EMAIL, found.email(d), "no e-mail address on file", now)
    return out


def notify(
    s: Session,
    kind_name: str,
    *,
    subject: str,
    period: str,
    title: str,
    body: str,
    customer_id: int | None = None,
    user_id: int | None = None,
    link: str | None = None,
    context: dict[str, Any] | None = None,
    only: Sequence[Channel] | None = None,
    sms_to: str | None = None,
    email_to: str | None = None,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
    mandatory: bool | None = None,  # accepted for clarity; the kind decides
    send_now: bool = False,
) -> int | None:
    """Write one notice and its deliveries (see notify_many); its id, or None when a notice
    with the same kind, audience, subject and period exists (then nothing is written).
    `send_now`: try its deliveries as soon as the unit of work commits (a receipt, a code),
    not only at the worker's next round; the worker still retries what fails."""
    draft = Draft(
        kind=kind_name,
        subject=subject,
        period=period,
        title=title,
        body=body,
        customer_id=customer_id,
        user_id=user_id,
        link=link,
        context=context or {},
        only=tuple(only) if only is not None else None,
        sms_to=sms_to,
        email_to=email_to,
    )
    notice_id = notify_many(s, [draft], quiet, now).get(draft.key)
    if notice_id is not None and send_now and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        after_commit(s, lambda: _send_quietly(app, notice_id))
    return notice_id


def _send_quietly(app: Flask, notice_id: int) -> None:
    # The unit of work committed: a failure here leaves the delivery to the worker.
    from portal.notifications.delivery import deliver_due

    try:
        deliver_due(app, notice_ids=[notice_id])
    except Exception:
        logger.exception("notice %s stays queued after an unexpected error", notice_id)
