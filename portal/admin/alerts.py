"""Telling staff what needs them: a QuickBooks connection to make again."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.accounts.models import PortalUser, Role
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
