"""Reading the log: filters from a query string, keyset pages newest first, CSV rows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from portal.audit.actions import Action, label_of
from portal.audit.models import AuditEvent
from portal.billing.models import Customer
from portal.ids import parse_id

PAGE_SIZE = 50
CSV_CHUNK = 500
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Filters:
    """What the staff page shows: every field optional, all of them together."""

    customer_id: int | None = None  # from a link on the customer list
    customer: str = ""  # part of the customer's name
    action: str = ""
    actor: str = ""  # part of who did it ("ada", "system", "boss (admin)")
    since: date | None = None
    until: date | None = None

    def args(self, **extra: Any) -> dict[str, str]:
        """The filters as query arguments (blank ones left out), plus `extra`."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(extra)
        return {k: str(v) for k, v in out.items() if v not in (None, "")}


def _day(raw: str | None) -> date | None:
    if not raw or not _DAY.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """The filters a query string asks for, and what was not understood (then left out)."""
    errors = []
    action = args.get("action", "")
    if action and action not in {a.value for a in Action}:
        errors.append("Choose an action from the list.")
        action = ""
    since, until = _day(args.get("since")), _day(args.get("until"))
    for name, parsed in (("since", since), ("until", until)):
        if args.get(name) and parsed is None:
            errors.append(f"Write the {'from' if name == 'since' else 'to'} date as YYYY-MM-DD.")
    if since and until and since > until:
        errors.append("The from date is after the to date.")
        since = until = None
    raw_id = args.get("customer_id")
    customer_id = parse_id(raw_id)
    if raw_id and customer_id is None:
        errors.append("No such customer.")
    filters = Filters(
        customer_id=customer_id,
        customer=args.get("customer", "").strip()[:100],
        action=action,
        actor=args.get("actor", "").strip()[:100],
        since=since,
        until=until,
    )
    return filters, errors


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def conditions(filters: Filters, zone: tzinfo) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of the filters; dates are the company's days."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.customer_id is not None:
        where.append(AuditEvent.customer_id == filters.customer_id)
    if filters.customer:
        names = sa.select(Customer.id).where(
            sa.func.lower(Customer.display_name).contains(filters.customer.lower(), autoescape=True)
        )
        where.append(AuditEvent.customer_id.in_(names))
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.actor:
        label = sa.func.lower(AuditEvent.actor_label)
        where.append(label.contains(filters.actor.lower(), autoescape=True))
    if filters.since:
        where.append(AuditEvent.at >= _midnight(filters.since, zone))
    if filters.until:
        where.append(AuditEvent.at < _midnight(filters.until + timedelta(days=1), zone))
    return where


@dataclass(frozen=True)
class Row:
    """One event as a page shows it."""

    event: AuditEvent
    customer: str | None

    @property
    def label(self) -> str:
        return label_of(self.event.action)

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) of a detail change."""
        before = _json(self.event.before)
        after = _json(self.event.after)
        if not before:
            return []  # a record of what was made (a payment) is in the summary
        return [(k, before.get(k), after.get(k)) for k in sorted(before.keys() | after.keys())]


def _json(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def page(
    s: Session,
    where: list[sa.ColumnElement[bool]],
    before: int | None,
    size: int = PAGE_SIZE,
) -> tuple[list[Row], int | None]:
    """A page of events newest first, below the id `before`; and the id to continue below
    (None on the last page)."""
    query = (
        sa.select(AuditEvent, Customer.display_name)
        .outerjoin(Customer, Customer.id == AuditEvent.customer_id)
        .where(*where)
        .order_by(AuditEvent.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(AuditEvent.id < before)
    found = [Row(event, name) for event, name in s.execute(query)]
    more = len(found) > size
    rows = found[:size]
    return rows, rows[-1].event.id if more and rows else None


def every(sessions: sessionmaker[Session], where: list[sa.ColumnElement[bool]]) -> Iterator[Row]:
    """Every matching event, newest first, read a chunk at a time in a session of its own
    (closed when the export ends or is abandoned: a response outlives its request's)."""
    before: int | None = None
    with sessions() as s:
        while True:
            rows, before = page(s, where, before, CSV_CHUNK)
            yield from rows
            s.expunge_all()  # what was written out is not kept
            if before is None:
                return
