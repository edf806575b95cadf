"""Telling staff what needs them: a QuickBooks connection to make again, a customer whose
payments are paused after many declines."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.accounts.models import PortalUser, Role
from portal.billing.models import Customer
from portal.db import commit
from portal.mail import queue_email
from portal.mail.models import OutboundEmail
from sync.models import QboConnection


def tell_admins_to_reconnect(app: Flask, realm: str) -> int:
    """E-mail each admin once per lost connection; how many e-mails were queued."""
    sessions: sessionmaker[Session] = app.extensions["portal.db"].sessions
    queued = 0
    with sessions() as s:
        conn = s.get(QboConnection, realm)
        stamp = f"{conn.connected_at:%Y%m%d%H%M%S}" if conn is not None else "none"
        admins = s.scalars(sa.select(PortalUser).where(PortalUser.role == Role.ADMIN))
        for admin in admins:
            key = f"reconnect:{realm}:{stamp}:{admin.id}"
            if not admin.email or s.scalar(
                sa.select(OutboundEmail.id).where(OutboundEmail.dedupe_key == key)
            ):
                continue
            queue_email(
                s,
                admin.email,
                "Reconnect QuickBooks: payments are waiting to be written",
                "email/reconnect_quickbooks.txt",
                dedupe_key=key,
                realm=realm,
            )
            queued += 1
        commit(s)
    return queued


DECLINES_ALERT_EVERY = timedelta(hours=1)


def tell_admins_about_declines(
    sessions: sessionmaker[Session], customer_id: int, now: datetime, retry_at: datetime
) -> int:
    """E-mail each admin that a customer's payments are paused after many declines (card
    testing?), at most once an hour per customer; how many e-mails were queued."""
    prefix = f"declines:{customer_id}:"
    minute = int(now.timestamp()) // 60
    with sessions() as s:
        sent = s.scalars(
            sa.select(OutboundEmail.dedupe_key).where(OutboundEmail.dedupe_key.like(f"{prefix}%"))
        )
        # The key carries the (possibly pinned) clock's minute; created_at is the real clock.
        last = max((int(key.split(":")[2]) for key in sent if key), default=None)
        if last is not None and minute - last < DECLINES_ALERT_EVERY.total_seconds() // 60:
            return 0
        customer = s.get(Customer, customer_id)
        name = customer.display_name if customer is not None else f"#{customer_id}"
        admins = s.scalars(sa.select(PortalUser).where(PortalUser.role == Role.ADMIN))
        queued = 0
        for admin in admins:
            if not admin.email:
                continue
            queue_email(
                s,
                admin.email,
                f"Payments paused for {name}: many declined cards",
                "email/declines_paused.txt",
                dedupe_key=f"{prefix}{minute}:{admin.id}",
                customer=name,
                retry_at=retry_at,
            )
            queued += 1
        commit(s)
    return queued
