"""A customer's choices of notices: a channel (or off) per kind, the statements' frequency
and paperless; read from a form whole or refused whole, and saved by upserts so two saves at
once both land. Also the admin's switch for new-invoice notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.notifications.kinds import choosable, parse_channels
from portal.notifications.models import (
    NotificationPreference,
    NotificationSetting,
    SmsContact,
    StatementPreference,
)

# A radio button's value → the channels stored ("" is off).
CHOICES = {"off": "", "email": "email", "sms": "sms", "both": "email,sms"}
CHOICE_LABELS = {"off": "Off", "email": "E-mail", "sms": "SMS", "both": "E-mail and SMS"}
FREQUENCIES = {
    "monthly": "Every month",
    "quarterly": "Every three months",
    "never": "Never",
}


def _token(channels: Sequence[str]) -> str:
    names = set(channels)
    if names == {"email", "sms"}:
        return "both"
    return next(iter(names)) if names else "off"


@dataclass(frozen=True)
class Choices:
    """What a customer chose: a radio value per kind, the statements' frequency, paperless."""

    kinds: dict[str, str]
    frequency: str = "monthly"
    paperless: bool = True


def load_choices(s: Session, customer_id: int) -> Choices:
    """The customer's choices, each kind's default where they made none."""
    stored = {
        row.kind: row.channels
        for row in s.scalars(
            sa.select(NotificationPreference).where(
                NotificationPreference.customer_id == customer_id
            )
        )
    }
    kinds = {}
    for k in choosable():
        chosen = parse_channels(stored[k.name]) if k.name in stored else k.default
        if not chosen and k.mandatory:
            chosen = k.default
        kinds[k.name] = _token([c.value for c in chosen])
    statement = s.get(StatementPreference, customer_id)
    if statement is None:
        return Choices(kinds)
    return Choices(kinds, statement.frequency, statement.paperless)


def read_choices(form: MultiDict[str, str], current: Choices, sms_ok: bool) -> Choices:
    """The choices a form sent; ValueError with every mistake. A kind left out (its checked
    button was disabled: SMS without a number) keeps what it was."""
    known = {k.name: k for k in choosable()}
    errors: list[str] = []
    kinds = dict(current.kinds)
    for key in form:
        if not key.startswith("kind-"):
            continue
        name, values = key.removeprefix("kind-"), form.getlist(key)
        k = known.get(name)
        if k is None:
            errors.append(f"There is no kind of notice called \u201c{name[:40]}\u201d.")
            continue
        if len(values) != 1 or values[0] not in CHOICES:
            errors.append(f"{k.label}: choose off, e-mail, SMS, or e-mail and SMS.")
            continue
        value = values[0]
        if value == "off" and k.mandatory:
            errors.append(f"{k.label}: always sent, so it cannot be turned off.")
        elif "sms" in CHOICES[value] and not sms_ok and value != current.kinds.get(name):
            errors.append(f"{k.label}: SMS needs a verified mobile number that takes our texts.")
        else:
            kinds[name] = value
    frequency = form.get("frequency", "")
    if len(form.getlist("frequency")) != 1 or frequency not in FREQUENCIES:
        errors.append("Statements: choose every month, every three months or never.")
    if errors:
        raise ValueError(*errors)
    return Choices(kinds, frequency, "paperless" in form)


def upsert(s: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT … ON CONFLICT DO UPDATE: two saves at once both land, neither fails."""
    if not rows:
        return
    table = cast(sa.Table, model.__table__)
    maker = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = maker(table)
    changed = {c: statement.excluded[c] for c in rows[0] if c not in keys}
    s.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed), rows)


def save_choices(s: Session, customer_id: int, chosen: Choices, now: datetime) -> None:
    """Store the customer's choices (in the caller's unit of work)."""
    rows = [
        {"customer_id": customer_id, "kind": name, "channels": CHOICES[value], "updated_at": now}
        for name, value in chosen.kinds.items()
    ]
    upsert(s, NotificationPreference, rows, ["customer_id", "kind"])
    statement = {
        "customer_id": customer_id,
        "frequency": chosen.frequency,
        "paperless": chosen.paperless,
        "updated_at": now,
    }
    upsert(s, StatementPreference, [statement], ["customer_id"])


def sms_state(contact: SmsContact | None) -> str:
    """ "ok", "none" (no verified number) or "stopped" (the number replied STOP)."""
    if contact is None or contact.verified_at is None:
        return "none"
    return "stopped" if contact.opted_out_at is not None else "ok"


def skip_new_invoices(s: Session) -> bool:
    """Whether the admin said QuickBooks e-mails invoices (no new-invoice notices)."""
    row = s.get(NotificationSetting, 1)
    return bool(row and row.skip_new_invoice)


def set_skip_new_invoices(s: Session, skip: bool, now: datetime) -> None:
    row = {"id": 1, "skip_new_invoice": skip, "updated_at": now}
    upsert(s, NotificationSetting, [row], ["id"])
