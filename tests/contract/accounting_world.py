"""The same small company seeded into the fake and into the QuickBooks sandbox: two customers,
four open invoices with known totals and a "Late fee" item, with a clock each can move on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.qbo import ManualClock, QboSandbox
from sandbox.qbo import writes as qbo_writes
from sync.accounting import (
    AccountingAdapter,
    CustomerRecord,
    Entity,
    InvoiceLineRecord,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
)
from sync.fake import FakeAccounting
from sync.quickbooks import mapping

# Ada owes three invoices, Grace one; every amount in the suites is measured against these.
ADA_TOTALS = (Decimal("100.00"), Decimal("250.00"), Decimal("40.00"))
GRACE_TOTAL = Decimal("75.00")
FEE = Decimal("25.00")


@dataclass
class World:
    """An adapter over a known company, and how to move its clock on."""

    adapter: AccountingAdapter
    ada: str  # customer ids
    grace: str
    invoices: list[str]  # Ada's invoices, in the order of ADA_TOTALS
    grace_invoice: str
    item: str  # the "Late fee" service item
    today: date
    _advance: Callable[[], datetime]
    _void: Callable[[str], None]
    # someone in the office changes a customer's details now / between our next read and write
    _edit: Callable[[str, dict[str, str | None]], None]
    _edit_next: Callable[[str, dict[str, str | None]], None]

    def moment(self) -> datetime:
        """A moment (aware) strictly before every write made after this call."""
        return self._advance()

    def void(self, invoice_id: str) -> None:
        """Void an invoice as the bookkeeper would in QuickBooks."""
        self._void(invoice_id)

    def edit_customer(self, customer_id: str, **details: str | None) -> None:
        """Change a customer's details as the bookkeeper would in QuickBooks, now."""
        self._edit(customer_id, details)

    def edit_customer_mid_write(self, customer_id: str, **details: str | None) -> None:
        """The same, between the adapter's next read of the customer and its write (5010)."""
        self._edit_next(customer_id, details)

    def payments(self) -> list[PaymentRecord]:
        """Every Payment in the company."""
        rows = [r for page in self.adapter.pages(Entity.PAYMENT) for r in page]
        return [r for r in rows if isinstance(r, PaymentRecord)]


def fake_world() -> World:
    """The company in a FakeAccounting, written with put()."""
    fake = FakeAccounting("contract-realm")
    today = fake.now.date()
    fake.put(ItemRecord("1", "0", "Late fee", unit_price=FEE, description="Late payment fee"))
    ada_owes = sum(ADA_TOTALS, Decimal("0.00"))
    fake.put(CustomerRecord("1", "0", "Ada Lovelace", "ada@example.com", balance=ada_owes))
    fake.put(CustomerRecord("2", "0", "Grace Hopper", "grace@example.com", balance=GRACE_TOTAL))
    owed = [("1", total) for total in ADA_TOTALS] + [("2", GRACE_TOTAL)]
    for number, (customer_id, total) in enumerate(owed, start=1):
        line = InvoiceLineRecord(
            position=1,
            amount=total,
            line_id="1",
            item_id="1",
            item_name="Late fee",
            qty=Decimal(1),
            unit_price=total,
        )
        fake.put(
            InvoiceRecord(
                id=str(number),
                sync_token="0",
                customer_id=customer_id,
                txn_date=today,
                total=total,
                balance=total,
                doc_number=str(1000 + number),
                due_date=today + timedelta(days=30),
                email_status="NotSet",
                lines=(line,),
            )
        )

    def advance() -> datetime:
        return fake.tick(60)  # every write ticks on by a second more

    def void(invoice_id: str) -> None:
        invoice = fake.get_invoice(invoice_id)
        assert not invoice.linked_payment_ids  # a plain void: nothing to unlink
        zeroed = tuple(dataclasses.replace(ln, amount=Decimal("0.00")) for ln in invoice.lines)
        fake.put(
            dataclasses.replace(
                invoice, total=Decimal("0.00"), balance=Decimal("0.00"), voided=True, lines=zeroed
            )
        )
        customer = fake.get_customer(invoice.customer_id)
        fake.put(dataclasses.replace(customer, balance=customer.balance - invoice.balance))

    def edit(customer_id: str, details: dict[str, str | None]) -> None:
        fake.put(dataclasses.replace(fake.get_customer(customer_id), **details))  # type: ignore[arg-type]

    def edit_next(customer_id: str, details: dict[str, str | None]) -> None:
        fake.office_edits[customer_id] = details

    return World(fake, "1", "2", ["1", "2", "3"], "4", "1", today, advance, void, edit, edit_next)


def sandbox_world(sandbox: QboSandbox, clock: ManualClock, adapter: AccountingAdapter) -> World:
    """The company in the QuickBooks sandbox, written through its own write path."""
    with sandbox.state.lock:
        company = sandbox.state.companies[adapter.realm_id]

        def create(entity: str, body: dict[str, Any]) -> str:
            return str(qbo_writes.create(company, entity, body)["Id"])

        income = company.find_name("Account", "Late Fee Income") or company.find_name(
            "Account", "Services"
        )
        item = create(
            "Item",
            {
                "Name": "Late fee",
                "Type": "Service",
                "Description": "Late payment fee",
                "UnitPrice": str(FEE),
                "IncomeAccountRef": {"value": income},
            },
        )
        ada = create(
            "Customer",
            {"DisplayName": "Ada Lovelace", "PrimaryEmailAddr": {"Address": "ada@example.com"}},
        )
        grace = create(
            "Customer",
            {"DisplayName": "Grace Hopper", "PrimaryEmailAddr": {"Address": "grace@example.com"}},
        )
        owed = [(ada, total) for total in ADA_TOTALS] + [(grace, GRACE_TOTAL)]
        ids = [create("Invoice", _invoice_body(customer, item, total)) for customer, total in owed]
        today = date.fromisoformat(company.today())
        company.drain_events()

    def advance() -> datetime:
        moment = clock.advance(60)
        clock.advance(1)  # QuickBooks stamps to the second: later writes are strictly after
        return moment

    def void(invoice_id: str) -> None:
        with sandbox.state.lock:
            row = company.rows["Invoice"][invoice_id]
            qbo_writes.void(company, "Invoice", dict(row))
            company.drain_events()

    def office_fields(customer_id: str, details: dict[str, str | None]) -> dict[str, Any]:
        row = company.rows["Customer"][customer_id]
        body = mapping.details_body(row, details)
        return {k: v for k, v in body.items() if k not in ("Id", "SyncToken", "sparse")}

    def edit(customer_id: str, details: dict[str, str | None]) -> None:
        with sandbox.state.lock:
            row = company.rows["Customer"][customer_id]
            body = {"Id": customer_id, "SyncToken": row["SyncToken"], "sparse": True}
            qbo_writes.update(company, "Customer", body | office_fields(customer_id, details))
            company.drain_events()

    def edit_next(customer_id: str, details: dict[str, str | None]) -> None:
        with sandbox.state.lock:
            changes = office_fields(customer_id, details)
        sandbox.state.faults.edit_before_next_writes(1, changes)

    return World(adapter, ada, grace, ids[:3], ids[3], item, today, advance, void, edit, edit_next)


def _invoice_body(customer_id: str, item_id: str, total: Decimal) -> dict[str, Any]:
    detail = {"ItemRef": {"value": item_id}, "Qty": 1, "UnitPrice": str(total)}
    return {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "Amount": str(total),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        ],
    }
