"""An in-memory accounting adapter for unit tests of the portal and the mirror."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from sync.accounting import (
    AccountingError,
    ChangeSet,
    CustomerRecord,
    Deleted,
    Entity,
    InvoiceRecord,
    Record,
    WindowTooOld,
)

CDC_LIMIT = 1000
CDC_DAYS = 30

ENTITY_OF = {
    "CustomerRecord": Entity.CUSTOMER,
    "InvoiceRecord": Entity.INVOICE,
    "PaymentRecord": Entity.PAYMENT,
    "CreditMemoRecord": Entity.CREDIT_MEMO,
    "ItemRecord": Entity.ITEM,
}


class FakeAccounting:
    """Holds records per entity; counts calls; can fail the Nth call."""

    def __init__(self, realm_id: str = "fake-realm") -> None:
        self.realm_id = realm_id
        self.rows: dict[Entity, dict[str, Record]] = {e: {} for e in Entity}
        self.deleted: list[tuple[datetime, Deleted]] = []
        self.calls = 0
        self.fail_on_call: int | None = None
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def tick(self, seconds: int = 1) -> datetime:
        """Move the fake clock forward."""
        self.now += timedelta(seconds=seconds)
        return self.now

    def put(self, record: Record) -> Record:
        """Add or change a record, stamping it with the fake clock."""
        entity = ENTITY_OF[type(record).__name__]
        old = self.rows[entity].get(record.id)
        token = str(int(old.sync_token) + 1) if old else record.sync_token
        stamped = dataclasses.replace(record, sync_token=token, updated_at=self.tick())
        self.rows[entity][record.id] = stamped
        return stamped

    def delete(self, entity: Entity, record_id: str) -> None:
        """Remove a record, as QuickBooks deletion does."""
        del self.rows[entity][record_id]
        self.deleted.append((self.tick(), Deleted(entity, record_id)))

    def _call(self) -> None:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise AccountingError("injected failure", code="500", retryable=True)

    def _ordered(self, entity: Entity) -> list[Record]:
        return sorted(self.rows[entity].values(), key=lambda r: (r.updated_at, r.id))

    def pages(
        self,
        entity: Entity,
        page_size: int = 1000,
        start: int = 1,
        changed_since: datetime | None = None,
    ) -> Iterator[Sequence[Record]]:
        while True:
            self._call()
            rows = self._ordered(entity)
            if changed_since is not None:
                rows = [r for r in rows if r.updated_at and r.updated_at >= changed_since]
            page = rows[start - 1 : start - 1 + page_size]
            if page:
                yield page
            if len(page) < page_size:
                return
            start += page_size

    def changes_since(self, entities: Sequence[Entity], since: datetime) -> ChangeSet:
        self._call()
        if since < self.now - timedelta(days=CDC_DAYS):
            raise WindowTooOld("changedSince is more than 30 days ago")
        changes = ChangeSet()
        room = CDC_LIMIT
        for entity in entities:
            rows = [r for r in self._ordered(entity) if r.updated_at and r.updated_at > since]
            changes.records[entity] = rows[:room]
            room -= len(changes.records[entity])
        deleted = [d for at, d in self.deleted if at > since and d.entity in entities]
        changes.deleted = deleted[:room]
        changes.truncated = changes.size >= CDC_LIMIT  # QuickBooks answers at most 1000
        return changes

    def get_invoice(self, invoice_id: str) -> InvoiceRecord:
        self._call()
        row = self.rows[Entity.INVOICE].get(invoice_id)
        if not isinstance(row, InvoiceRecord):
            raise AccountingError(f"Invoice {invoice_id} not found", code="610")
        return row

    def get_customer(self, customer_id: str) -> CustomerRecord:
        self._call()
        row = self.rows[Entity.CUSTOMER].get(customer_id)
        if not isinstance(row, CustomerRecord):
            raise AccountingError(f"Customer {customer_id} not found", code="610")
        return row

    def invoice_pdf(self, invoice_id: str) -> bytes:
        self._call()
        self.get_invoice(invoice_id)
        return b"%PDF-1.4 fake"
