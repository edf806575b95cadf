"""The accounting-adapter interface and the records that cross it (never SDK objects)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


class Entity(enum.StrEnum):
    """The QuickBooks entities the portal mirrors."""

    CUSTOMER = "Customer"
    INVOICE = "Invoice"
    PAYMENT = "Payment"
    CREDIT_MEMO = "CreditMemo"
    ITEM = "Item"


@dataclass(frozen=True)
class CustomerRecord:
    """A customer as QuickBooks has it."""

    id: str
    sync_token: str
    display_name: str
    email: str | None = None
    phone: str | None = None
    bill_line1: str | None = None
    bill_city: str | None = None
    bill_region: str | None = None
    bill_postal_code: str | None = None
    balance: Decimal = Decimal("0.00")
    active: bool = True
    updated_at: datetime | None = None
    # A sub-customer (QuickBooks: Job, ParentRef, Level, BillWithParent).
    parent_id: str | None = None
    bill_with_parent: bool = False
    level: int = 0
    company_name: str | None = None
    bill_line2: str | None = None
    bill_country: str | None = None  # as QuickBooks holds it: free text ("USA", "Canada")
    # The service address (QuickBooks' ShipAddr: one per customer; a sub-customer has its own)
    ship_line1: str | None = None
    ship_line2: str | None = None
    ship_city: str | None = None
    ship_region: str | None = None
    ship_postal_code: str | None = None
    ship_country: str | None = None


# The details of a customer the portal lets people edit, by their CustomerRecord names.
DETAIL_FIELDS = (
    "display_name",
    "company_name",
    "email",
    "phone",
    "bill_line1",
    "bill_line2",
    "bill_city",
    "bill_region",
    "bill_postal_code",
    "bill_country",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
)

# Some of those details, by name; None (or "") is a blank field.
Details = Mapping[str, str | None]


def details_of(record: CustomerRecord) -> dict[str, str | None]:
    """Every editable detail of a customer record."""
    return {name: getattr(record, name) for name in DETAIL_FIELDS}


def same_detail(a: str | None, b: str | None) -> bool:
    """Whether two values of a detail say the same (blank is blank; spaces around ignored)."""
    return (a or "").strip() == (b or "").strip()


def check_details(changes: Details, seen: Details) -> None:
    """Refuse (ValueError) changes to unknown fields, or without what the caller saw of them."""
    unknown = sorted(set(changes) - set(DETAIL_FIELDS))
    if unknown:
        raise ValueError(f"not customer details: {', '.join(unknown)}")
    if not changes:
        raise ValueError("no details to change")
    missing = sorted(set(changes) - set(seen))
    if missing:
        raise ValueError(f"what was seen of {', '.join(missing)} is missing")
    if "display_name" in changes and not (changes["display_name"] or "").strip():
        raise ValueError("a customer's display name cannot be blank")


def conflicts(current: CustomerRecord, changes: Details, seen: Details) -> dict[str, str | None]:
    """The changed fields someone else changed too since the caller saw them: field → their
    value now. A field already holding the wanted value is no conflict (an earlier try of the
    same change, or the same edit made twice)."""
    theirs: dict[str, str | None] = {}
    for name, wanted in changes.items():
        now = getattr(current, name)
        if not same_detail(now, seen.get(name)) and not same_detail(now, wanted):
            theirs[name] = now
    return theirs


@dataclass(frozen=True)
class InvoiceLineRecord:
    """One sales line of an invoice."""

    position: int
    amount: Decimal
    line_id: str | None = None
    detail_type: str = "SalesItemLineDetail"
    item_id: str | None = None
    item_name: str | None = None
    description: str | None = None
    qty: Decimal | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice as QuickBooks has it."""

    id: str
    sync_token: str
    customer_id: str
    txn_date: date
    total: Decimal
    balance: Decimal
    doc_number: str | None = None
    due_date: date | None = None
    currency: str = "USD"
    email_status: str | None = None
    voided: bool = False
    lines: tuple[InvoiceLineRecord, ...] = ()
    updated_at: datetime | None = None
    # Payments linked to it (LinkedTxn): those its balance already counts.
    linked_payment_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppliedLine:
    """Part of a payment applied to one transaction (an Invoice or a CreditMemo)."""

    txn_type: str
    txn_id: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentRecord:
    """A payment received, applied to invoices."""

    id: str
    sync_token: str
    customer_id: str
    txn_date: date
    total: Decimal
    unapplied: Decimal = Decimal("0.00")
    reference: str | None = None
    applied: tuple[AppliedLine, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CreditMemoRecord:
    """A credit memo and what is left of it."""

    id: str
    sync_token: str
    customer_id: str
    txn_date: date
    total: Decimal
    balance: Decimal
    doc_number: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ItemRecord:
    """A product or service of the catalog."""

    id: str
    sync_token: str
    name: str
    type: str = "Service"
    unit_price: Decimal | None = None
    description: str | None = None
    active: bool = True
    updated_at: datetime | None = None


# QuickBooks takes at most this many items in one batch request.
MAX_BATCH = 30


@dataclass(frozen=True)
class PaymentWrite:
    """One payment to record in a batch; `bid` tells its answer apart from the others'."""

    bid: str
    customer_id: str
    applied: tuple[AppliedLine, ...]
    total: Decimal
    reference: str | None
    txn_date: date
    deposit_account_id: str | None = None
    payment_method_id: str | None = None
    note: str | None = None


Record = CustomerRecord | InvoiceRecord | PaymentRecord | CreditMemoRecord | ItemRecord


@dataclass(frozen=True)
class Deleted:
    """A row QuickBooks reports as deleted."""

    entity: Entity
    id: str


@dataclass
class ChangeSet:
    """What changed since a point in time (one CDC answer)."""

    records: dict[Entity, list[Record]] = field(default_factory=dict)
    deleted: list[Deleted] = field(default_factory=list)
    # CDC answers at most this many objects; reaching it means the window must shrink.
    truncated: bool = False

    @property
    def size(self) -> int:
        """How many objects the answer held."""
        return sum(len(v) for v in self.records.values()) + len(self.deleted)


class AccountingError(Exception):
    """QuickBooks refused or failed; `code` is its Fault code when there is one."""

    def __init__(self, message: str, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class AuthorizationLost(AccountingError):
    """The QuickBooks connection must be made again by an admin (refresh token revoked)."""


class NotFound(AccountingError):
    """The object (or one it refers to) does not exist: deleted, or never there."""


class StaleObject(AccountingError):
    """Someone changed the object since it was read (its SyncToken moved)."""


class ConflictingChange(AccountingError):
    """The fields being changed were changed in the accounting system too since the portal
    saw them: `theirs` holds their values there now (nothing was written)."""

    def __init__(self, message: str, theirs: Mapping[str, str | None]) -> None:
        super().__init__(message, code="conflict")
        self.theirs = dict(theirs)


class BusinessRule(AccountingError):
    """Refused by the accounting system's own rules (e.g. more than an open balance)."""


class DuplicateName(AccountingError):
    """Another row of the name list already has that name (a customer's DisplayName)."""


class Throttled(AccountingError):
    """Too many requests; try again later."""


# QuickBooks Fault codes that have a type of their own.
_BY_CODE: dict[str, type[AccountingError]] = {
    "610": NotFound,  # Object Not Found
    "2500": NotFound,  # Invalid Reference Id: it refers to a row that is not there
    "5010": StaleObject,
    "6000": BusinessRule,
    "6240": DuplicateName,
    "3001": Throttled,
}


def refusal(message: str, code: str | None, retryable: bool = False) -> AccountingError:
    """The typed error for a Fault code (the code is kept for the words and the logs)."""
    kind = _BY_CODE.get(code or "", AccountingError)
    return kind(message, code=code, retryable=retryable)


class WindowTooOld(AccountingError):
    """CDC cannot look back that far; a full mirror is needed."""


class AccountingAdapter(Protocol):
    """What the portal needs from an accounting system."""

    realm_id: str

    def pages(
        self,
        entity: Entity,
        page_size: int = 1000,
        start: int = 1,
        changed_since: datetime | None = None,
    ) -> Iterator[Sequence[Record]]:
        """Rows of an entity (active and inactive), a page at a time, oldest change first,
        from the 1-based position `start`; only those changed at or after `changed_since`."""
        ...

    def changes_since(self, entities: Sequence[Entity], since: datetime) -> ChangeSet:
        """What changed after `since` (CDC); WindowTooOld past 30 days."""
        ...

    def company_name(self) -> str:
        """The company's name as its books show it (QuickBooks: CompanyInfo.CompanyName)."""
        ...

    def get_customer(self, customer_id: str) -> CustomerRecord:
        """One customer, fresh."""
        ...

    def get_invoice(self, invoice_id: str) -> InvoiceRecord:
        """One invoice, fresh."""
        ...

    def invoice_pdf(self, invoice_id: str) -> bytes:
        """The invoice as QuickBooks prints it."""
        ...

    def find_payments(self, customer_id: str, reference: str) -> list[PaymentRecord]:
        """The customer's Payments whose PaymentRefNum is `reference` (a write whose answer
        was lost is found, and adopted, instead of being written twice)."""
        ...

    # Writes: `request_id` (at most 50 characters) makes each one idempotent, so a caller
    # retrying after a lost answer repeats the same id and the write happens once. A batch is
    # idempotent as a whole: a repeat (even of only some of its items) replays the first answer,
    # and an item that faulted comes back as its AccountingError (with the fault code).

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
        """Record a payment received, applied to invoices; what is not applied stays unapplied."""
        ...

    def record_payments(
        self, batch: Sequence[PaymentWrite], request_id: str
    ) -> list[PaymentRecord | AccountingError]:
        """Record up to MAX_BATCH payments in one request; one answer per item, in order."""
        ...

    def apply_credit(
        self,
        customer_id: str,
        invoice_id: str,
        credit_memo_id: str,
        amount: Decimal,
        request_id: str,
    ) -> PaymentRecord:
        """Apply part of a credit memo to an invoice (a zero-total payment linking both)."""
        ...

    def create_credit_memo(
        self,
        customer_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> CreditMemoRecord:
        """A credit memo of one line for a customer."""
        ...

    def add_invoice_line(
        self,
        invoice_id: str,
        item_id: str,
        amount: Decimal,
        description: str | None,
        request_id: str,
    ) -> InvoiceRecord:
        """Append a line (a late fee, say) to an invoice."""
        ...

    def update_customer_contact(
        self, customer_id: str, email: str | None, phone: str | None, request_id: str
    ) -> CustomerRecord:
        """Change a customer's e-mail address and phone; None leaves one as it is."""
        ...

    def update_customer_details(
        self, customer_id: str, changes: Details, seen: Details, request_id: str
    ) -> CustomerRecord:
        """Change only the `changes` fields (a sparse update on the current SyncToken; blank
        clears one). `seen` holds what the caller saw of each before: when a changed field
        holds neither that nor the wanted value (someone changed it meanwhile, before the
        read or between the read and the write, 5010) ConflictingChange is raised and nothing
        is written; a change of other fields meanwhile is kept and ours applied on top."""
        ...
