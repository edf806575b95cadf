"""An in-memory accounting adapter for unit tests of the portal and the mirror, kept to the
QuickBooks adapter's behaviour by tests/contract/test_accounting_contract.py."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sync.accounting import (
    MAX_BATCH,
    AccountingError,
    AppliedLine,
    BusinessRule,
    ChangeSet,
    ConflictingChange,
    CreditMemoRecord,
    CustomerRecord,
    Deleted,
    Details,
    DuplicateName,
    Entity,
    InvoiceLineRecord,
    InvoiceRecord,
    ItemRecord,
    NotFound,
    PaymentRecord,
    PaymentWrite,
    Record,
    StaleObject,
    WindowTooOld,
    check_details,
    conflicts,
    same_detail,
)

R = TypeVar("R", bound=Record)

FIRST_VERSION = "0"  # the SyncToken of a new row
FIRST_MEMO_NUMBER = 5001  # QuickBooks numbers credit memos on from here
MAX_PAGE = 1000
MAX_REQUEST_ID = 50
CDC_LIMIT = 1000
CDC_DAYS = 30
STALE_TRIES = 4  # as the QuickBooks adapter tries a write that meets 5010

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
        self.name = "Fake Books Co."
        self.rows: dict[Entity, dict[str, Record]] = {e: {} for e in Entity}
        self.deleted: list[tuple[datetime, Deleted]] = []
        self.calls = 0
        self.fail_on_call: int | None = None
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        # request id → the first answer, a refusal included, as QuickBooks replays it
        self.replies: dict[str, Record | AccountingError] = {}
        self.memo_numbers = itertools.count(FIRST_MEMO_NUMBER)
        self.next_id = 9000
        # batches: request id → the first answer of each item by bid, as QBO replays
        self.batch_replies: dict[str, dict[str, PaymentRecord | AccountingError]] = {}
        self.batch_calls = 0
        self.item_faults: dict[str, AccountingError] = {}  # bid → the fault its batch item gets
        self.lose_batch_answers = 0  # apply the next N batches, then fail as if the answer was lost
        # customer id → fields the office changes between our next read and our write (5010)
        self.office_edits: dict[str, dict[str, str | None]] = {}

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
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE}, not {page_size}")
        if changed_since is not None and changed_since.tzinfo is None:
            raise ValueError("changed_since needs an aware datetime")
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
        if since.tzinfo is None:
            raise ValueError("changes_since needs an aware datetime")
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

    def company_name(self) -> str:
        """The company's name."""
        self._call()
        return self.name

    def get_invoice(self, invoice_id: str) -> InvoiceRecord:
        self._call()
        row = self.rows[Entity.INVOICE].get(invoice_id)
        if not isinstance(row, InvoiceRecord):
            raise NotFound(f"Invoice {invoice_id} not found", code="610")
        return row

    def get_customer(self, customer_id: str) -> CustomerRecord:
        self._call()
        row = self.rows[Entity.CUSTOMER].get(customer_id)
        if not isinstance(row, CustomerRecord):
            raise NotFound(f"Customer {customer_id} not found", code="610")
        return row

    def invoice_pdf(self, invoice_id: str) -> bytes:
        self._call()
        self.get_invoice(invoice_id)
        return b"%PDF-1.4 fake"

    def find_payments(self, customer_id: str, reference: str) -> list[PaymentRecord]:
        self._call()
        return [
            r
            for r in self._ordered(Entity.PAYMENT)
            if isinstance(r, PaymentRecord)
            and r.customer_id == customer_id
            and r.reference == reference
        ]

    # --- writes ---------------------------------------------------------------------------

    def _once(self, request_id: str, write: Callable[[], R]) -> R:
        """Run a write once per request id; a repeat gets the first answer, and a refusal is
        an answer too (only a transient failure lets the same id run again)."""
        _check_request_id(request_id)
        self._call()
        if request_id not in self.replies:
            try:
                self.replies[request_id] = write()
            except AccountingError as exc:
                if exc.retryable:
                    raise
                self.replies[request_id] = exc
        reply = self.replies[request_id]
        if isinstance(reply, AccountingError):
            raise type(reply)(str(reply), code=reply.code)
        return reply  # type: ignore[return-value]  # one request id, one kind of write

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def _row(self, entity: Entity, row_id: str, code: str = "610") -> Record:
        row = self.rows[entity].get(row_id)
        if row is None:
            raise NotFound(f"{entity.value} {row_id} not found", code=code)
        return row

    def _ref(self, entity: Entity, row_id: str) -> Record:
        """A row a write refers to: QuickBooks answers 2500 (Invalid Reference) without it."""
        return self._row(entity, row_id, code="2500")

    def _rebalance(self, customer_id: str, change: Decimal) -> None:
        """Move a customer's balance (open invoices - credit left - unapplied payments), as
        QuickBooks does on every write that changes it, and only then."""
        customer = self.rows[Entity.CUSTOMER].get(customer_id)
        if change and isinstance(customer, CustomerRecord):
            self.put(dataclasses.replace(customer, balance=customer.balance + change))

    def _linked(
        self, customer_id: str, applied: Sequence[AppliedLine], total: Decimal
    ) -> dict[tuple[Entity, str], Decimal]:
        """What a payment applies to each invoice and credit memo, refused whole before
        anything changes, as QuickBooks refuses it."""
        if total < 0:
            raise BusinessRule("A payment's TotalAmt cannot be negative.", code="6000")
        per_row: dict[tuple[Entity, str], Decimal] = {}
        net = Decimal("0.00")
        for line in applied:
            if line.amount <= 0:
                raise BusinessRule("A payment line amount must be greater than zero.", code="6000")
            entity = Entity.INVOICE if line.txn_type == "Invoice" else Entity.CREDIT_MEMO
            row = self._ref(entity, line.txn_id)
            assert isinstance(row, InvoiceRecord | CreditMemoRecord)
            if isinstance(row, InvoiceRecord) and row.voided:
                raise NotFound(f"Invoice {line.txn_id} is voided", code="2500")
            if row.customer_id != customer_id:
                raise BusinessRule(
                    f"{entity.value} {line.txn_id} belongs to another customer.", code="6000"
                )
            per_row[(entity, row.id)] = per_row.get((entity, row.id), Decimal(0)) + line.amount
            net += line.amount if entity is Entity.INVOICE else -line.amount
        for (entity, row_id), amount in per_row.items():
            row = self.rows[entity][row_id]
            assert isinstance(row, InvoiceRecord | CreditMemoRecord)
            if amount > row.balance:
                raise BusinessRule(f"more than the open balance of {row_id}", code="6000")
        if net < 0 or net > total:
            raise BusinessRule("The payment lines do not add up to its TotalAmt.", code="6000")
        return per_row

    def _new_payment(
        self,
        customer_id: str,
        applied: Sequence[AppliedLine],
        total: Decimal,
        reference: str | None,
        txn_date: date,
    ) -> PaymentRecord:
        self._ref(Entity.CUSTOMER, customer_id)
        per_row = self._linked(customer_id, applied, total)
        payment_id = self._new_id()
        net = Decimal("0.00")
        for (entity, row_id), amount in per_row.items():
            row = self.rows[entity][row_id]
            if isinstance(row, InvoiceRecord):  # one change each, as QuickBooks makes it
                links = (*row.linked_payment_ids, payment_id)
                self.put(
                    dataclasses.replace(row, balance=row.balance - amount, linked_payment_ids=links)
                )
                net += amount
            elif isinstance(row, CreditMemoRecord):
                self.put(dataclasses.replace(row, balance=row.balance - amount))
                net -= amount
        payment = PaymentRecord(
            id=payment_id,
            sync_token=FIRST_VERSION,
            customer_id=customer_id,
            txn_date=txn_date,
            total=total,
            unapplied=total - net,
            reference=reference,
            applied=tuple(applied),
        )
        saved = self.put(payment)
        self._rebalance(customer_id, -total)
        return saved  # type: ignore[return-value]

    def record_payment(
        self,
        customer_id: str,
        applied: Sequence[AppliedLine],
        total: Decimal,
        reference: str | None,
        txn_date: date,
        request_id: str,
        deposit_account_id: str | None = None,
        payment_method_id: str | None = None,
        note: str | None = None,
    ) -> PaymentRecord:
        return self._once(
            request_id, lambda: self._new_payment(customer_id, applied, total, reference, txn_date)
        )

    def record_payments(
        self, batch: Sequence[PaymentWrite], request_id: str
    ) -> list[PaymentRecord | AccountingError]:
        if len(batch) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} items, not {len(batch)}")
        bids = [w.bid for w in batch]
        if len(set(bids)) != len(bids) or not all(bids):
            raise ValueError("every batch item needs its own non-empty bid")
        _check_request_id(request_id)
        if not batch:
            return []
        self._call()
        self.batch_calls += 1
        if request_id not in self.batch_replies:
            self.batch_replies[request_id] = {w.bid: self._batch_item(w) for w in batch}
            if self.lose_batch_answers > 0:
                self.lose_batch_answers -= 1
                raise AccountingError("injected: the batch answer was lost", retryable=True)
        first = self.batch_replies[request_id]
        missing = AccountingError("QuickBooks answered the batch without this item")
        return [first.get(w.bid, missing) for w in batch]

    def _batch_item(self, write: PaymentWrite) -> PaymentRecord | AccountingError:
        if write.bid in self.item_faults:
            return self.item_faults[write.bid]
        try:
            return self._new_payment(
                write.customer_id, write.applied, write.total, write.reference, write.txn_date
            )
        except AccountingError as exc:
            return exc

    def apply_credit(
        self,
        customer_id: str,
        invoice_id: str,
        credit_memo_id: str,
        amount: Decimal,
        request_id: str,
    ) -> PaymentRecord:
        applied = [
            AppliedLine("Invoice", invoice_id, amount),
            AppliedLine("CreditMemo", credit_memo_id, amount),
        ]
        return self.record_payment(
            customer_id, applied, Decimal("0.00"), None, self.now.date(), request_id
        )

    def create_credit_memo(
        self,
        customer_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> CreditMemoRecord:
        def write() -> CreditMemoRecord:
            self._ref(Entity.CUSTOMER, customer_id)
            self._ref(Entity.ITEM, item_id)
            memo = CreditMemoRecord(
                id=self._new_id(),
                sync_token=FIRST_VERSION,
                customer_id=customer_id,
                txn_date=self.now.date(),
                total=amount,
                balance=amount,
                doc_number=str(next(self.memo_numbers)),
            )
            saved = self.put(memo)
            self._rebalance(customer_id, -amount)
            return saved  # type: ignore[return-value]

        return self._once(request_id, write)

    def add_invoice_line(
        self,
        invoice_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> InvoiceRecord:
        invoice = self.get_invoice(invoice_id)  # read first, as the full update needs it

        def write() -> InvoiceRecord:
            item = self._ref(Entity.ITEM, item_id)
            if invoice.voided:
                raise BusinessRule(
                    f"Invoice {invoice_id} is voided and cannot be changed.", code="6000"
                )
            position = len(invoice.lines) + 1
            line = InvoiceLineRecord(
                position=position,
                amount=amount,
                line_id=str(position),
                item_id=item_id,
                item_name=item.name if isinstance(item, ItemRecord) else None,
                description=description,
                qty=Decimal(1),
                unit_price=amount,
            )
            changed = dataclasses.replace(
                invoice,
                total=invoice.total + amount,
                balance=invoice.balance + amount,
                lines=(*invoice.lines, line),
            )
            saved = self.put(changed)
            self._rebalance(invoice.customer_id, amount)
            return saved  # type: ignore[return-value]

        return self._once(request_id, write)

    def update_customer_contact(
        self, customer_id: str, email: str | None, phone: str | None, request_id: str
    ) -> CustomerRecord:
        current = self.get_customer(customer_id)  # read first, as the sparse update needs it

        def write() -> CustomerRecord:
            changed = dataclasses.replace(
                current,
                email=current.email if email is None else email,
                phone=current.phone if phone is None else phone,
            )
            return self.put(changed)  # type: ignore[return-value]

        return self._once(request_id, write)

    def update_customer_details(
        self, customer_id: str, changes: Details, seen: Details, request_id: str
    ) -> CustomerRecord:
        check_details(changes, seen)
        _check_request_id(request_id)
        rid = request_id
        for n in range(2, STALE_TRIES + 2):
            current = self.get_customer(customer_id)
            theirs = conflicts(current, changes, seen)
            if theirs:
                raise ConflictingChange(f"changed meanwhile: {', '.join(sorted(theirs))}", theirs)
            if all(same_detail(getattr(current, k), v) for k, v in changes.items()):
                return current
            edit = self.office_edits.pop(customer_id, None)
            if edit is not None:
                self.put(dataclasses.replace(current, **edit))  # type: ignore[arg-type]
            try:
                return self._once(rid, functools.partial(self._write_details, current, changes))
            except StaleObject:
                if n > STALE_TRIES:
                    raise
            rid = f"{request_id[: MAX_REQUEST_ID - 3]}-r{n}"
        raise AssertionError("unreachable")

    def _write_details(self, read: CustomerRecord, changes: Details) -> CustomerRecord:
        """The sparse update on the SyncToken read: 5010 when it moved, 6240 for a taken name."""
        now = self.get_customer(read.id)
        if now.sync_token != read.sync_token:
            raise StaleObject(f"Customer {read.id} changed since it was read", code="5010")
        values = {k: (v or "").strip() or None for k, v in changes.items()}
        name = values.get("display_name")
        if name and any(
            r.id != read.id
            and isinstance(r, CustomerRecord)
            and r.display_name.lower() == name.lower()
            for r in self.rows[Entity.CUSTOMER].values()
        ):
            raise DuplicateName(f"The name supplied already exists. ({name})", code="6240")
        changed = dataclasses.replace(now, **values)  # type: ignore[arg-type]
        return self.put(changed)  # type: ignore[return-value]


def _check_request_id(request_id: str) -> None:
    if not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise ValueError(f"request_id must be 1 to {MAX_REQUEST_ID} characters")
