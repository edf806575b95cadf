"""A customer's details: what the page shows (the mirror with changes on their way on top),
reading a submitted form into the values the books should hold, and saving a change (one
change row, one outbox message and one audit event, in the caller's unit of work)."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal import outbox
from portal.audit.service import Actor, record
from portal.billing.models import Customer
from portal.details import rules
from portal.details.models import ChangeStatus, CustomerChange
from portal.outbox import OutboxMessage, OutboxStatus
from sync.accounting import DETAIL_FIELDS, same_detail

KIND = "qbo.customer_details"

LABELS = {
    "display_name": "Name",
    "company_name": "Company",
    "email": "E-mail for invoices",
    "phone": "Phone",
    "bill_line1": "Billing address",
    "bill_line2": "Billing address, line 2",
    "bill_city": "Billing city",
    "bill_region": "Billing state or province",
    "bill_postal_code": "Billing postal code",
    "bill_country": "Billing country",
    "ship_line1": "Service address",
    "ship_line2": "Service address, line 2",
    "ship_city": "Service city",
    "ship_region": "Service state or province",
    "ship_postal_code": "Service postal code",
    "ship_country": "Service country",
}
ADDRESSES = ("bill", "ship")
# An address changed to something is a place the post can find.
NEEDS_POSTAL_CODE = frozenset({"US", "CA", "GB"})

Values = dict[str, str | None]


def _version(token: str | None) -> int:
    return int(token) if token and token.isdigit() else -1


@dataclass
class Shown:
    """What the details page shows."""

    customer: Customer
    values: Values  # as the books hold them (or will, once what is saving lands)
    saving: list[CustomerChange] = field(default_factory=list)
    stuck: bool = False  # a change's write was parked: staff look at it
    problem: CustomerChange | None = None  # the last change, when it did not go through

    @property
    def version(self) -> str:
        """A fingerprint of the values shown: a form posted from an older page is noticed."""
        text = json.dumps(self.values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def shown(s: Session, customer_id: int) -> Shown:
    """The customer's details: the mirror, with changes still on their way to QuickBooks on
    top (pending ones, and written ones until a mirrored snapshot at least as new as the
    write arrives: an older snapshot must not bring back the values we just replaced)."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"no customer {customer_id}")
    page = Shown(customer, {name: getattr(customer, name) for name in DETAIL_FIELDS})
    changes = s.execute(
        sa.select(CustomerChange, OutboxMessage.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == CustomerChange.message_id)
        .where(CustomerChange.customer_id == customer_id)
        .order_by(CustomerChange.id.desc())
        .limit(20)
    ).all()
    mirror_token = _version(customer.sync_token)
    for change, message_status in reversed(changes):
        if change.status is ChangeStatus.PENDING:
            page.values.update(change.wanted)
            page.saving.append(change)
            page.stuck = page.stuck or message_status is OutboxStatus.PARKED
        elif change.status is ChangeStatus.DONE and _version(change.written_token) > mirror_token:
            page.values.update(change.wanted)
    if changes and changes[0][0].status in (ChangeStatus.CONFLICT, ChangeStatus.FAILED):
        page.problem = changes[0][0]
    return page


def country_of(values: Mapping[str, str | None], which: str) -> str | None:
    """The alpha-2 code of an address's country as the books spell it."""
    return rules.country_code(values.get(f"{which}_country"))


def for_form(values: Mapping[str, str | None]) -> dict[str, str]:
    """The values as the form shows them: countries as codes, the phone as people write it."""
    shown_values = {name: values.get(name) or "" for name in DETAIL_FIELDS}
    for which in ADDRESSES:  # the company's country (US) when the books name none we know
        shown_values[f"{which}_country"] = country_of(values, which) or rules.DEFAULT_COUNTRY
    shown_values["phone"] = rules.phone_for_people(values.get("phone"), country_of(values, "bill"))
    return shown_values


