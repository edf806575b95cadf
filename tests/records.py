"""Builders of accounting records for tests of the mirror and the portal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sync.accounting import (
    AppliedLine,
    CreditMemoRecord,
    CustomerRecord,
    InvoiceLineRecord,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
)


def customer(cid: str, name: str | None = None, balance: str = "0.00") -> CustomerRecord:
    return CustomerRecord(
        id=cid,
        sync_token="0",
        display_name=name or f"Customer {cid}",
        email=f"c{cid}@example.com",
        balance=Decimal(balance),
    )


def invoice(
    iid: str, cid: str, total: str = "100.00", balance: str | None = None, lines: int = 2
) -> InvoiceRecord:
    amount = Decimal(total)
    each = (amount / lines).quantize(Decimal("0.01"))
    parts = [each] * (lines - 1) + [amount - each * (lines - 1)]
    return InvoiceRecord(
        id=iid,
        sync_token="0",
        customer_id=cid,
        txn_date=date(2026, 1, 5),
        due_date=date(2026, 2, 4),
        total=amount,
        balance=Decimal(balance) if balance is not None else amount,
        doc_number=f"D{iid}",
        lines=tuple(
            InvoiceLineRecord(
                position=n,
                amount=p,
                item_id="1",
                item_name="Monthly service",
                qty=Decimal(1),
                unit_price=p,
            )
            for n, p in enumerate(parts, start=1)
        ),
    )


def payment(pid: str, cid: str, applied: dict[str, str]) -> PaymentRecord:
    total = sum((Decimal(v) for v in applied.values()), Decimal("0.00"))
    return PaymentRecord(
        id=pid,
        sync_token="0",
        customer_id=cid,
        txn_date=date(2026, 1, 20),
        total=total,
        applied=tuple(AppliedLine("Invoice", k, Decimal(v)) for k, v in applied.items()),
    )


def credit_memo(mid: str, cid: str, total: str = "10.00") -> CreditMemoRecord:
    return CreditMemoRecord(
        id=mid,
        sync_token="0",
        customer_id=cid,
        txn_date=date(2026, 1, 9),
        total=Decimal(total),
        balance=Decimal(total),
    )


def item(iid: str, name: str, price: str = "50.00") -> ItemRecord:
    return ItemRecord(id=iid, sync_token="0", name=name, unit_price=Decimal(price))
