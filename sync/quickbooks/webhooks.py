"""QuickBooks webhook notifications: the intuit-signature check and the companies named.

The body is only a trigger: what changed is read back through CDC, never taken from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync.models import WebhookReceipt

# A signed body seen again within this long is a replay: acknowledged, not acted on. After
# it the same body counts as new (its only effect is asking for a sync, which is harmless).
REPLAY_WINDOW = timedelta(days=1)


class BadNotification(ValueError):
    """The body is not a notification we can read."""


def signature_valid(body: bytes, signature: str, verifier_token: str) -> bool:
    """Whether intuit-signature is base64(HMAC-SHA256(verifier, body)); constant-time."""
    expected = base64.b64encode(
        hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def realms_in(payload: Any) -> set[str]:
    """Company ids named by a notification (classic or CloudEvents form)."""
    realms: set[str] = set()
    if isinstance(payload, dict):
        for event in payload.get("eventNotifications") or []:
            if isinstance(event, dict) and isinstance(event.get("realmId"), str):
                realms.add(event["realmId"])
    elif isinstance(payload, list):
        for event in payload:
            if isinstance(event, dict) and isinstance(event.get("intuitaccountid"), str):
                realms.add(event["intuitaccountid"])
    return {r for r in realms if 0 < len(r) <= 32}


def realms_notified(body: bytes) -> set[str]:
    """The companies a (signature-checked) body names; BadNotification if it is not JSON."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise BadNotification("body is not JSON") from None
    return realms_in(payload)


def first_delivery(s: Session, signature: str, body: bytes, now: datetime) -> bool:
    """Record a signed body in the caller's unit of work; False when it was already received
    within REPLAY_WINDOW. Of two concurrent deliveries of one body the unique digest lets one
    through: the other waits for its commit and then finds the row."""
    digest = hashlib.sha256(signature.strip().encode() + b"\0" + body).hexdigest()
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(WebhookReceipt).values(digest=digest, received_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["digest"],
        set_={"received_at": stmt.excluded.received_at},
        where=WebhookReceipt.received_at < now - REPLAY_WINDOW,
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    return s.execute(stmt.returning(WebhookReceipt.id)).first() is not None


def prune_receipts(s: Session, now: datetime) -> int:
    """Forget bodies received before REPLAY_WINDOW; how many rows went."""
    stale = sa.delete(WebhookReceipt).where(WebhookReceipt.received_at < now - REPLAY_WINDOW)
    return s.execute(stale).rowcount  # type: ignore[attr-defined]