class Invalid(ValueError):
    """Some fields are wrong: field → the words."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def read_form(submitted: Mapping[str, str], values: Mapping[str, str | None]) -> Values:
    """The values the books should hold after this form: a field left as the page showed it
    keeps the books' own text (never re-checked, or rewritten in our format), a changed one
    is checked and written as the books should hold it. Invalid names every mistake."""
    before = for_form(values)
    wanted: Values = dict(values)
    errors: dict[str, str] = {}
    text = {name: " ".join((submitted.get(name) or "").split()) for name in DETAIL_FIELDS}
    moved = {w: text[f"{w}_country"] != before[f"{w}_country"] for w in ADDRESSES}
    for name in DETAIL_FIELDS:
        which = name.split("_", 1)[0]
        if text[name] == " ".join(before[name].split()) and not moved.get(which, False):
            continue
        try:
            wanted[name] = _checked(name, text[name], text)
        except ValueError as exc:
            errors[name] = str(exc)
    for which in ADDRESSES:
        _complete(which, wanted, values, text, errors)
    if errors:
        raise Invalid(errors)
    return wanted


def _checked(name: str, value: str, text: Mapping[str, str]) -> str | None:
    """One changed field as the books should hold it (None: blank)."""
    part = name.split("_", 1)[1] if name.startswith(ADDRESSES) else name
    most = rules.MAX_LENGTH.get(part)
    if most is not None and len(value) > most:
        raise ValueError(f"Must be at most {most} characters.")
    if name == "display_name":
        return rules.display_name(value)
    if not value:
        return None
    if name == "email":
        return rules.email(value)
    if name == "phone":
        return rules.phone(value, text["bill_country"] or None)
    if name.endswith("_postal_code"):
        return rules.postal_code(value, text[name.replace("postal_code", "country")] or None)
    if name.endswith("_country"):
        if value not in dict(rules.countries()):
            raise ValueError("Choose a country from the list.")
        return rules.country_name(value)
    return value


def _complete(
    which: str,
    wanted: Values,
    values: Mapping[str, str | None],
    text: Mapping[str, str],
    errors: dict[str, str],
) -> None:
    """An address changed to something needs a first line, a city and (where the post uses
    them) a postal code; an address left blank has no country either."""
    parts = [f"{which}_{p}" for p in ("line1", "line2", "city", "region", "postal_code")]
    country = f"{which}_country"
    if not any(wanted.get(p) for p in parts):
        wanted[country] = values.get(country) if not any(values.get(p) for p in parts) else None
        return
    if all(same_detail(wanted.get(p), values.get(p)) for p in [*parts, country]):
        return
    for needed in (f"{which}_line1", f"{which}_city"):
        if not wanted.get(needed) and needed not in errors:
            errors[needed] = "Needed for the address."
    postal = f"{which}_postal_code"
    if text[country] in NEEDS_POSTAL_CODE and not wanted.get(postal) and postal not in errors:
        errors[postal] = "Needed for the address."


class Saved(enum.Enum):
    """What saving a form did."""

    QUEUED = "queued"  # a change is on its way to QuickBooks
    NOTHING = "nothing"  # the form changed nothing
    ALREADY = "already"  # this very form was saved before (a double click, a retry)
    STALE = "stale"  # the details changed since the form was shown: look again


def save(
    s: Session,
    customer_id: int,
    wanted: Mapping[str, str | None],
    version: str,
    form_key: str,
    user_id: int | None,
    actor: Actor,
) -> Saved:
    """Queue the fields that differ from what is shown as one change (the caller commits; a
    concurrent save of the same form fails its commit on the unique form key)."""
    if s.scalar(sa.select(CustomerChange.id).where(CustomerChange.form_key == form_key)):
        return Saved.ALREADY
    page = shown(s, customer_id)
    diff = {
        name: [page.values.get(name), wanted.get(name)]
        for name in DETAIL_FIELDS
        if name in wanted and not same_detail(page.values.get(name), wanted.get(name))
    }
    if not diff:
        return Saved.NOTHING
    if version != page.version:
        return Saved.STALE
    change = CustomerChange(
        customer_id=customer_id,
        fields=json.dumps(diff, sort_keys=True),
        form_key=form_key,
        created_by=user_id,
    )
    s.add(change)
    s.flush()
    send(s, page.customer, change)
    record(
        s,
        "details.changed",
        customer_id=customer_id,
        actor=actor,
        summary=f"Details changed: {', '.join(LABELS[n] for n in diff)}",
        before={n: pair[0] for n, pair in diff.items()},
        after={n: pair[1] for n, pair in diff.items()},
    )
    return Saved.QUEUED


def send(s: Session, customer: Customer, change: CustomerChange) -> None:
    """One outbox message per sending of the change (staff may send a conflict again)."""
    message = outbox.enqueue(
        s,
        KIND,
        customer.realm_id,
        {"change_id": change.id},
        dedupe_key=f"customer_change:{change.id}:{change.sends}",
    )
    change.message_id = message.id
