"""One-click unsubscribe links (RFC 8058): a signed (customer, kind) that turns that kind of
notice off without a login. They do not expire: a link in an old e-mail must still work."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from portal.notifications.kinds import KINDS
from portal.notifications.models import NotificationPreference

SALT = "unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=SALT)


def token_for(customer_id: int, kind_name: str) -> str:
    return _serializer().dumps([customer_id, kind_name])


def read(token: str) -> tuple[int, str] | None:
    """The (customer, kind) a link stands for, or None when it was not made here."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    customer_id, kind_name = value
    if not isinstance(customer_id, int) or kind_name not in KINDS:
        return None
    if KINDS[kind_name].mandatory:
        return None
    return customer_id, kind_name


def turn_off(s: Session, customer_id: int, kind_name: str) -> None:
    """Turn that kind off for the customer (idempotent)."""
    row = s.get(NotificationPreference, (customer_id, kind_name))
    if row is None:
        s.add(NotificationPreference(customer_id=customer_id, kind=kind_name, channels=""))
    else:
        row.channels = ""
