"""Bulk upserts of mirrored records: one round trip per page, rows whose SyncToken is unchanged
are left alone (so mirroring twice changes nothing)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from portal.billing.models import (
    CatalogItem,
    CreditMemo,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentApplication,
    ReceivedPayment,
)
from portal.db import utcnow
from sync.accounting import (
    CreditMemoRecord,
    CustomerRecord,
    Deleted,
    Entity,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
    Record,
)
from sync.overlay import customer_overlay, invoice_overlay, owed

logger = logging.getLogger(__name__)

T = TypeVar("T", CustomerRecord, InvoiceRecord, PaymentRecord, CreditMemoRecord, ItemRecord)

MODELS: dict[Entity, Any] = {
    Entity.CUSTOMER: Customer,
    Entity.INVOICE: Invoice,
    Entity.PAYMENT: ReceivedPayment,
    Entity.CREDIT_MEMO: CreditMemo,
    Entity.ITEM: CatalogItem,
}


@dataclass
class Tally:
    """What one or more pages did to the mirror."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    # Seconds spent writing pages into the database (the rest of a run is QuickBooks' time).
    write_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.skipped += other.skipped
        self.write_seconds += other.write_seconds
        self.warnings.extend(other.warnings)


# The details mirrored beside the original few (all of DETAIL_FIELDS in the end).
MORE_DETAILS = (
    "company_name",
    "bill_line2",
    "bill_country",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
)

# Finds a customer QuickBooks did not send with the page (an invoice whose customer is new).
CustomerFetcher = Callable[[str], CustomerRecord | None]

# Called in the page's own transaction with the primary keys of invoices seen for the first
# time: the portal writes its "new invoice" notices there (it adds its hook at start-up; the
# bridge itself knows nothing of notices).
NewInvoiceHook = Callable[[Session, str, list[int]], object]
new_invoice_hooks: list[NewInvoiceHook] = []


def _insert(s: Session, table: Any) -> Any:
    dialect = s.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _existing(
    s: Session, model: Any, realm: str, ids: Sequence[str]
) -> dict[str, tuple[int, str, bool]]:
    """qbo_id → (primary key, sync token, deleted) for rows already mirrored."""
    deleted_col = getattr(model, "deleted", sa.false())
    rows = s.execute(
        sa.select(model.qbo_id, model.id, model.sync_token, deleted_col).where(
            model.realm_id == realm, model.qbo_id.in_(ids)
        )
    )
    return {q: (pk, tok, bool(d)) for q, pk, tok, d in rows}


def _upsert_rows(s: Session, model: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert or update rows keyed by (realm_id, qbo_id); return qbo_id → primary key."""
    if not rows:
        return {}
    table = model.__table__
    stmt = _insert(s, table)
    columns = [k for k in rows[0] if k not in ("realm_id", "qbo_id")]
    stmt = stmt.on_conflict_do_update(
        index_elements=["realm_id", "qbo_id"], set_={c: stmt.excluded[c] for c in columns}
    ).returning(table.c.qbo_id, table.c.id)
    # Core, not the ORM bulk path: its per-row bookkeeping cost more than SQLite's insert.
    return {q: pk for q, pk in s.connection().execute(stmt, rows)}


def _changed(
    s: Session,
    model: Any,
    realm: str,
    records: Sequence[T],
    tally: Tally,
    new: set[str] | None = None,
) -> list[T]:
    """Records that are new (their ids also go to `new`), or whose SyncToken moved, or that
    come back after a deletion."""
    existing = _existing(s, model, realm, [r.id for r in records])
    out: list[T] = []
    for r in records:
        old = existing.get(r.id)
        if old is None:
            tally.inserted += 1
            if new is not None:
                new.add(r.id)
        elif old[1] != r.sync_token or old[2]:
            tally.updated += 1
        else:
            tally.unchanged += 1
            continue
        out.append(r)
    return out


def customers(s: Session, realm: str, records: Sequence[CustomerRecord]) -> Tally:
    tally = Tally()
    now = utcnow()
    changed = _changed(s, Customer, realm, records, tally)
    overlay = customer_overlay(s, realm, changed)
    rows = [_customer_row(realm, r, now) for r in changed]
    for row in rows:
        row["balance"] += overlay.get(row["qbo_id"], Decimal(0))
    _upsert_rows(s, Customer, rows)
    if rows:
        link_parents(s, realm)
    return tally


def link_parents(s: Session, realm: str) -> None:
    """Point sub-customers at their parents by QuickBooks Id, in one statement after each page:
    a child mirrored before its parent (an earlier page, an earlier CDC answer) is linked once
    the parent is mirrored, and one whose ParentRef changed or went is moved or unlinked."""
    parent = aliased(Customer)
    wanted = (
        sa.select(parent.id)
        .where(parent.realm_id == Customer.realm_id, parent.qbo_id == Customer.parent_qbo_id)
        .scalar_subquery()
    )
    s.execute(
        sa.update(Customer)
        .where(
            Customer.realm_id == realm,
            sa.or_(Customer.parent_qbo_id.is_not(None), Customer.parent_id.is_not(None)),
            sa.or_(
                sa.and_(Customer.parent_id.is_(None), wanted.is_not(None)),
                Customer.parent_id != sa.func.coalesce(wanted, 0),
            ),
        )
        .values(parent_id=wanted)
        .execution_options(synchronize_session=False)
    )


def _customer_row(realm: str, r: CustomerRecord, now: Any) -> dict[str, Any]:
    return {
        "realm_id": realm,
        "qbo_id": r.id,
        "sync_token": r.sync_token,
        "display_name": r.display_name,
        "email": r.email,
        "phone": r.phone,
        "bill_line1": r.bill_line1,
        "bill_city": r.bill_city,
        "bill_region": r.bill_region,
        "bill_postal_code": r.bill_postal_code,
        **{name: getattr(r, name) for name in MORE_DETAILS},
        "balance": r.balance,
        "active": r.active,
        "parent_qbo_id": r.parent_id,
        "bill_with_parent": r.bill_with_parent,
        "level": r.level,
        "qbo_updated_at": r.updated_at,
        "mirrored_at": now,
    }


def items(s: Session, realm: str, records: Sequence[ItemRecord]) -> Tally:
    tally = Tally()
    now = utcnow()
    changed = _changed(s, CatalogItem, realm, records, tally)
    rows = [
        {
            "realm_id": realm,
            "qbo_id": r.id,
            "sync_token": r.sync_token,
            "name": r.name,
            "type": r.type,
            "description": r.description,
            "unit_price": r.unit_price,
            "active": r.active,
            "qbo_updated_at": r.updated_at,
            "mirrored_at": now,
        }
        for r in changed
    ]
    _upsert_rows(s, CatalogItem, rows)
    return tally


def _customer_ids(
    s: Session, realm: str, wanted: set[str], fetch: CustomerFetcher | None, tally: Tally
) -> dict[str, int]:
    """QBO customer Id → our key, fetching customers the mirror has not seen yet."""
    known = dict(
        s.execute(
            sa.select(Customer.qbo_id, Customer.id).where(
                Customer.realm_id == realm, Customer.qbo_id.in_(wanted)
            )
        ).all()
    )
    missing = wanted - known.keys()
    if missing and fetch is not None:
        fetched = [c for c in (fetch(cid) for cid in sorted(missing)) if c is not None]
        if fetched:
            customers(s, realm, fetched)
            known.update(_customer_ids(s, realm, missing, None, Tally()))
    return known


def _with_customer(
    s: Session,
    realm: str,
    records: Sequence[Any],
    kind: str,
    fetch: CustomerFetcher | None,
    tally: Tally,
) -> tuple[list[Any], dict[str, int]]:
    """Drop (with a warning) records whose customer QuickBooks cannot give us."""
    cmap = _customer_ids(s, realm, {r.customer_id for r in records}, fetch, tally)
    kept = []
    for r in records:
        if r.customer_id in cmap:
            kept.append(r)
            continue
        tally.skipped += 1
        tally.warnings.append(
            f"{kind} {r.id} was skipped: its customer {r.customer_id} is missing in QuickBooks"
        )
    return kept, cmap


def invoices(
    s: Session, realm: str, records: Sequence[InvoiceRecord], fetch: CustomerFetcher | None = None
) -> Tally:
    tally = Tally()
    now = utcnow()
    present, cmap = _with_customer(s, realm, records, "Invoice", fetch, tally)
    first_seen: set[str] = set()
    kept = _changed(s, Invoice, realm, present, tally, first_seen)
    overlay = invoice_overlay(s, realm, kept)
    ids = _upsert_rows(
        s,
        Invoice,
        [
            {
                "realm_id": realm,
                "qbo_id": r.id,
                "sync_token": r.sync_token,
                "customer_id": cmap[r.customer_id],
                "doc_number": r.doc_number,
                "txn_date": r.txn_date,
                "due_date": r.due_date,
                "total_amt": r.total,
                "balance": owed(r.balance, overlay.get(r.id, Decimal(0))),
                "qbo_balance": r.balance,
                "currency": r.currency,
                "email_status": r.email_status,
                "voided": r.voided,
                "deleted": False,
                "qbo_updated_at": r.updated_at,
                "mirrored_at": now,
            }
            for r in kept
        ],
    )
    _replace_children(
        s,
        InvoiceLine,
        InvoiceLine.invoice_id,
        [ids[r.id] for r in kept],
        [
            {
                "invoice_id": ids[r.id],
                "position": ln.position,
                "qbo_line_id": ln.line_id,
                "detail_type": ln.detail_type,
                "item_ref": ln.item_id,
                "item_name": ln.item_name,
                "description": ln.description,
                "qty": ln.qty,
                "unit_price": ln.unit_price,
                "amount": ln.amount,
            }
            for r in kept
            for ln in r.lines
        ],
    )
    if first_seen:
        for hook in new_invoice_hooks:
            hook(s, realm, [ids[q] for q in sorted(first_seen)])
    return tally


def payments(
    s: Session, realm: str, records: Sequence[PaymentRecord], fetch: CustomerFetcher | None = None
) -> Tally:
    tally = Tally()
    now = utcnow()
    present, cmap = _with_customer(s, realm, records, "Payment", fetch, tally)
    kept = _changed(s, ReceivedPayment, realm, present, tally)
    ids = _upsert_rows(
        s,
        ReceivedPayment,
        [
            {
                "realm_id": realm,
                "qbo_id": r.id,
                "sync_token": r.sync_token,
                "customer_id": cmap[r.customer_id],
                "txn_date": r.txn_date,
                "total_amt": r.total,
                "unapplied_amt": r.unapplied,
                "reference": r.reference,
                "deleted": False,
                "qbo_updated_at": r.updated_at,
                "mirrored_at": now,
            }
            for r in kept
        ],
    )
    _replace_children(
        s,
        PaymentApplication,
        PaymentApplication.payment_id,
        [ids[r.id] for r in kept],
        [
            {
                "payment_id": ids[r.id],
                "txn_type": a.txn_type,
                "txn_qbo_id": a.txn_id,
                "amount": a.amount,
            }
            for r in kept
            for a in r.applied
        ],
    )
    return tally


def credit_memos(
    s: Session,
    realm: str,
    records: Sequence[CreditMemoRecord],
    fetch: CustomerFetcher | None = None,
) -> Tally:
    tally = Tally()
    now = utcnow()
    present, cmap = _with_customer(s, realm, records, "CreditMemo", fetch, tally)
    kept = _changed(s, CreditMemo, realm, present, tally)
    _upsert_rows(
        s,
        CreditMemo,
        [
            {
                "realm_id": realm,
                "qbo_id": r.id,
                "sync_token": r.sync_token,
                "customer_id": cmap[r.customer_id],
                "doc_number": r.doc_number,
                "txn_date": r.txn_date,
                "total_amt": r.total,
                "balance": r.balance,
                "deleted": False,
                "qbo_updated_at": r.updated_at,
                "mirrored_at": now,
            }
            for r in kept
        ],
    )
    return tally


def _replace_children(
    s: Session, model: Any, parent_col: Any, parent_ids: list[int], rows: list[dict[str, Any]]
) -> None:
    """Lines are replaced whole, as QuickBooks replaces them on update."""
    if parent_ids:
        s.execute(sa.delete(model).where(parent_col.in_(parent_ids)))
    if rows:
        s.connection().execute(sa.insert(model.__table__), rows)


def page(
    s: Session,
    realm: str,
    entity: Entity,
    records: Sequence[Record],
    fetch: CustomerFetcher | None = None,
) -> Tally:
    """Mirror one page of one entity."""
    if entity is Entity.CUSTOMER:
        return customers(s, realm, records)  # type: ignore[arg-type]
    if entity is Entity.ITEM:
        return items(s, realm, records)  # type: ignore[arg-type]
    if entity is Entity.INVOICE:
        return invoices(s, realm, records, fetch)  # type: ignore[arg-type]
    if entity is Entity.PAYMENT:
        return payments(s, realm, records, fetch)  # type: ignore[arg-type]
    return credit_memos(s, realm, records, fetch)  # type: ignore[arg-type]


def deletions(s: Session, realm: str, deleted: Sequence[Deleted]) -> Tally:
    """Mark deleted transactions; name-list rows (customers, items) become inactive."""
    tally = Tally()
    for entity in Entity:
        ids = [d.id for d in deleted if d.entity is entity]
        if not ids:
            continue
        model = MODELS[entity]
        name_list = entity in (Entity.CUSTOMER, Entity.ITEM)
        flag = {"active": False} if name_list else {"deleted": True}
        not_yet = model.active if name_list else ~model.deleted
        result = s.execute(
            sa.update(model)
            .where(model.realm_id == realm, model.qbo_id.in_(ids), not_yet)
            .values(**flag, mirrored_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        tally.deleted += int(getattr(result, "rowcount", 0) or 0)
    return tally
